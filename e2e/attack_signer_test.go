package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
	"github.com/aptq/aptq/client"
)

// The attacks of DESIGN G9: a server (or a leaked token) that slips
// something into a round the honest CLI signs. Each test fails when the CLI
// signs without checking (--no-verify).

// signerAttack is one repository "atk" with release "stable" at generation
// 1 (package base 1.0), and a database connection to attack it with.
type signerAttack struct {
	*bundle
	key       string
	conn      *pgx.Conn
	releaseID int64
	prefix    string
}

func setupSignerAttack(t *testing.T) *signerAttack {
	t.Helper()
	b := setup(t)
	a := &signerAttack{bundle: b, key: b.repoWithKey("atk", "stable"), prefix: b.Tenant + "/atk/"}
	base := writeDeb(t, b.dir, debtest.Options{Package: "base", Version: "1.0", Architecture: "amd64"})
	b.mustCLI("pkg", "add", "--repo", "atk", "--release", "stable", "--key", a.key, base)
	var err error
	a.conn, err = pgx.Connect(context.Background(), b.dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.conn.Close(context.Background()) })
	require.NoError(t, a.conn.QueryRow(context.Background(), `
		SELECT rel.id FROM releases rel JOIN repositories r ON r.id = rel.repository_id
		WHERE r.name = 'atk' AND rel.name = 'stable'`).Scan(&a.releaseID))
	return a
}

// upload puts a package on the server with token and returns its SHA-256.
func (a *signerAttack) upload(t *testing.T, token string, o debtest.Options) string {
	t.Helper()
	deb := debtest.Build(t, o)
	sum := sha256.Sum256(deb)
	hexSum := hex.EncodeToString(sum[:])
	_, err := client.New(a.URL, token).UploadPackage(context.Background(), hexSum, bytes.NewReader(deb), int64(len(deb)))
	require.NoError(t, err)
	return hexSum
}

// holdLease takes the release's lease as a worker would, so that changes
// queue up as pending; the returned function lets the workers in, and they
// then put every pending change into one round.
func (a *signerAttack) holdLease(t *testing.T) (release func()) {
	t.Helper()
	ctx := context.Background()
	// The worker that published generation 1 may still hold the lease for a
	// moment after its job's last round; wait for it to let go.
	deadline := time.Now().Add(time.Minute)
	for {
		tag, err := a.conn.Exec(ctx, `INSERT INTO release_leases (release_id, holder, token, expires_at)
			VALUES ($1, 'e2e-attacker', nextval('lease_token_seq'), now() + interval '10 minutes')
			ON CONFLICT (release_id) DO UPDATE
			SET holder = excluded.holder, token = excluded.token, expires_at = excluded.expires_at
			WHERE release_leases.expires_at < now()`, a.releaseID)
		require.NoError(t, err)
		if tag.RowsAffected() == 1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the release's lease is still held after a minute")
		time.Sleep(50 * time.Millisecond)
	}
	return func() {
		_, err := a.conn.Exec(ctx, `DELETE FROM release_leases WHERE release_id = $1 AND holder = 'e2e-attacker'`, a.releaseID)
		require.NoError(t, err)
	}
}

// waitPending waits until the release has n pending changes.
func (a *signerAttack) waitPending(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var got int
		require.NoError(t, a.conn.QueryRow(context.Background(),
			`SELECT count(*) FROM changes WHERE release_id = $1 AND state = 'pending'`, a.releaseID).Scan(&got))
		if got == n {
			return
		}
		require.True(t, time.Now().Before(deadline), "%d pending changes, want %d", got, n)
		time.Sleep(50 * time.Millisecond)
	}
}

