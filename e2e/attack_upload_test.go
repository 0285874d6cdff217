package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/store"
)

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// gated sends head, then tail once gate is open (or fails when ctx ends,
// so that a server waiting for the tail fails the test instead of hanging it).
type gated struct {
	ctx        context.Context
	head, tail io.Reader
	gate       <-chan struct{}
}

func (g *gated) Read(p []byte) (int, error) {
	if n, err := g.head.Read(p); err != io.EOF {
		return n, err
	}
	select {
	case <-g.gate:
	case <-g.ctx.Done():
		return 0, g.ctx.Err()
	}
	return g.tail.Read(p)
}

type putResult struct {
	status     int
	code, msg  string
	details    map[string]any
	retryAfter string
	err        error
}

// put uploads head+tail (tail once gate opens) as token with "Expect:
// 100-continue"; continued closes when aptqd asks for the body, which it
// does only once the upload holds a slot.
func put(t *testing.T, url, token string, head, tail []byte, gate <-chan struct{}) (continued <-chan struct{}, result <-chan putResult) {
	t.Helper()
	cont := make(chan struct{})
	res := make(chan putResult, 1)
	var once sync.Once
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got100Continue: func() { once.Do(func() { close(cont) }) },
	})
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url+"/v1/packages/"+hexSHA256(append(bytes.Clone(head), tail...)),
		&gated{ctx: ctx, head: bytes.NewReader(head), tail: bytes.NewReader(tail), gate: gate})
	require.NoError(t, err)
	req.ContentLength = int64(len(head) + len(tail))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Expect", "100-continue")
	hc := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	go func() {
		defer cancel()
		resp, err := hc.Do(req)
		if err != nil {
			res <- putResult{err: err}
			return
		}
		defer resp.Body.Close()
		var body struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		res <- putResult{status: resp.StatusCode, code: body.Code, msg: body.Message, details: body.Details,
			retryAfter: resp.Header.Get("Retry-After")}
	}()
	return cont, res
}

// noTempObjects checks that no temporary upload of content sum is left in S3.
func noTempObjects(t *testing.T, b *bundle, sum string) {
	t.Helper()
	s3, _ := blobtest.New(t)
	var keys []string
	require.NoError(t, s3.List(context.Background(), store.UploadKey(b.tenantID(t), sum, ""), func(i blob.Info) error {
		keys = append(keys, i.Key)
		return nil
	}))
	require.Empty(t, keys, "temporary upload objects left behind")
}

// stillServes checks that aptqd answers and accepts a good package.
func stillServes(t *testing.T, b *bundle) {
	t.Helper()
	deb := debtest.Build(t, debtest.Options{Package: "after-" + systest.RandomHex(4)})
	_, res := put(t, b.URL, b.Token, deb, nil, nil)
	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, http.StatusCreated, r.status, "%s: %s", r.code, r.msg)
}

func headPackage(t *testing.T, b *bundle, sum string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, b.URL+"/v1/packages/"+sum, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAttackUploadIncompleteDeb replays packages that dpkg-deb -I rejects:
// cut off inside control.tar, with no data.tar, or with garbage after it.
// Neither the CLI nor a raw PUT gets them stored.
func TestAttackUploadIncompleteDeb(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := b.repoWithKey("inc", "stable")
	good := debtest.Build(t, debtest.Options{Package: "inc", Version: "1.0", Architecture: "amd64"})
	controlEnd := 8 + 60 + 4 + 60 + int(parseARSize(t, good[8+60+4+48:8+60+4+58]))
	for _, tt := range []struct {
		name, want string
		deb        []byte
	}{
		{"cut inside control.tar", "file is truncated", good[:controlEnd-20]},
		{"no data.tar", "no data.tar member", good[:controlEnd+controlEnd%2]},
		{"cut inside data.tar", "file is truncated", good[:len(good)-10]},
		{"garbage after data.tar", "after data.tar.gz", append(bytes.Clone(good), strings.Repeat("garbage!", 16)...)},
	} {
		path := filepath.Join(b.dir, strings.ReplaceAll(tt.name, " ", "_")+".deb")
		require.NoError(t, os.WriteFile(path, tt.deb, 0o644))
		out, errOut, code := b.cli(ctx, "pkg", "add", "--repo", "inc", "--release", "stable", "--key", key, path)
		require.NotEqual(t, 0, code, "%s: aptq pkg add accepted it\n%s", tt.name, out)
		require.Contains(t, errOut, "invalid_package", tt.name)
		require.Contains(t, errOut, tt.want, tt.name)

		_, res := put(t, b.URL, b.Token, tt.deb, nil, nil)
		r := <-res
		require.NoError(t, r.err)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, tt.name)
		require.Equal(t, "invalid_package", r.code, tt.name)
		require.Equal(t, http.StatusNotFound, headPackage(t, b, hexSHA256(tt.deb)), tt.name)
		noTempObjects(t, b, hexSHA256(tt.deb))
	}
	stillServes(t, b)
}

