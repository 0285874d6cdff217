package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aptq/aptq/internal/systest"
)

// proc is one aptqd process the driver may kill, pause and restart. Its
// output goes to a log file that survives restarts.
type proc struct {
	name    string
	args    []string
	env     []string
	logPath string
	events  *eventLog

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current process has exited
	paused   bool
	expected bool // the current process is meant to exit (we killed or stopped it)
	starts   int
	// unexpected lists exits nobody asked for: a process that died by itself.
	unexpected []string
	exitErr    error // how the last process exited (nil: status 0)
}

// start starts the process; it must not be running.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is already running", p.name)
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.starts++
	fmt.Fprintf(f, "=== chaos: start #%d of %s at %s\n", p.starts, p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so a terminal's ^C reaches only the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.paused, p.expected = cmd, done, false, false
	go func() {
		err := cmd.Wait()
		f.Close()
		last := strings.TrimSpace(p.logTail(1500))
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.expected {
			msg := fmt.Sprintf("%s (pid %d) exited by itself: %v; its log ends: %s", p.name, cmd.Process.Pid, err, last)
			p.unexpected = append(p.unexpected, msg)
			p.events.add("%s", msg)
		}
		if p.cmd == cmd {
			p.cmd = nil
		}
		p.exitErr = err
		close(done)
	}()
	return nil
}

// pid is the running process's id, 0 when it is not running.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *proc) running() bool { return p.pid() != 0 }

func (p *proc) isPaused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

// signal sends sig to the running process and returns its pid and the
// channel closed at its exit.
func (p *proc) signal(sig syscall.Signal, expectExit bool) (int, chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0, nil, fmt.Errorf("%s is not running", p.name)
	}
	if expectExit {
		p.expected = true
	}
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
	err := p.cmd.Process.Signal(sig)
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, nil, fmt.Errorf("signal %s: %w", p.name, err)
	}
	return p.cmd.Process.Pid, p.done, nil
}

// kill sends SIGKILL and waits for the exit; it returns the pid killed.
func (p *proc) kill() (int, error) {
	pid, done, err := p.signal(syscall.SIGKILL, true)
	if err != nil {
		return 0, err
	}
	select {
	case <-done:
		return pid, nil
	case <-time.After(30 * time.Second):
		return pid, fmt.Errorf("%s (pid %d) did not die of SIGKILL", p.name, pid)
	}
}

// terminate sends SIGTERM, as a deployment does, and waits up to timeout
// for the exit: it returns how long the process took to exit and how it
// did (nil: status 0). Past timeout it kills the process and says so.
func (p *proc) terminate(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	pid, done, err := p.signal(syscall.SIGTERM, true)
	if err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(timeout):
		_, _ = p.kill()
		return time.Since(start), fmt.Errorf("%s (pid %d) did not exit within %v of SIGTERM", p.name, pid, timeout)
	}
	took := time.Since(start)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exitErr != nil {
		return took, fmt.Errorf("%s (pid %d) exited after SIGTERM: %w", p.name, pid, p.exitErr)
	}
	return took, nil
}

// pause stops the process (SIGSTOP); resume continues it.
func (p *proc) pause() (int, error) {
	pid, _, err := p.signal(syscall.SIGSTOP, false)
	return pid, err
}

func (p *proc) resume() error {
	_, _, err := p.signal(syscall.SIGCONT, false)
	return err
}

// stop ends the process for good: SIGCONT (it may be paused), SIGINT for a
// clean shutdown, SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	_, _, _ = p.signal(syscall.SIGCONT, true)
	_, done, err := p.signal(syscall.SIGINT, true)
	if err != nil {
		return
	}
	select {
	case <-done:
	case <-time.After(grace):
		_, _ = p.kill()
	}
}

// unexpectedExits lists the exits nobody asked for.
func (p *proc) unexpectedExits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.unexpected...)
}

// startCount is how many times the process was started.
func (p *proc) startCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// logCount counts the lines of the process's log (all its starts) that
// contain s.
func (p *proc) logCount(s string) int {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return 0
	}
	return strings.Count(string(data), s)
}

// logTail returns the end of the process's log file.
func (p *proc) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	return systest.Tail(string(data), n)
}
