package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/internal/observe"
	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/store"
)

// fixture is what a run publishes: the repository with its key, its
// releases r1, r2, … and the packages, spread over them. What the run
// stored in S3 is deleted at the end, unless the test failed.
type fixture struct {
	c        *cluster
	releases []string
	keyFile  string
	pubKey   []byte
	keyring  openpgp.KeyRing
	pubs     []*publish
}

func newFixture(t *testing.T, c *cluster, releases, publishes int) *fixture {
	t.Helper()
	f := &fixture{c: c}
	runID := systest.RandomHex(3)
	dir := t.TempDir()
	f.keyFile = filepath.Join(dir, "chaos.asc")
	c.mustCLI("key", "generate", "--name", "chaos "+runID, "--email", "chaos@example.com", "--out", f.keyFile)
	var err error
	f.pubKey, err = os.ReadFile(strings.TrimSuffix(f.keyFile, ".asc") + ".pub.asc")
	require.NoError(t, err)
	f.keyring, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(f.pubKey))
	require.NoError(t, err)
	c.mustCLI("repo", "create", repoName)
	c.mustCLI("key", "add", "--repo", repoName, strings.TrimSuffix(f.keyFile, ".asc")+".pub.asc")
	for i := range releases {
		f.releases = append(f.releases, fmt.Sprintf("r%d", i+1))
		c.mustCLI("release", "create", "--repo", repoName, "--release", f.releases[i], "--architectures", "amd64,arm64")
	}
	f.pubs = makePublishes(t, dir, runID, publishes, f.releases)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("S3 objects kept for diagnosis under %s/", c.Tenant)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var tenantID int64
		err := c.pg.query(ctx, func(conn *pgx.Conn) error {
			return conn.QueryRow(ctx, `SELECT id FROM tenants WHERE name = $1`, c.Tenant).Scan(&tenantID)
		})
		if err != nil {
			t.Logf("clean S3: %v", err)
			return
		}
		var keys []string
		for _, p := range f.pubs {
			keys = append(keys, store.PackageBlobKey(tenantID, p.sha256))
		}
		c.cleanS3(keys)
	})
	return f
}

// watchers are the observers of a run, one per release watched, reading
// through the API at url.
type watchers struct {
	f         *fixture
	url       string
	events    *eventLog
	observers []*observe.Observer
	stop      context.CancelFunc
	wg        sync.WaitGroup
}

// watch observes the first n releases (all with n = 0).
func (f *fixture) watch(url string, n int, events *eventLog) *watchers {
	ctx, stop := context.WithCancel(context.Background())
	w := &watchers{f: f, url: url, events: events, stop: stop}
	if n == 0 {
		n = len(f.releases)
	}
	for _, r := range f.releases[:n] {
		o := observe.New(url+"/apt/"+f.c.Tenant+"/"+repoName, r, f.keyring, events.add)
		w.observers = append(w.observers, o)
		w.wg.Add(1)
		go func() { defer w.wg.Done(); o.Run(ctx, 250*time.Millisecond) }()
	}
	return w
}

// finish stops the observers after one last look each, then checks every
// release's final snapshot afresh (its by-hash objects re-read, none taken
// as known). It returns what each saw and how many final checks passed.
func (w *watchers) finish(ctx context.Context) (seen []observe.Observation, finalChecked int) {
	w.stop()
	w.wg.Wait()
	for _, o := range w.observers {
		o.Check(ctx)
		fresh := observe.New(w.url+"/apt/"+w.f.c.Tenant+"/"+repoName, o.Release(), w.f.keyring, w.events.add)
		if fresh.Check(ctx) {
			finalChecked++
		}
		r := o.Result()
		r.Broken = append(r.Broken, fresh.Result().Broken...)
		seen = append(seen, r)
	}
	return seen, finalChecked
}