func parseARSize(t *testing.T, field []byte) int64 {
	var n int64
	_, err := fmt.Sscan(strings.TrimSpace(string(field)), &n)
	require.NoError(t, err)
	return n
}

// TestAttackUploadGarbageStopsEarly replays a body whose first bytes are not
// a .deb, followed by 63 MiB: aptqd answers 422 while the client still
// holds back the rest, and stores nothing.
func TestAttackUploadGarbageStopsEarly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The head fits in the sockets' buffers, so the client has written it
	// all and waits at the gate when the answer comes: with a larger head
	// it could still be writing when aptqd, having answered, resets the
	// connection, and a slow client would then lose the answer.
	head := append([]byte("MZ this is an executable, not a package"), make([]byte, 32<<10)...)
	tail := make([]byte, 63<<20)
	gate := make(chan struct{}) // opened only after the answer
	_, res := put(t, b.URL, b.Token, head, tail, gate)
	r := <-res
	close(gate)
	require.NoError(t, r.err, "aptqd waited for the whole body")
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	require.Equal(t, "invalid_package", r.code)
	require.Contains(t, r.msg, "not a Debian binary package")
	noTempObjects(t, b, hexSHA256(append(head, tail...)))
	stillServes(t, b)
}

// TestAttackUploadSlowloris replays a client that sends a few bytes and
// stalls: with a 1 s rate window aptqd cuts it off with 408 and keeps
// nothing.
func TestAttackUploadSlowloris(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_UPLOAD_RATE_WINDOW=1s", "APTQ_UPLOAD_MIN_RATE=1024"}})
	deb := debtest.Build(t, debtest.Options{Package: "slow", DataSize: 256 << 10})
	gate := make(chan struct{})
	defer close(gate)
	_, res := put(t, b.URL, b.Token, deb[:300], deb[300:], gate)
	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, http.StatusRequestTimeout, r.status, "%s: %s", r.code, r.msg)
	require.Equal(t, "upload_too_slow", r.code)
	require.Equal(t, http.StatusNotFound, headPackage(t, b, hexSHA256(deb)))
	noTempObjects(t, b, hexSHA256(deb))
	stillServes(t, b)
}

// TestAttackUploadFlood replays one tenant opening more uploads than its
// share: the one past the tenant limit gets 429 with Retry-After before
// its body is read, while another tenant still uploads; past the server's
// limit every tenant waits.
func TestAttackUploadFlood(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_MAX_UPLOADS=3", "APTQ_MAX_TENANT_UPLOADS=2"}})
	out, err := exec.Command(filepath.Join(binDir, "aptqd"), "admin", "create-tenant", "other-"+systest.RandomHex(6),
		"--database-url", b.dbURL).CombinedOutput()
	require.NoError(t, err, string(out))
	other := strings.TrimSpace(string(out))

	gate := make(chan struct{})
	var inFlight []<-chan putResult
	hold := func(token string) {
		deb := debtest.Build(t, debtest.Options{Package: "flood-" + systest.RandomHex(4)})
		cont, res := put(t, b.URL, token, deb[:100], deb[100:], gate)
		select {
		case <-cont:
		case r := <-res:
			t.Fatalf("upload answered before its body: %+v", r)
		}
		inFlight = append(inFlight, res)
	}
	refused := func(token, scope string) {
		deb := debtest.Build(t, debtest.Options{Package: "refused-" + systest.RandomHex(4)})
		cont, res := put(t, b.URL, token, deb, nil, nil)
		r := <-res
		require.NoError(t, r.err)
		require.Equal(t, http.StatusTooManyRequests, r.status, "%s: %s", r.code, r.msg)
		require.Equal(t, "too_many_uploads", r.code)
		require.Equal(t, scope, r.details["scope"])
		require.Equal(t, "5", r.retryAfter)
		select {
		case <-cont:
			t.Fatal("aptqd read the body of a refused upload")
		default:
		}
	}
	hold(b.Token)
	hold(b.Token)
	refused(b.Token, "tenant")
	hold(other) // another tenant still uploads
	refused(other, "server")

	close(gate)
	for _, res := range inFlight {
		r := <-res
		require.NoError(t, r.err)
		require.Equal(t, http.StatusCreated, r.status, "%s: %s", r.code, r.msg)
	}
	stillServes(t, b)
}

