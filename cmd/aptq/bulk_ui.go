package main

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// bulkProgress shows the uploads of a bulk publish: on a terminal one live
// line for all of them (files done of total, bytes, rate), elsewhere one
// line per file as it ends, as single uploads show. Uploads run in
// parallel, so no line is left open for a "done".
type bulkProgress struct {
	u            *ui
	files, total int64
	start        time.Time
	done, failed atomic.Int64
	sent         atomic.Int64 // bytes read for uploads, retries included
}

// BulkUpload starts showing the upload of files files of total bytes.
func (u *ui) BulkUpload(files int, total int64) *bulkProgress {
	p := &bulkProgress{u: u, files: int64(files), total: total, start: time.Now()}
	if u.quiet || !u.tty {
		return p
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.status = ""
	u.setLiveLocked(p.line)
	return p
}

// line renders "uploading 120/2500 files  12.1 MiB/200.0 MiB  5.1 MiB/s".
func (p *bulkProgress) line(now time.Time) string {
	sent := min(p.sent.Load(), p.total)
	text := fmt.Sprintf("uploading %d/%d files  %s/%s", p.done.Load()+p.failed.Load(), p.files,
		formatBytes(sent), formatBytes(p.total))
	if elapsed := now.Sub(p.start).Seconds(); elapsed >= 0.5 {
		text += "  " + formatBytes(int64(float64(sent)/elapsed)) + "/s"
	}
	if n := p.failed.Load(); n > 0 {
		text += fmt.Sprintf("  (%d failed)", n)
	}
	return text
}

// Done counts a file uploaded; off a terminal it is a line, with what the
// server made of the file.
func (p *bulkProgress) Done(label string, size int64, result string) {
	p.done.Add(1)
	if !p.u.tty {
		p.u.Logf("uploading %s (%s)… done: %s", label, formatBytes(size), result)
	}
}

// Failed counts a file whose upload failed, and says why, everywhere.
func (p *bulkProgress) Failed(label, reason string) {
	p.failed.Add(1)
	p.u.Logf("uploading %s… failed: %s", label, reason)
}

// Close ends the live line with a summary on a terminal.
func (p *bulkProgress) Close() {
	u := p.u
	if u.quiet || !u.tty {
		return
	}
	u.mu.Lock()
	u.clearLocked()
	u.live = nil
	u.mu.Unlock()
	u.Logf("uploaded %d of %d files (%s) in %s", p.done.Load(), p.files, formatBytes(min(p.sent.Load(), p.total)),
		time.Since(p.start).Round(100*time.Millisecond))
}

// reader counts what is read from r for the live line. It seeks when r
// does, so that the client can rewind it to retry an upload.
func (p *bulkProgress) reader(r io.Reader) io.Reader {
	return &countingReader{r: r, n: &p.sent}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// Seek fails on a reader that cannot seek; the client then sends it once.
func (c *countingReader) Seek(offset int64, whence int) (int64, error) {
	s, ok := c.r.(io.Seeker)
	if !ok {
		return 0, fmt.Errorf("cannot rewind %T", c.r)
	}
	return s.Seek(offset, whence)
}
