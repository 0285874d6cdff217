package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/verify"
)

const verifyHelp = `
Before signing, the round is checked (unless --no-verify): the previous
generation's InRelease must verify with one of the signing keys, and the new
Release must be that generation plus exactly the round's changes, which are
printed with the token that submitted each. Changed indexes are fetched by
hash and rebuilt here from the previous ones and the uploaded control
paragraphs; Packages, Packages.gz and Packages.xz must match what they give.
Its Date must be within 5 min ahead and 1 h behind this machine's clock, and
Valid-Until - Date the previous one's unless a listed update sets valid_for.
A round that does not add up, or that holds a change from a token
--accept-from does not name, is refused (exit 1) and this CLI's change is
cancelled. --no-verify (or APTQ_NO_VERIFY=1) signs whatever the server sends:
use it only for a round you have checked otherwise.`

// maxChangeLines is how many of a round's package changes are printed.
const maxChangeLines = 200

// verifyFlags say how a round is checked before it is signed.
type verifyFlags struct {
	noVerify   bool
	acceptFrom []string
}

func (v *verifyFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&v.noVerify, "no-verify", false, "sign rounds without checking them against the previous generation\n"+
		"(default: env APTQ_NO_VERIFY=1); see \"Before signing\" above")
	f.StringSliceVar(&v.acceptFrom, "accept-from", nil, "refuse to sign a round holding a change from a token not named here\n"+
		"(token names, comma-separated or repeated)")
}

// roundChecker checks rounds before this CLI signs them.
type roundChecker struct {
	flags verifyFlags
	keys  [][]byte // the public keys of the signing keys
}

// checkRound fetches the round, which must hold this CLI's change changeID,
// prints its changes and verifies it; the error says why it may not be
// signed.
func (a *app) checkRound(ctx context.Context, c *client.Client, sess *signing, r *client.Round, changeID int64) error {
	rc := sess.checker
	view, err := c.GetRound(ctx, r.ID)
	if client.ErrorCode(err) == client.CodeNotFound {
		return failf("unverified_round", "round %d cannot be checked before signing: the server does not show it "+
			"(a server older than GET /v1/rounds/{id} needs --no-verify): %v", r.ID, err)
	}
	if err != nil {
		return fmt.Errorf("read round %d to check it before signing: %w", r.ID, err)
	}
	if view.Generation != r.Generation || view.ReleaseBytes != r.Release {
		return failf("unverified_round", "refusing to sign round %d: the server describes it differently from the job "+
			"(generation %d, not %d, or other Release bytes)", r.ID, view.Generation, r.Generation)
	}
	if wait := staggerFor(view, changeID); wait > 0 {
		if view, err = a.afterStagger(ctx, c, r, wait); err != nil {
			return err
		}
	}
	a.progress("round %d (generation %d) holds %d change(s):", view.ID, view.Generation, len(view.Changes))
	// A rollback may touch thousands of packages; the log shows the first.
	lines := 0
	show := func(format string, args ...any) {
		if lines++; lines <= maxChangeLines {
			a.progress(format, args...)
		}
	}
	round := verify.Round{ID: view.ID, Generation: view.Generation, Release: []byte(view.ReleaseBytes),
		PreviousInRelease: []byte(view.PreviousInRelease)}
	for _, ch := range view.Changes {
		who := ch.TokenName
		if who == "" {
			who = "unknown token"
		}
		vc := verify.Change{ID: ch.ID, JobID: ch.JobID, TokenName: ch.TokenName}
		if u := ch.Update; u != nil {
			if vc.Update, err = verifyUpdate(u); err != nil {
				return failf("unverified_round", "refusing to sign round %d: change %d (job %d): %v", r.ID, ch.ID, ch.JobID, err)
			}
			for _, line := range describeUpdate(u) {
				show("  * %s (change %d, job %d, by %s)", line, ch.ID, ch.JobID, who)
			}
		}
		if len(ch.Adds) == 0 && len(ch.Removes) == 0 && ch.Update == nil {
			show("  change %d (job %d, by %s): no package changes", ch.ID, ch.JobID, who)
		}
		for _, ad := range ch.Adds {
			show("  + %s %s %s in %s (change %d, job %d, by %s)", ad.Name, ad.Version, ad.Architecture,
				ad.Component, ch.ID, ch.JobID, who)
			vc.Adds = append(vc.Adds, verify.Add{SHA256: ad.SHA256, Name: ad.Name, Version: ad.Version,
				Architecture: ad.Architecture, Component: ad.Component, Filename: ad.Filename, Size: ad.Size,
				MD5: ad.MD5, SHA1: ad.SHA1, SHA512: ad.SHA512, Control: ad.Control, Files: ad.Files})
		}
		for _, rm := range ch.Removes {
			show("  - %s %s %s from %s (change %d, job %d, by %s)", rm.Name, rm.Version, rm.Architecture,
				rm.Component, ch.ID, ch.JobID, who)
			vc.Removes = append(vc.Removes, verify.Remove{Name: rm.Name, Version: rm.Version,
				Architecture: rm.Architecture, Component: rm.Component})
		}
		round.Changes = append(round.Changes, vc)
	}
	if len(view.Retention) > 0 {
		show("  retention (keep %d versions) removes:", view.KeepVersions)
	}
	round.KeepVersions = view.KeepVersions
	for _, rm := range view.Retention {
		show("  - %s %s %s from %s (retention)", rm.Name, rm.Version, rm.Architecture, rm.Component)
		round.Retention = append(round.Retention, verify.Remove{Name: rm.Name, Version: rm.Version,
			Architecture: rm.Architecture, Component: rm.Component})
	}
	if lines > maxChangeLines {
		a.progress("  … and %d more", lines-maxChangeLines)
	}
	cfg := verify.Config{PublicKeys: rc.keys, AcceptFrom: rc.flags.acceptFrom, OwnChange: changeID, OwnAdds: sess.ownAdds(),
		OwnSources: sess.ownSources(), OwnFiles: sess.ownFiles(), Now: time.Now()}
	fetcher := &repoFetcher{c: c, url: view.URL, release: view.Release}
	start := time.Now()
	if err := verify.Check(ctx, cfg, round, fetcher); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return failf("unverified_round", "refusing to sign round %d (generation %d): %v", r.ID, r.Generation, err)
	}
	a.progress("round %d checked: generation %d is generation %d plus exactly these changes (%d ms, %.1f MB fetched)",
		r.ID, r.Generation, r.Generation-1, time.Since(start).Milliseconds(), float64(fetcher.fetched.Load())/1e6)
	return nil
}