// TestAttackUploadHangUp replays a client that hangs up halfway through an
// upload: a 400 for the metrics, and no "database unreachable" or failed
// request in aptqd's log.
func TestAttackUploadHangUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	deb := debtest.Build(t, debtest.Options{Package: "hangup", DataSize: 4 << 20})
	conn, err := net.Dial("tcp", strings.TrimPrefix(b.URL, "http://"))
	require.NoError(t, err)
	_, err = fmt.Fprintf(conn, "PUT /v1/packages/%s HTTP/1.1\r\nHost: aptq\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
		hexSHA256(deb), b.Token, len(deb))
	require.NoError(t, err)
	_, err = conn.Write(deb[:len(deb)/2])
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	// The request's end shows in the metrics; there is nothing else to wait on.
	series := `aptq_http_requests_total{method="PUT",route="/v1/packages/:sha256",status="400"} 1`
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, _, err := get(context.Background(), b.URL+"/metrics")
		require.NoError(t, err)
		if strings.Contains(string(body), series) {
			break
		}
		requests := grepLines(string(body), "aptq_http_requests_total{")
		require.NotContains(t, requests, `status="5`)
		require.True(t, time.Now().Before(deadline), "no 400 for the hung-up upload in:\n%s", requests)
		time.Sleep(50 * time.Millisecond)
	}
	logs := b.logs.String()
	require.NotContains(t, logs, "unreachable")
	require.NotContains(t, logs, "request failed")
	require.Equal(t, http.StatusNotFound, headPackage(t, b, hexSHA256(deb)))
	noTempObjects(t, b, hexSHA256(deb))
	stillServes(t, b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// withXZDict returns deb (built with control.tar.xz by debtest) with the
// dictionary of its control member's first block set to code and the block
// header's CRC32 fixed, as a hostile uploader would.
func withXZDict(t *testing.T, deb []byte, code byte) []byte {
	deb = bytes.Clone(deb)
	member := 8 + 60 + 4 // magic, debian-binary header and content
	require.Equal(t, "control.tar.xz", strings.TrimSpace(string(deb[member:member+16])))
	hdr := member + 60 + 12 // member header, xz stream header
	require.Equal(t, []byte{0x00, 0x21, 0x01}, deb[hdr+1:hdr+4], "block header without sizes")
	deb[hdr+4] = code
	size := (int(deb[hdr]) + 1) * 4
	binary.LittleEndian.PutUint32(deb[hdr+size-4:], crc32.ChecksumIEEE(deb[hdr:hdr+size-4]))
	return deb
}

// heapAlloc reads aptqd's Go heap in use from /metrics.
func heapAlloc(t *testing.T, b *bundle) int64 {
	t.Helper()
	body, status, err := get(context.Background(), b.URL+"/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_alloc_bytes "); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			require.NoError(t, err)
			return int64(f)
		}
	}
	t.Fatal("no go_memstats_heap_alloc_bytes in /metrics")
	return 0
}

// TestAttackUploadMemory replays the two uploads that made aptqd allocate
// what a client declared rather than what it sent: 40 uploads that declare
// 8 MiB and send 8 bytes (337 MB held for minutes), and 30 small packages
// whose control.tar.xz declares a 64 MiB dictionary.
func TestAttackUploadMemory(t *testing.T) {
	t.Parallel()
	b := setup(t, serverOpts{extraEnv: []string{"APTQ_MAX_UPLOADS=64", "APTQ_MAX_TENANT_UPLOADS=64"}})
	stillServes(t, b) // warm up
	before := heapAlloc(t, b)

	const stalled = 40
	gate := make(chan struct{})
	var results []<-chan putResult
	for range stalled {
		head := []byte("!<arch>\n")
		cont, res := put(t, b.URL, b.Token, head, make([]byte, 8<<20-len(head)), gate)
		<-cont
		results = append(results, res)
	}
	during := heapAlloc(t, b)
	t.Logf("%d stalled uploads declaring 8 MiB: heap %d MiB before, %d MiB during", stalled, before>>20, during>>20)
	require.Less(t, during-before, int64(64<<20), "the heap grew with the declared lengths")
	close(gate)
	for _, res := range results {
		// Zeros after the ar magic are refused at once; the client, still
		// sending 8 MiB, may see the connection reset before the answer.
		if r := <-res; r.err == nil {
			require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", r.code, r.msg)
		}
	}

	require.NoError(t, os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", b.pid), []byte("5"), 0))
	rss := procStatus(t, b.pid, "VmRSS")
	var wg sync.WaitGroup
	for i := range 30 {
		deb := withXZDict(t, debtest.Build(t, debtest.Options{Package: fmt.Sprintf("xzdict%d", i), Compression: "xz"}), 28)
		_, res := put(t, b.URL, b.Token, deb, nil, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := <-res
			if !(r.err == nil && r.status == http.StatusUnprocessableEntity && strings.Contains(r.msg, "xz dictionary of 64 MiB is larger than the 8 MiB limit")) {
				t.Errorf("64 MiB xz dictionary: %+v", r)
			}
		}()
	}
	wg.Wait()
	peak := procStatus(t, b.pid, "VmHWM")
	t.Logf("30 uploads with a 64 MiB xz dictionary: RSS %d MiB before, peak %d MiB", rss>>20, peak>>20)
	require.Less(t, peak-rss, int64(128<<20))
	stillServes(t, b)
}
