package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the ui's redraw goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgressWithoutTerminal(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, hello)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.NotContains(t, res.stderr, "\r", "no redrawing in a log")
	require.NotContains(t, res.stderr, "\x1b", "no escape sequences in a log")
	require.Contains(t, res.stderr, "uploading hello.deb (702 B)… done: hello 1.0 amd64\n")
	require.Contains(t, res.stderr, "job 17: published generation 42\n")
}

func TestQuiet(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	hello, _ := b.deb(t, "hello.deb", "hello deb")
	res := runCLI(t, b.env, "pkg", "add", "--repo", "acme", "--release", "stable", "--key", b.keyPath, "--quiet", hello)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Empty(t, res.stderr)
	require.Equal(t, "published generation 42: "+fakeRepoURL+"\n", res.stdout)

	b = setupPkg(t, fails)
	res = runCLI(t, b.env, "release", "resign", "--repo", "acme", "--release", "stable", "--key", b.keyPath, "-q")
	require.Equal(t, exitFailed, res.code)
	require.Equal(t, "aptq: signature_timeout: job 17 failed: no signature within 120s\n", res.stderr,
		"errors still print")
}

// ttyUI is a ui that believes its buffer is a terminal.
func ttyUI() (*ui, *syncBuffer) {
	var buf syncBuffer
	u := newUI(&buf, false, func(string) string { return "" })
	u.tty, u.width = true, 80
	return u, &buf
}

func TestTerminalStatusRewritesOneLine(t *testing.T) {
	t.Parallel()
	u, buf := ttyUI()
	u.Status("job 17: queued")
	u.Status("job 17: queued") // no change, no redraw
	u.Logf("change accepted")
	u.Status("job 17: round 9 cut (generation 42), awaiting signature")
	u.ClearStatus()
	u.Close()
	require.Equal(t, "\r\x1b[Kjob 17: queued"+
		"\r\x1b[Kchange accepted\n"+"\r\x1b[Kjob 17: queued"+ // a log line goes above the status
		"\r\x1b[Kjob 17: round 9 cut (generation 42), awaiting signature"+
		"\r\x1b[K", buf.String())
}

func TestTerminalStatusShowsElapsedTime(t *testing.T) {
	t.Parallel()
	u, buf := ttyUI()
	u.Status("job 17: queued")
	require.Eventually(t, func() bool { return strings.Contains(buf.String(), "job 17: queued (1s)") },
		3*time.Second, 50*time.Millisecond)
	u.Close()
	require.True(t, strings.HasSuffix(buf.String(), "\r\x1b[K"), "Close leaves a clean line")
}

func TestTerminalUploadBar(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hello_1.0_amd64.deb")
	require.NoError(t, os.WriteFile(path, make([]byte, 4<<20), 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	u, buf := ttyUI()
	tr := u.Upload(f, "hello_1.0_amd64.deb", 4<<20)
	require.Contains(t, buf.String(), "\r\x1b[Khello_1.0_amd64.deb [>                    ]   0%  0 B/4.0 MiB")
	_, err = tr.Read(make([]byte, 1<<20))
	require.NoError(t, err)
	require.Equal(t, "hello_1.0_amd64.deb [=====>               ]  25%  1.0 MiB/4.0 MiB  2.0 MiB/s",
		tr.bar(tr.start.Add(500*time.Millisecond)))
	_, err = tr.Seek(0, 0) // a retry starts over
	require.NoError(t, err)
	require.Contains(t, tr.bar(tr.start), "  0%")
	tr.Done("hello 1.0 amd64")
	u.Close()
	require.Regexp(t, `\r\x1b\[Kuploaded hello_1\.0_amd64\.deb \(4\.0 MiB\) in [0-9.]+m?s: hello 1\.0 amd64\n$`, buf.String())

	// A long name is cut to leave room for the bar; a narrow terminal drops
	// the bar, then cuts the name, never the numbers.
	u.width = 120
	tr.name = strings.Repeat("x", 60) + ".deb"
	require.Equal(t, strings.Repeat("x", 39)+"… [>                             ]   0%  0 B/4.0 MiB", tr.bar(tr.start))
	u.width = 30
	require.Equal(t, "xxxxxxxxxx…   0%  0 B/4.0 MiB", tr.bar(tr.start))
}

func TestPlainUploadLine(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	u := newUI(&buf, false, func(string) string { return "" })
	f, err := os.Open(os.Args[0])
	require.NoError(t, err)
	defer f.Close()

	tr := u.Upload(f, "a.deb", 3<<20)
	tr.Done("a 1.0 amd64")
	tr = u.Upload(f, "b.deb", 512)
	u.Logf("PUT /v1/packages/x failed; retrying") // ends the open line first
	tr.Done("b 1.0 amd64")
	tr = u.Upload(f, "c.deb", 1)
	tr.Fail()
	u.Close()
	require.Equal(t, "uploading a.deb (3.0 MiB)… done: a 1.0 amd64\n"+
		"uploading b.deb (512 B)… \nPUT /v1/packages/x failed; retrying\n"+
		"uploading b.deb… done: b 1.0 amd64\n"+
		"uploading c.deb (1 B)… failed\n", buf.String())
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 27 << 20: "27.0 MiB", 3 << 30: "3.0 GiB",
	} {
		require.Equal(t, want, formatBytes(n), n)
	}
}
