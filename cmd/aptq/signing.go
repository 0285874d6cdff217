package main

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/aptq/aptq/client"
)

// signing is what the jobs of one command share while they are followed:
// the keys, the round checker, the command's own changes and the rounds
// already signed. Pending changes of a release coalesce into one round, so
// a command that submitted several changes may see one round through
// several of its jobs; it signs that round once.
type signing struct {
	signer  releaseSigner
	checker *roundChecker // nil: --no-verify

	mu    sync.Mutex
	tried map[roundKey]bool // rounds signed (or being signed) already
	// own maps each change this command submitted to the packages it
	// uploaded for it; a change that adds nothing it uploaded is absent.
	own map[int64][]string
	// sources maps each .dsc this command read (by SHA-256) to the Sources
	// stanza it makes, which the round's add of it must carry.
	sources map[string]string
	// ownFileLists maps the SHA-256 of each .deb this command read to its
	// file list, which Contents indices must list for it.
	ownFileLists map[string][]string
	signers      []string // what the server accepted from this CLI's signatures
	// ready is closed once every change of the command is submitted; rounds
	// are signed only then (see hold).
	ready chan struct{}
}

type roundKey struct{ id, generation int64 }

// newSigning loads the signing keys and checks, before anything is uploaded
// or submitted, that one of them is registered on repo (unless repo is "").
func (a *app) newSigning(ctx context.Context, c *client.Client, s signFlags, repo string) (*signing, error) {
	signer, err := a.loadSigner(ctx, s)
	if err != nil {
		return nil, err
	}
	if repo != "" {
		if err := checkKeyRegistered(ctx, c, repo, signer); err != nil {
			return nil, err
		}
	}
	sess := &signing{signer: signer, tried: map[roundKey]bool{}, own: map[int64][]string{}, sources: map[string]string{},
		ownFileLists: map[string][]string{}, ready: make(chan struct{})}
	close(sess.ready)
	if !s.verify.noVerify && !noVerifyFromEnv(a.getenv("APTQ_NO_VERIFY")) {
		keys, err := publicKeys(ctx, signer)
		if err != nil {
			return nil, err
		}
		sess.checker = &roundChecker{flags: s.verify, keys: keys}
	}
	return sess, nil
}

// hold makes signers wait (while their jobs are still polled) until
// release: a command that submits several changes signs no round before the
// last is submitted, so that they coalesce into as few rounds as can be.
func (s *signing) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready = make(chan struct{})
}

func (s *signing) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ready)
}

// wait returns once signing may start.
func (s *signing) wait(ctx context.Context) error {
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// claim reports whether the caller is the first to take round r (at its
// generation) to sign it.
func (s *signing) claim(r *client.Round) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := roundKey{r.ID, r.Generation}
	if s.tried[k] {
		return false
	}
	s.tried[k] = true
	return true
}

// addOwn records a change this command submitted and the packages it
// uploaded for it, which that change must add exactly in any round signed.
func (s *signing) addOwn(changeID int64, sha256s []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.own[changeID] = slices.Clone(sha256s)
}

// addOwnSource records the Sources stanza of a .dsc this command read.
func (s *signing) addOwnSource(sha256, stanza string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sources[sha256] = stanza
}

func (s *signing) ownSources() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.sources)
}

func (s *signing) ownAdds() map[int64][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.own)
}

// addOwnFiles records the file list read from an uploaded .deb.
func (s *signing) addOwnFiles(sha256 string, files []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ownFileLists[sha256] = files
}

func (s *signing) ownFiles() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.ownFileLists)
}

func (s *signing) accepted(fingerprints []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range fingerprints {
		if !slices.Contains(s.signers, f) {
			s.signers = append(s.signers, f)
		}
	}
}

// acceptedSigners are the fingerprints the server accepted from this CLI's
// signatures; empty when other clients signed every round.
func (s *signing) acceptedSigners() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.signers)
}
