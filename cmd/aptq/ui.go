package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// On a terminal the live line is redrawn this often: often enough for a
// smooth upload bar, rarely enough to cost nothing.
const redrawInterval = 150 * time.Millisecond

// ui shows progress on one stream, stderr: log lines, a live status line
// while a job is followed, and upload progress. On a terminal the status and
// the upload bar are one line rewritten in place ("\r\033[K"); anywhere else
// (a CI log, a file, a pipe) every change is a plain line and nothing is
// redrawn, so logs hold no control characters. --quiet silences all of it.
type ui struct {
	w     io.Writer
	tty   bool
	quiet bool
	width int

	mu       sync.Mutex
	live     func(time.Time) string // the live line's text; nil when none
	drawn    string                 // what the live line shows now ("" = nothing)
	status   string                 // the last status, to print changes only
	openLine bool                   // plain mode: a line was begun ("uploading x… ")
	stop     chan struct{}          // stops the redraw loop; nil when not running
	stopped  chan struct{}
}

// newUI sets up progress on w. A terminal is recognised on w itself (the
// stream drawn on), and not when TERM is "dumb".
func newUI(w io.Writer, quiet bool, getenv func(string) string) *ui {
	u := &ui{w: w, quiet: quiet, width: 80}
	if f, ok := w.(interface{ Fd() uintptr }); ok && getenv("TERM") != "dumb" && term.IsTerminal(int(f.Fd())) {
		u.tty = true
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 20 {
			u.width = width
		}
	}
	return u
}

// Logf prints a line that stays.
func (u *ui) Logf(format string, args ...any) {
	if u.quiet {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearLocked()
	fmt.Fprintf(u.w, format+"\n", args...)
	u.drawLocked(time.Now())
}

// Status sets the live status. On a terminal it replaces the previous one,
// with the time it has held; elsewhere each new status is a line.
func (u *ui) Status(msg string) {
	if u.quiet {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if msg == u.status {
		return
	}
	u.status = msg
	if !u.tty {
		u.endLineLocked()
		fmt.Fprintln(u.w, msg)
		return
	}
	since := time.Now()
	u.setLiveLocked(func(now time.Time) string {
		if d := now.Sub(since); d >= time.Second {
			return fmt.Sprintf("%s (%s)", msg, d.Truncate(time.Second))
		}
		return msg
	})
}

// Busy shows msg as the live line on a terminal only: for short waits
// (hashing a file) that would be noise in a log.
func (u *ui) Busy(msg string) {
	if u.tty {
		u.Status(msg)
	}
}

// ClearStatus takes the live status off the terminal, e.g. before the
// result is printed on stdout, which may be the same terminal.
func (u *ui) ClearStatus() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.status = ""
	u.clearLocked()
	u.live = nil
}

// Close stops redrawing and leaves the terminal on a clean line.
func (u *ui) Close() {
	u.mu.Lock()
	u.clearLocked()
	u.endLineLocked()
	u.live = nil
	stop, stopped := u.stop, u.stopped
	u.stop = nil
	u.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
}

func (u *ui) setLiveLocked(live func(time.Time) string) {
	u.live = live
	u.drawLocked(time.Now())
	if u.stop == nil {
		u.stop, u.stopped = make(chan struct{}), make(chan struct{})
		go u.redrawLoop(u.stop, u.stopped)
	}
}

func (u *ui) redrawLoop(stop, stopped chan struct{}) {
	defer close(stopped)
	t := time.NewTicker(redrawInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			u.mu.Lock()
			u.drawLocked(now)
			u.mu.Unlock()
		}
	}
}

// drawLocked shows the live line, cut to the terminal's width: a line that
// wraps could not be rewritten in place.
func (u *ui) drawLocked(now time.Time) {
	if !u.tty || u.live == nil {
		return
	}
	text := u.live(now)
	if r := []rune(text); len(r) > u.width-1 {
		text = string(r[:u.width-2]) + "…"
	}
	if text == u.drawn {
		return
	}
	fmt.Fprint(u.w, "\r\033[K"+text)
	u.drawn = text
}

func (u *ui) clearLocked() {
	if u.drawn != "" {
		fmt.Fprint(u.w, "\r\033[K")
		u.drawn = ""
	}
	u.endLineLocked()
}

// endLineLocked ends a plain line left open for its "done".
func (u *ui) endLineLocked() {
	if u.openLine {
		fmt.Fprintln(u.w)
		u.openLine = false
	}
}

