package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// openPTY opens a pseudo-terminal and returns its two ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("ptsname: %v", e)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	return master, slave
}

// TestProgressOnTerminal runs pkg add with stderr on a real terminal: the
// live status and the upload are drawn in place there, while stdout (a
// pipe) gets only the result.
func TestProgressOnTerminal(t *testing.T) {
	t.Parallel()
	master, slave := openPTY(t)
	drawn := make(chan string)
	go func() {
		var out bytes.Buffer
		_, _ = io.Copy(&out, master) // ends with EIO once the slave is closed
		drawn <- out.String()
	}()

	b := setupPkg(t, publishes)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	var stdout bytes.Buffer
	code := run(t.Context(), []string{"pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, hello},
		func(k string) string { return b.env[k] }, strings.NewReader(""), &stdout, slave)
	require.NoError(t, slave.Close())
	out := <-drawn
	_ = master.Close()

	require.Equal(t, exitOK, code, out)
	require.Equal(t, "published generation 42: "+fakeRepoURL+"\n", stdout.String())
	require.Contains(t, out, "\r\x1b[Khello.deb [>")
	require.Contains(t, out, "\r\x1b[Kuploaded hello.deb (702 B) in ")
	require.Contains(t, out, "\r\x1b[Kjob 17: queued")
	require.Contains(t, out, "\r\x1b[Kjob 17: published generation 42")
	require.True(t, strings.HasSuffix(out, "\r\x1b[K"), "the status is cleared before the result: %q", out)
}

func TestTerminalDetection(t *testing.T) {
	t.Parallel()
	master, slave := openPTY(t)
	defer master.Close()
	defer slave.Close()
	env := func(term string) func(string) string {
		return func(k string) string { return map[string]string{"TERM": term}[k] }
	}
	require.True(t, newUI(slave, false, env("xterm")).tty)
	require.False(t, newUI(slave, false, env("dumb")).tty, "TERM=dumb cannot redraw")
	require.False(t, newUI(&bytes.Buffer{}, false, env("xterm")).tty)
}
