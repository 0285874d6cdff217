package worker

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/blob/blobtest"
	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/sign"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/store/storetest"
)

// bundle is a release on a fresh database and the real S3, a signer whose
// public key the repository registers, and a worker factory.
type bundle struct {
	ctx      context.Context
	store    *store.Store
	blob     blob.Blob
	listener *store.Listener
	tenant   store.Tenant
	repo     store.Repository
	release  store.Release
	signer   *sign.Signer
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st := storetest.NewStore(t)
	s3, _ := blobtest.New(t)
	listener := store.NewListener(st.Pool, slog.New(slog.DiscardHandler))
	go listener.Run(ctx)

	b := &bundle{ctx: ctx, store: st, blob: s3, listener: listener}
	var err error
	b.tenant, _, err = st.CreateTenant(ctx, "w-"+systest.RandomHex(6))
	require.NoError(t, err)
	b.repo, err = st.CreateRepository(ctx, b.tenant, "repo")
	require.NoError(t, err)
	priv, pub, err := sign.GenerateKey("worker test", "w@example.com")
	require.NoError(t, err)
	b.signer, err = sign.ParsePrivateKey(priv, nil)
	require.NoError(t, err)
	pk, err := sign.ParsePublicKey(pub)
	require.NoError(t, err)
	_, err = st.AddSigningKey(ctx, b.repo.ID, pk.Fingerprint, string(pk.Armored))
	require.NoError(t, err)
	b.release, err = st.CreateRelease(ctx, store.Release{RepositoryID: b.repo.ID, Name: "stable",
		Origin: "o", Label: "l", Suite: "stable", Codename: "stable",
		Components: []string{"main"}, Architectures: []string{"amd64", "arm64"}, Compressions: []string{"gz"}})
	require.NoError(t, err)
	return b
}

// worker returns a publish worker named holder.
func (b *bundle) worker(holder string) *PublishWorker {
	return NewPublishWorker(Config{Store: b.store, Blob: b.blob, Listener: b.listener,
		Logger: slog.New(slog.DiscardHandler), Holder: holder, LeaseTTL: 30 * time.Second,
		SignatureTimeout: time.Minute})
}

// addChange records a pending change adding a new package, uploaded as
// the API does (the worker places its pool file once committed).
func (b *bundle) addChange(t *testing.T, name string) store.Change {
	t.Helper()
	return b.addArchChange(t, name, "amd64")
}

// addArchChange is addChange for a package of the given architecture.
func (b *bundle) addArchChange(t *testing.T, name, arch string) store.Change {
	t.Helper()
	p := b.uploadPackage(t, debtest.Options{Package: name, Version: "1.0", Architecture: arch})
	c, err := b.store.InsertChange(b.ctx, b.store.Pool, b.release.ID, nil, []store.ChangeAdd{{PackageID: p.ID,
		Component: "main", Architecture: p.Architecture,
		Filename: apt.PoolPath("main", p.Source, p.Name, p.Version, p.Architecture)}}, nil)
	require.NoError(t, err)
	return c
}

// uploadPackage records a built .deb and stores it where the API keeps uploads.
func (b *bundle) uploadPackage(t *testing.T, o debtest.Options) store.Package {
	t.Helper()
	deb := debtest.Build(t, o)
	ctl, err := apt.ReadDeb(bytesReader(deb))
	require.NoError(t, err)
	s256, s512, s1, m5 := sha256.Sum256(deb), sha512.Sum512(deb), sha1.Sum(deb), md5.Sum(deb)
	p, _, err := b.store.InsertPackage(b.ctx, store.Package{TenantID: b.tenant.ID, SHA256: hex.EncodeToString(s256[:]),
		SHA512: hex.EncodeToString(s512[:]), SHA1: hex.EncodeToString(s1[:]), MD5: hex.EncodeToString(m5[:]),
		Size: int64(len(deb)), Name: ctl.Package, Version: ctl.Version, Architecture: ctl.Architecture,
		Source: ctl.Source, Control: ctl.Paragraph.String()})
	require.NoError(t, err)
	_, err = b.blob.Put(b.ctx, store.PackageBlobKey(p.TenantID, p.SHA256), bytesReader(deb), int64(len(deb)), blob.PutOptions{})
	require.NoError(t, err)
	return p
}

// signRound signs a round awaiting a signature, as a CLI would.
func (b *bundle) signRound(t *testing.T, r store.Round) store.Round {
	t.Helper()
	inRelease, releaseGPG, err := sign.Sign(r.ReleaseBytes, b.signer)
	require.NoError(t, err)
	signed, err := b.store.SignRound(b.ctx, r.ID, r.Generation, inRelease, releaseGPG, []string{b.signer.Fingerprint()})
	require.NoError(t, err)
	return signed
}

// expireLease makes the current lease look expired, as when its holder was
// paused past the TTL.
func (b *bundle) expireLease(t *testing.T) {
	t.Helper()
	_, err := b.store.Pool.Exec(b.ctx, `UPDATE release_leases SET expires_at = now() - interval '1 second' WHERE release_id = $1`, b.release.ID)
	require.NoError(t, err)
}

// lease takes the release's lease for w.
func (b *bundle) lease(t *testing.T, w *PublishWorker) store.Lease {
	t.Helper()
	l, ok, err := b.store.AcquireLease(b.ctx, b.release.ID, w.cfg.Holder, w.cfg.LeaseTTL)
	require.NoError(t, err)
	require.True(t, ok, "lease taken")
	return l
}