// transfer is one upload: an io.Reader and io.Seeker over the content that
// counts what was read, for the progress bar. Retries seek back, and so
// reset the count.
type transfer struct {
	u     *ui
	r     io.Reader
	name  string
	total int64
	start time.Time
	sent  atomic.Int64
}

var _ io.ReadSeeker = (*transfer)(nil)

func (t *transfer) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.sent.Add(int64(n))
	return n, err
}

// Seek fails when the content cannot seek; the client then sends it once.
func (t *transfer) Seek(offset int64, whence int) (int64, error) {
	s, ok := t.r.(io.Seeker)
	if !ok {
		return 0, fmt.Errorf("cannot rewind %T", t.r)
	}
	pos, err := s.Seek(offset, whence)
	if err == nil {
		t.sent.Store(pos)
	}
	return pos, err
}

// Upload starts showing the upload of r (name, total bytes): a bar on a
// terminal, "uploading NAME (SIZE)… " elsewhere; the returned transfer is
// what to send.
func (u *ui) Upload(r io.Reader, name string, total int64) *transfer {
	t := &transfer{u: u, r: r, name: name, total: total, start: time.Now()}
	if s, ok := r.(io.Seeker); ok {
		if pos, err := s.Seek(0, io.SeekCurrent); err == nil {
			t.sent.Store(pos)
		}
	}
	if u.quiet {
		return t
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.tty {
		u.endLineLocked()
		fmt.Fprintf(u.w, "uploading %s (%s)… ", name, formatBytes(total))
		u.openLine = true
		return t
	}
	u.status = "" // the bar replaces any status
	u.setLiveLocked(t.bar)
	return t
}

// Done ends the transfer's display with what the server made of the file.
func (t *transfer) Done(result string) {
	u := t.u
	if u.quiet {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.tty {
		if u.openLine {
			fmt.Fprintf(u.w, "done: %s\n", result)
			u.openLine = false
			return
		}
		fmt.Fprintf(u.w, "uploading %s… done: %s\n", t.name, result)
		return
	}
	u.clearLocked()
	u.live = nil
	fmt.Fprintf(u.w, "uploaded %s (%s) in %s: %s\n", t.name, formatBytes(t.total),
		time.Since(t.start).Round(100*time.Millisecond), result)
}

// Fail ends the transfer's display; the error is reported by the caller.
func (t *transfer) Fail() {
	u := t.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.openLine {
		fmt.Fprintln(u.w, "failed")
		u.openLine = false
	}
	if u.tty {
		u.clearLocked()
		u.live = nil
	}
}

// tailReserve is the room kept for the numbers after the bar, so that the
// bar keeps its width while they change.
const tailReserve = 36

// bar renders "NAME [=====>    ]  45%  12.1 MiB/27.0 MiB  5.1 MiB/s".
func (t *transfer) bar(now time.Time) string {
	sent, total := t.sent.Load(), t.total
	elapsed := now.Sub(t.start).Seconds()
	rate := ""
	if elapsed >= 0.5 {
		rate = "  " + formatBytes(int64(float64(sent)/elapsed)) + "/s"
	}
	if total <= 0 {
		return fmt.Sprintf("%s  %s%s", t.name, formatBytes(sent), rate)
	}
	sent = min(sent, total)
	tail := fmt.Sprintf(" %3d%%  %s/%s%s", sent*100/total, formatBytes(sent), formatBytes(total), rate)
	name := []rune(t.name)
	avail := t.u.width - 1 - tailReserve - 3 // for the name and the bar, less " [" and "]"
	if half := avail / 2; len(name) > half && half >= 10 {
		name = append(name[:half-1], '…') // a long name leaves room for the bar
	}
	if barWidth := min(30, avail-len(name)); barWidth >= 10 {
		filled := int(int64(barWidth) * sent / total)
		b := strings.Repeat("=", filled)
		if filled < barWidth {
			b += ">" + strings.Repeat(" ", barWidth-filled-1)
		}
		return fmt.Sprintf("%s [%s]%s", string(name), b, tail)
	}
	// Too narrow for a bar: the numbers matter more than the name.
	if room := t.u.width - 1 - len(tail); len(name) > room && room > 3 {
		name = append(name[:room-1], '…')
	}
	return string(name) + tail
}

// formatBytes prints a size in binary units: "512 B", "12.1 MiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
