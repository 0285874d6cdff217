package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/aptq/aptq/apt"
)

// observer reads a release's InRelease the way apt does, through the API,
// all through the run, and checks every snapshot (G2, G5): it is signed by
// the repository's key, the generation never goes back, and every index file
// it names exists under by-hash, for SHA256 and SHA512, with matching size
// and digests.
//
// Failures to read at all (the API or S3 down, injected faults that outlast
// the server's retries) are counted apart: they are not what apt would call
// a broken repository, only an unavailable one. A 404 for an object the
// InRelease names, other content, or a bad signature are broken snapshots.
type observer struct {
	release string
	base    string // .../dists/<release>/
	keyring openpgp.KeyRing
	client  *http.Client
	events  *eventLog

	mu          sync.Mutex
	snapshots   int // InRelease reads whose by-hash objects were all checked
	unavailable int // reads that failed for lack of a server
	broken      []string
	regressions []string
	generations []int64 // distinct generations seen, in order
	lastGen     int64
	// verified holds the by-hash URLs checked already: they are immutable and
	// kept for an hour after the last InRelease naming them (DESIGN.md §4),
	// so one check per run is enough; the final check starts afresh.
	verified map[string]bool
}

func newObserver(repoURL, release string, keyring openpgp.KeyRing, events *eventLog) *observer {
	return &observer{
		release: release, base: repoURL + "/dists/" + release + "/", keyring: keyring, events: events,
		client:   &http.Client{Timeout: 30 * time.Second},
		verified: map[string]bool{},
	}
}

// run polls until ctx ends.
func (o *observer) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		o.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *observer) brokenf(format string, args ...any) {
	msg := fmt.Sprintf(o.release+": "+format, args...)
	o.mu.Lock()
	o.broken = append(o.broken, msg)
	o.mu.Unlock()
	o.events.add("observer: BROKEN %s", msg)
}

func (o *observer) unavailableRead() {
	o.mu.Lock()
	o.unavailable++
	o.mu.Unlock()
}

// check takes one snapshot and reports whether it was checked in full and
// found good.
func (o *observer) check(ctx context.Context) bool {
	data, status, err := o.get(ctx, o.base+"InRelease")
	switch {
	case err != nil || status >= 500:
		if ctx.Err() == nil {
			o.unavailableRead()
		}
		return false
	case status == http.StatusNotFound:
		o.mu.Lock()
		last := o.lastGen
		o.mu.Unlock()
		if last > 0 {
			o.brokenf("InRelease: HTTP 404 after generation %d was seen", last)
		}
		return false // not published yet
	case status != http.StatusOK:
		o.brokenf("InRelease: HTTP %d", status)
		return false
	}
	block, _ := clearsign.Decode(data)
	if block == nil {
		o.brokenf("InRelease is not clearsigned (%d bytes)", len(data))
		return false
	}
	if _, err := block.VerifySignature(o.keyring, nil); err != nil {
		o.brokenf("InRelease signature does not verify: %v", err)
		return false
	}
	rel, err := apt.ParseRelease(block.Plaintext)
	if err != nil {
		o.brokenf("InRelease does not parse: %v", err)
		return false
	}
	gen := rel.Meta.Generation

	o.mu.Lock()
	if gen < o.lastGen {
		msg := fmt.Sprintf("%s: generation went back from %d to %d", o.release, o.lastGen, gen)
		o.regressions = append(o.regressions, msg)
		o.events.add("observer: REGRESSION %s", msg)
	}
	if gen == 0 {
		o.broken = append(o.broken, o.release+": InRelease without Aptq-Generation")
	}
	if len(o.generations) == 0 || o.generations[len(o.generations)-1] != gen {
		o.generations = append(o.generations, gen)
	}
	o.lastGen = max(o.lastGen, gen)
	o.mu.Unlock()

	good := gen != 0
	for _, f := range rel.Files {
		for _, h := range []struct{ algo, want string }{{"SHA256", f.SHA256}, {"SHA512", f.SHA512}} {
			if h.want == "" {
				o.brokenf("generation %d lists %s without %s", gen, f.Path, h.algo)
				good = false
				continue
			}
			url := o.base + apt.ByHashPath(f.Path, h.algo, h.want)
			o.mu.Lock()
			done := o.verified[url]
			o.mu.Unlock()
			if done {
				continue
			}
			body, status, err := o.get(ctx, url)
			switch {
			case err != nil || status >= 500:
				if ctx.Err() == nil {
					o.unavailableRead()
				}
				return false
			case status != http.StatusOK:
				o.brokenf("generation %d names %s: HTTP %d", gen, url, status)
				good = false
				continue
			}
			var got string
			if h.algo == "SHA256" {
				s := sha256.Sum256(body)
				got = hex.EncodeToString(s[:])
			} else {
				s := sha512.Sum512(body)
				got = hex.EncodeToString(s[:])
			}
			if got != h.want || int64(len(body)) != f.Size {
				o.brokenf("generation %d: %s holds %d bytes with %s %s, want %d bytes", gen, url, len(body), h.algo, got, f.Size)
				good = false
				continue
			}
			o.mu.Lock()
			o.verified[url] = true
			o.mu.Unlock()
		}
	}
	o.mu.Lock()
	o.snapshots++
	o.mu.Unlock()
	return good
}

// result is what an observer saw, for the report.
type observation struct {
	snapshots, unavailable int
	broken, regressions    []string
	generations            []int64
	lastGen                int64
}

func (o *observer) result() observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return observation{snapshots: o.snapshots, unavailable: o.unavailable,
		broken: append([]string(nil), o.broken...), regressions: append([]string(nil), o.regressions...),
		generations: append([]int64(nil), o.generations...), lastGen: o.lastGen}
}

func (o *observer) get(ctx context.Context, url string) ([]byte, int, error) {
	return httpGet(ctx, o.client, url)
}

func httpGet(ctx context.Context, client *http.Client, url string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, io.LimitReader(resp.Body, 256<<20))
	return buf.Bytes(), resp.StatusCode, err
}