// published returns the generation of the public InRelease and the public
// main/binary-amd64/Packages, and checks that the server still answers.
func (a *signerAttack) published(t *testing.T) (generation int64, packages string) {
	t.Helper()
	ctx := context.Background()
	_, status, err := get(ctx, a.URL+"/readyz")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	base := a.URL + "/apt/" + a.Tenant + "/atk/dists/stable/"
	inRelease, status, err := get(ctx, base+"InRelease")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	_, err = fmt.Sscanf(string(inRelease[bytes.Index(inRelease, []byte("Aptq-Generation: ")):]), "Aptq-Generation: %d", &generation)
	require.NoError(t, err)
	gz, status, err := get(ctx, base+"main/binary-amd64/Packages.gz")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	return generation, string(plain)
}

// slipHiddenChange plays a server that slips a change past the signer: a
// pending change adding the uploaded package of that SHA-256 (at filename,
// in main), whose round_id a trigger keeps NULL, so the worker indexes it
// but the round's list, which the signer is told, leaves it out.
func (a *signerAttack) slipHiddenChange(t *testing.T, sha256, arch, filename string) {
	t.Helper()
	ctx := context.Background()
	var id int64
	require.NoError(t, a.conn.QueryRow(ctx, `SELECT id FROM packages WHERE sha256 = $1`, sha256).Scan(&id))
	adds := fmt.Sprintf(`[{"package_id": %d, "component": "main", "architecture": %q, "filename": %q}]`, id, arch, filename)
	var changeID int64
	require.NoError(t, a.conn.QueryRow(ctx, `INSERT INTO changes (release_id, adds, removes) VALUES ($1, $2, '[]')
		RETURNING id`, a.releaseID, adds).Scan(&changeID))
	_, err := a.conn.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION hide_change() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN NEW.round_id := NULL; RETURN NEW; END $$;
		CREATE TRIGGER hide_change BEFORE UPDATE ON changes FOR EACH ROW
		WHEN (NEW.id = %d AND NEW.round_id IS NOT NULL) EXECUTE FUNCTION hide_change();`, changeID))
	require.NoError(t, err)
}

// refusedGood publishes good 1.0 with the signer's CLI, which must refuse
// to sign the round (exit 1), and returns what it printed on stderr.
func (a *signerAttack) refusedGood(t *testing.T) string {
	t.Helper()
	good := writeDeb(t, a.dir, debtest.Options{Package: "good", Version: "1.0", Architecture: "amd64"})
	out, errOut, code := a.cli(context.Background(), "pkg", "add", "--repo", "atk", "--release", "stable", "--key", a.key, good)
	require.Equal(t, 1, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, errOut, "refusing to sign round")
	return errOut
}

// TestAttackSignerHiddenPackage: a package injected in Postgres behind the
// signer's back (a pending change whose row the round does not list, so
// the worker indexes it but the signer is not told) is refused: exit 1,
// nothing published.
func TestAttackSignerHiddenPackage(t *testing.T) {
	t.Parallel()
	a := setupSignerAttack(t)
	evil := a.upload(t, a.Token, debtest.Options{Package: "evil", Version: "6.6.6", Architecture: "amd64"})
	a.slipHiddenChange(t, evil, "amd64", apt.PoolPath("main", "evil", "evil", "6.6.6", "amd64"))
	errOut := a.refusedGood(t)
	require.Contains(t, errOut, "main/binary-amd64/Packages is not the previous generation plus the round's changes: "+
		"it lists evil 6.6.6 amd64, which no change of the round adds")
	require.Contains(t, errOut, "+ good 1.0 amd64 in main")
	gen, packages := a.published(t)
	require.Equal(t, int64(1), gen)
	require.NotContains(t, packages, "Package: evil")
}

// TestAttackSignerAcceptFrom: a change a second (leaked) token slipped
// into the round is refused by a CLI that accepts changes only from its own
// token.
func TestAttackSignerAcceptFrom(t *testing.T) {
	t.Parallel()
	a := setupSignerAttack(t)
	ctx := context.Background()
	mallory := strings.TrimSpace(a.mustCLI("token", "create", "mallory", "--scope", "publish"))
	release := a.holdLease(t)
	evil := a.upload(t, mallory, debtest.Options{Package: "evil", Version: "6.6.6", Architecture: "amd64"})
	_, err := client.New(a.URL, mallory).SubmitChange(ctx, "atk", "stable",
		client.ChangeRequest{Adds: []client.Add{{SHA256: evil, Component: "main"}}})
	require.NoError(t, err)

	good := writeDeb(t, a.dir, debtest.Options{Package: "good", Version: "1.0", Architecture: "amd64"})
	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := a.cli(ctx, "pkg", "add", "--repo", "atk", "--release", "stable", "--key", a.key,
			"--accept-from", "initial", good)
		done <- result{out, errOut, code}
	}()
	a.waitPending(t, 2)
	release()
	r := <-done
	require.Equal(t, 1, r.code, "stdout: %s\nstderr: %s", r.out, r.errOut)
	require.Contains(t, r.errOut, "was submitted by mallory, which --accept-from does not name (initial)")
	require.Contains(t, r.errOut, "+ evil 6.6.6 amd64 in main")
	gen, packages := a.published(t)
	require.Equal(t, int64(1), gen)
	require.NotContains(t, packages, "Package: evil")
}

// TestAttackSignerTamperedByHash: a by-hash object rewritten in S3 after
// the round was cut (before the signer reads it) is refused.
func TestAttackSignerTamperedByHash(t *testing.T) {
	t.Parallel()
	a := setupSignerAttack(t)
	ctx := context.Background()
	// The CLI talks to the server through a proxy that holds its first
	// look at the round until the object is rewritten.
	target, err := url.Parse(a.URL)
	require.NoError(t, err)
	gate := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(open)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/rounds/") && r.Method == http.MethodGet {
			<-gate
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	good := writeDeb(t, a.dir, debtest.Options{Package: "good", Version: "1.0", Architecture: "amd64"})
	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := a.cliEnv(ctx, []string{"APTQ_URL=" + srv.URL}, "pkg", "add", "--repo", "atk",
			"--release", "stable", "--key", a.key, good)
		done <- result{out, errOut, code}
	}()

	// The round is cut: its by-hash objects are in S3. Rewrite the new
	// Packages.xz with the index of another package set.
	var releaseBytes []byte
	deadline := time.Now().Add(time.Minute)
	for {
		err := a.conn.QueryRow(ctx, `SELECT release_bytes FROM rounds WHERE release_id = $1 AND generation = 2
			AND state = 'awaiting_signature'`, a.releaseID).Scan(&releaseBytes)
		if err == nil {
			break
		}
		require.ErrorIs(t, err, pgx.ErrNoRows)
		select {
		case r := <-done:
			t.Fatalf("the CLI ended before the round awaited a signature: %d\n%s", r.code, r.errOut)
		default:
		}
		require.True(t, time.Now().Before(deadline), "no round awaits a signature")
		time.Sleep(50 * time.Millisecond)
	}
	rel, err := apt.ParseRelease(releaseBytes)
	require.NoError(t, err)
	var xzSum string
	for _, f := range rel.Files {
		if f.Path == "main/binary-amd64/Packages.xz" {
			xzSum = f.SHA256
		}
	}
	require.NotEmpty(t, xzSum)
	evil, err := apt.GenerateIndexes("main", "amd64", []apt.Package{{
		Control:  apt.Paragraph{{Name: "Package", Value: "evil"}, {Name: "Version", Value: "6.6.6"}, {Name: "Architecture", Value: "amd64"}},
		Filename: "pool/main/e/evil/evil_6.6.6_amd64.deb", Size: 1, SHA256: strings.Repeat("0", 64)}}, []apt.Compression{apt.XZ})
	require.NoError(t, err)
	s3, _ := blobtest.New(t)
	key := a.prefix + "dists/stable/main/binary-amd64/by-hash/SHA256/" + xzSum
	_, err = s3.Put(ctx, key, bytes.NewReader(evil[1].Data), int64(len(evil[1].Data)), blob.PutOptions{})
	require.NoError(t, err)
	open()

	r := <-done
	require.Equal(t, 1, r.code, "stdout: %s\nstderr: %s", r.out, r.errOut)
	require.Contains(t, r.errOut, "main/binary-amd64/Packages.xz fetched by hash "+xzSum+" is not what the Release lists")
	gen, packages := a.published(t)
	require.Equal(t, int64(1), gen)
	require.NotContains(t, packages, "Package: good")
}

// TestSignerConcurrentVerifiedRound: CLIs whose changes share one round each
// check it (every change is theirs or another honest CLI's) and it
// publishes.
func TestSignerConcurrentVerifiedRound(t *testing.T) {
	t.Parallel()
	a := setupSignerAttack(t)
	ctx := context.Background()
	release := a.holdLease(t)
	const n = 4
	var wg sync.WaitGroup
	results := make([]struct {
		errOut string
		code   int
	}, n)
	for i := range n {
		deb := writeDeb(t, a.dir, debtest.Options{Package: fmt.Sprintf("ok%d", i), Version: "1.0", Architecture: "amd64"})
		wg.Go(func() {
			_, results[i].errOut, results[i].code = a.cli(ctx, "pkg", "add", "--repo", "atk", "--release", "stable",
				"--key", a.key, "--accept-from", "initial", deb)
		})
	}
	a.waitPending(t, n)
	release()
	wg.Wait()
	checked := 0
	for i, r := range results {
		require.Equal(t, 0, r.code, "CLI %d: %s", i, r.errOut)
		if strings.Contains(r.errOut, "checked: generation 2 is generation 1 plus exactly these changes") {
			checked++
		}
	}
	require.Positive(t, checked)
	gen, packages := a.published(t)
	require.Equal(t, int64(2), gen)
	for i := range n {
		require.Contains(t, packages, fmt.Sprintf("Package: ok%d\n", i))
	}
	require.Contains(t, packages, "Package: base\n")
}

// TestAttackSignerFreeze: a server that gets a Release signed with a
// Valid-Until far ahead, or dated in the future, could replay that
// generation as current until then (a freeze attack). Tampered in Postgres
// behind the signer's back (the release's valid_for, its last Date), the
// round is refused: exit 1, unverified_round, nothing published. The
// listed valid_for update before it (generation 2) passes the same check.
func TestAttackSignerFreeze(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, tamper, refusal string
	}{
		{"Valid-Until pushed ten years ahead", `UPDATE releases SET valid_for = interval '3650 days' WHERE id = $1`,
			"the Release to sign has a validity of 87600h0m0s"},
		{"Date a month in the future", `UPDATE releases SET release_date = now() + interval '30 days' WHERE id = $1`,
			"ahead of this machine's clock"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := setupSignerAttack(t)
			ctx := context.Background()
			a.mustCLI("release", "update", "--repo", "atk", "--release", "stable", "--key", a.key, "--valid-for", "7d")
			gen, _ := a.published(t)
			require.Equal(t, int64(2), gen, "the listed valid_for update is signed")

			_, err := a.conn.Exec(ctx, tc.tamper, a.releaseID)
			require.NoError(t, err)
			good := writeDeb(t, a.dir, debtest.Options{Package: "good", Version: "1.0", Architecture: "amd64"})
			out, errOut, code := a.cli(ctx, "pkg", "add", "--repo", "atk", "--release", "stable", "--key", a.key, good)
			require.Equal(t, 1, code, "stdout: %s\nstderr: %s", out, errOut)
			require.Contains(t, errOut, "unverified_round: refusing to sign round")
			require.Contains(t, errOut, tc.refusal)
			gen, packages := a.published(t)
			require.Equal(t, int64(2), gen)
			require.NotContains(t, packages, "Package: good")
		})
	}
}
