package e2e

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

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/aptq/aptq/apt"
)

// observer polls a release's InRelease the way apt does, throughout a test,
// and checks every snapshot: the generation never goes backwards, and every
// index it names exists under by-hash with matching SHA-256 and SHA-512
// (G2, G5).
type observer struct {
	base string // .../dists/<release>/

	mu          sync.Mutex
	snapshots   int
	generations []int64
	problems    []string
	lastGen     int64
}

func newObserver(repoURL, release string) *observer {
	return &observer{base: repoURL + "/dists/" + release + "/"}
}

// run polls until ctx ends.
func (o *observer) run(ctx context.Context) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		o.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (o *observer) problem(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.problems = append(o.problems, fmt.Sprintf(format, args...))
}

func (o *observer) check(ctx context.Context) {
	data, status, err := get(ctx, o.base+"InRelease")
	if err != nil || status == http.StatusNotFound {
		return // not published yet, or the test is ending
	}
	if status != http.StatusOK {
		o.problem("InRelease: HTTP %d", status)
		return
	}
	block, _ := clearsign.Decode(data)
	if block == nil {
		o.problem("InRelease is not clearsigned")
		return
	}
	rel, err := apt.ParseRelease(block.Plaintext)
	if err != nil {
		o.problem("InRelease does not parse: %v", err)
		return
	}
	o.mu.Lock()
	o.snapshots++
	if rel.Meta.Generation < o.lastGen {
		o.problems = append(o.problems, fmt.Sprintf("generation went back from %d to %d", o.lastGen, rel.Meta.Generation))
	}
	if len(o.generations) == 0 || o.generations[len(o.generations)-1] != rel.Meta.Generation {
		o.generations = append(o.generations, rel.Meta.Generation)
	}
	o.lastGen = max(o.lastGen, rel.Meta.Generation)
	o.mu.Unlock()

	for _, f := range rel.Files {
		for _, h := range []struct{ algo, want string }{{"SHA256", f.SHA256}, {"SHA512", f.SHA512}} {
			url := o.base + apt.ByHashPath(f.Path, h.algo, h.want)
			body, status, err := get(ctx, url)
			if err != nil {
				return
			}
			if status != http.StatusOK {
				o.problem("generation %d names %s: HTTP %d", rel.Meta.Generation, url, status)
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
				o.problem("generation %d: %s has other content", rel.Meta.Generation, url)
			}
		}
	}
}

func get(ctx context.Context, url string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, resp.Body)
	return buf.Bytes(), resp.StatusCode, err
}