// repoFetcher reads by-hash objects through the server's public read path.
type repoFetcher struct {
	c            *client.Client
	url, release string
	fetched      atomic.Int64 // bytes
}

func (f *repoFetcher) ByHash(ctx context.Context, dir, sum string, maxSize int64) ([]byte, error) {
	data, err := f.c.FetchRepoFile(ctx, f.url, "dists/"+f.release+"/"+dir+"/by-hash/SHA256/"+sum, maxSize)
	f.fetched.Add(int64(len(data)))
	if client.ErrorCode(err) == client.CodeNotFound {
		return nil, fmt.Errorf("%s/by-hash/SHA256/%s: %w", dir, sum, verify.ErrNotFound)
	}
	return data, err
}

// publicKeys returns the public halves of the signing keys.
func publicKeys(ctx context.Context, s releaseSigner) ([][]byte, error) {
	keys, err := s.PublicKeys(ctx)
	if err != nil {
		return nil, failf("signing_key", "export the signing keys' public keys to check rounds: %v", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("no public key to check rounds with")
	}
	return keys, nil
}

// noVerifyFromEnv is APTQ_NO_VERIFY as a boolean.
func noVerifyFromEnv(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// errSignedMeanwhile ends a check that another client's signature made
// needless.
var errSignedMeanwhile = errors.New("signed by another client meanwhile")

// The clients whose changes share a round may each sign it, and each check
// costs its signer the fetch and decoding of the changed indexes: 25 CLIs
// with changes in one round checked it 25 times over. The client of the
// round's first change checks at once; the n-th waits n steps (at most
// maxStagger) and checks only if the round still awaits a signature. A
// client that is gone delays the others by at most maxStagger.
const (
	staggerStep = 100 * time.Millisecond
	maxStagger  = 2 * time.Second
)

// staggerFor is how long the client of changeID waits before checking
// the round: its change's place among the round's changes, in steps.
func staggerFor(view client.RoundView, changeID int64) time.Duration {
	for i, ch := range view.Changes {
		if ch.ID == changeID {
			return min(time.Duration(i)*staggerStep, maxStagger)
		}
	}
	return 0
}

// afterStagger waits, then reads the round again: errSignedMeanwhile if it
// no longer awaits a signature.
func (a *app) afterStagger(ctx context.Context, c *client.Client, r *client.Round, wait time.Duration) (client.RoundView, error) {
	t := time.NewTimer(wait)
	select {
	case <-ctx.Done():
		t.Stop()
		return client.RoundView{}, ctx.Err()
	case <-t.C:
	}
	view, err := c.GetRound(ctx, r.ID)
	if err != nil {
		return view, fmt.Errorf("read round %d to check it before signing: %w", r.ID, err)
	}
	if view.State != client.JobAwaitingSignature {
		return view, errSignedMeanwhile
	}
	if view.Generation != r.Generation || view.ReleaseBytes != r.Release {
		return view, failf("unverified_round", "refusing to sign round %d: the server describes it differently from the job "+
			"(generation %d, not %d, or other Release bytes)", r.ID, view.Generation, r.Generation)
	}
	return view, nil
}
