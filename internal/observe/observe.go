// Package observe reads a published release the way apt does, throughout a
// test, and checks every snapshot: the chaos harness and the end-to-end
// tests use it to show that readers never see a broken repository.
package observe

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/aptq/aptq/apt"
)

// Observer reads a release's InRelease the way apt does, all through a
// run, and checks every snapshot (G2, G5): it is signed by the repository's
// key (when a keyring is given), the generation never goes back, and every
// index file apt would fetch exists under by-hash with the strongest listed
// hash, with matching size and digests, and an uncompressed index listed
// beside its .gz is what the .gz decompresses to.
//
// Failures to read at all (the API or S3 down, injected faults that outlast
// the server's retries) are counted apart: they are not what apt would call
// a broken repository, only an unavailable one. A 404 for an object the
// InRelease names, other content, or a bad signature are broken snapshots.
type Observer struct {
	release string
	base    string // .../dists/<release>/
	keyring openpgp.KeyRing
	client  *http.Client
	logf    func(format string, args ...any)

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

// New returns an observer of the release published at repoURL (the URL
// apt's sources.list names). keyring nil skips the signature check; logf,
// if not nil, is told of every broken snapshot and regression as it is seen.
func New(repoURL, release string, keyring openpgp.KeyRing, logf func(format string, args ...any)) *Observer {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Observer{
		release: release, base: repoURL + "/dists/" + release + "/", keyring: keyring, logf: logf,
		client:   &http.Client{Timeout: 30 * time.Second},
		verified: map[string]bool{},
	}
}

// Release is the name of the observed release.
func (o *Observer) Release() string { return o.release }

// Run checks a snapshot every interval until ctx ends.
func (o *Observer) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		o.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *Observer) brokenf(format string, args ...any) {
	msg := fmt.Sprintf(o.release+": "+format, args...)
	o.mu.Lock()
	o.broken = append(o.broken, msg)
	o.mu.Unlock()
	o.logf("observer: BROKEN %s", msg)
}

func (o *Observer) unavailableRead() {
	o.mu.Lock()
	o.unavailable++
	o.mu.Unlock()
}

// Check takes one snapshot and reports whether it was checked in full and
// found good.
func (o *Observer) Check(ctx context.Context) bool {
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
	if o.keyring != nil {
		if _, err := block.VerifySignature(o.keyring, nil); err != nil {
			o.brokenf("InRelease signature does not verify: %v", err)
			return false
		}
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
		o.logf("observer: REGRESSION %s", msg)
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
	// apt fetches each compressed index under by-hash with the strongest
	// hash the Release lists, and checks the uncompressed one it lists by
	// what it decompressed; it fetches an uncompressed one only when no
	// compressed variant is listed.
	algo := "SHA256"
	listed := map[string]bool{}
	for _, f := range rel.Files {
		listed[f.Path] = true
		if f.SHA512 != "" {
			algo = "SHA512"
		}
	}
	plain := map[string][]byte{} // uncompressed path → what a .gz decompressed to
	for _, f := range rel.Files {
		if listed[f.Path+".gz"] || listed[f.Path+".xz"] {
			continue
		}
		want := f.SHA256
		if algo == "SHA512" {
			want = f.SHA512
		}
		if want == "" {
			o.brokenf("generation %d lists %s without %s", gen, f.Path, algo)
			good = false
			continue
		}
		url := o.base + apt.ByHashPath(f.Path, algo, want)
		o.mu.Lock()
		done := o.verified[url]
		o.mu.Unlock()
		if done && !strings.HasSuffix(f.Path, ".gz") {
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
		if got := digest(algo, body); got != want || int64(len(body)) != f.Size {
			o.brokenf("generation %d: %s holds %d bytes with %s %s, want %d bytes", gen, url, len(body), algo, got, f.Size)
			good = false
			continue
		}
		if base, ok := strings.CutSuffix(f.Path, ".gz"); ok {
			if r, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
				plain[base], err = io.ReadAll(io.LimitReader(r, 1<<30))
				if err != nil {
					delete(plain, base)
				}
			}
		}
		o.mu.Lock()
		o.verified[url] = true
		o.mu.Unlock()
	}
	for _, f := range rel.Files {
		data, ok := plain[f.Path]
		if !ok {
			continue // checked above, or listed beside an xz variant only
		}
		if digest("SHA256", data) != f.SHA256 || int64(len(data)) != f.Size {
			o.brokenf("generation %d: %s.gz decompresses to other content than %s lists", gen, f.Path, f.Path)
			good = false
		}
	}
	o.mu.Lock()
	o.snapshots++
	o.mu.Unlock()
	return good
}

// Observation is what an observer saw.
type Observation struct {
	// Snapshots counts InRelease reads whose by-hash objects were all checked;
	// Unavailable, reads that failed for lack of a server.
	Snapshots, Unavailable int
	// Broken lists broken snapshots; Regressions, generations that went back.
	Broken, Regressions []string
	// Generations are the distinct generations seen, in order; LastGen the highest.
	Generations []int64
	LastGen     int64
}

// Result returns what the observer saw so far.
func (o *Observer) Result() Observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return Observation{Snapshots: o.snapshots, Unavailable: o.unavailable,
		Broken: append([]string(nil), o.broken...), Regressions: append([]string(nil), o.regressions...),
		Generations: append([]int64(nil), o.generations...), LastGen: o.lastGen}
}

func (o *Observer) get(ctx context.Context, url string) ([]byte, int, error) {
	return Get(ctx, o.client, url)
}

func digest(algo string, data []byte) string {
	if algo == "SHA512" {
		s := sha512.Sum512(data)
		return hex.EncodeToString(s[:])
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Get reads url whole (up to 256 MiB) and returns the body and status.
func Get(ctx context.Context, client *http.Client, url string) ([]byte, int, error) {
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
