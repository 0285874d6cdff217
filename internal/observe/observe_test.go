package observe

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/sign"
)

// fakeRepo serves a repository's files from memory, for the observer's own
// test: a check that cannot fail proves nothing.
type fakeRepo struct {
	mu     sync.Mutex
	files  map[string][]byte
	status int // when not 0, every answer
}

func (f *fakeRepo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	data, ok := f.files[strings.TrimPrefix(r.URL.Path, "/dists/stable/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(data)
}

// publish puts a generation's InRelease, signed by signer, and its by-hash
// objects (unless skip names one) in the fake repository, laid out as aptq
// does: Packages listed, Packages.gz listed and stored under by-hash/SHA256.
func (f *fakeRepo) publish(t *testing.T, gen int64, packages []byte, signer *sign.Signer, skip string) {
	t.Helper()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(packages)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	describe := func(path string, data []byte) apt.IndexFile {
		s256 := sha256.Sum256(data)
		return apt.IndexFile{Path: path, Size: int64(len(data)), SHA256: hex.EncodeToString(s256[:])}
	}
	plain, compressed := describe("main/binary-amd64/Packages", packages), describe("main/binary-amd64/Packages.gz", gz.Bytes())
	release := apt.BuildRelease(apt.ReleaseMeta{Origin: "test", Suite: "stable", Codename: "stable",
		Date: time.Unix(1_700_000_000+gen, 0), Generation: gen, Architectures: []string{"amd64"},
		Components: []string{"main"}}, []apt.IndexFile{plain, compressed})
	inRelease, _, err := sign.Sign(release, signer)
	require.NoError(t, err)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files["InRelease"] = inRelease
	if p := apt.ByHashPath(compressed.Path, "SHA256", compressed.SHA256); skip == "" || !strings.Contains(p, skip) {
		f.files[p] = gz.Bytes()
	}
}

func newSigner(t *testing.T) (*sign.Signer, openpgp.KeyRing) {
	t.Helper()
	priv, pub, err := sign.GenerateKey("observer test", "test@example.com")
	require.NoError(t, err)
	signer, err := sign.ParsePrivateKey(priv, nil)
	require.NoError(t, err)
	keyring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(pub))
	require.NoError(t, err)
	return signer, keyring
}

// TestObserverCatchesBrokenSnapshots: the observer accepts a good snapshot
// and reports each kind of broken one, a generation that goes back, and a
// server that is away (as unavailable, not broken).
func TestObserverCatchesBrokenSnapshots(t *testing.T) {
	t.Parallel()
	signer, keyring := newSigner(t)
	other, _ := newSigner(t)
	repo := &fakeRepo{files: map[string][]byte{}}
	srv := httptest.NewServer(repo)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	o := New(srv.URL, "stable", keyring, t.Logf)
	problems := func() (int, int) { r := o.Result(); return len(r.Broken), len(r.Regressions) }

	repo.publish(t, 2, []byte("Package: a\n"), signer, "")
	require.True(t, o.Check(ctx))
	b, r := problems()
	require.Equal(t, [2]int{0, 0}, [2]int{b, r}, "a good snapshot")

	repo.publish(t, 1, []byte("Package: old\n"), signer, "")
	o.Check(ctx)
	_, r = problems()
	require.Equal(t, 1, r, "generation 2 then 1 is a regression")

	repo.publish(t, 3, []byte("Package: b\n"), signer, "SHA256")
	require.False(t, o.Check(ctx))
	b, _ = problems()
	require.Equal(t, 1, b, "a missing by-hash/SHA256 object")

	repo.publish(t, 4, []byte("Package: c\n"), signer, "")
	repo.mu.Lock()
	for p := range repo.files {
		if strings.Contains(p, "SHA256") {
			repo.files[p] = []byte("Package: other\n")
		}
	}
	repo.mu.Unlock()
	o.Check(ctx)
	b, _ = problems()
	require.Equal(t, 2, b, "a by-hash object with other content")

	repo.publish(t, 5, []byte("Package: d\n"), other, "")
	require.False(t, o.Check(ctx))
	b, _ = problems()
	require.Equal(t, 3, b, "an InRelease signed by another key")

	for _, status := range []int{http.StatusServiceUnavailable, http.StatusNotFound} {
		repo.mu.Lock()
		repo.status = status
		repo.mu.Unlock()
		require.False(t, o.Check(ctx))
	}
	res := o.Result()
	require.Equal(t, 1, res.Unavailable, "a 503 is unavailability")
	require.Len(t, res.Broken, 4, "a 404 for InRelease after a publish is broken: %v", res.Broken)
	require.Equal(t, []int64{2, 1, 3, 4}, res.Generations, "generations seen in checked snapshots")

	// Without a keyring any signer is accepted; the rest is still checked.
	repo.mu.Lock()
	repo.status = 0
	repo.mu.Unlock()
	repo.publish(t, 6, []byte("Package: e\n"), other, "")
	unkeyed := New(srv.URL, "stable", nil, t.Logf)
	require.True(t, unkeyed.Check(ctx))
	repo.publish(t, 7, []byte("Package: f\n"), other, "SHA256")
	require.False(t, unkeyed.Check(ctx))
}
