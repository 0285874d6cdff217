package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/mirror"
)

// importTimeout is import's default --timeout: a whole repository is
// downloaded and uploaded, which takes long for a large one.
const importTimeout = 6 * time.Hour

type importFlags struct {
	repo, release, from, dist string
	components, archs         []string
	keyring                   string
	parallel                  int
	sign                      signFlags
}

func (a *app) importCommand() *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "import --repo REPO --release NAME --from URL --dist DIST [--component C…] [--arch A…] [--keyring FILE]",
		Short: "Copy the packages of a published APT repository (aptly, reprepro, deb-s3…) into a release",
		Long: `Read a published APT repository over HTTP(S) and publish its packages in a
release of aptq, in the same components. This is how a repository moves to aptq
from aptly, reprepro, deb-s3 or apt-ftparchive: whatever wrote it, apt reads it
as dists/DIST/{InRelease,Release,Release.gpg}, Packages indexes and pool files.

What is read, and checked, in order:
  1. the target release: it must exist with the chosen components and
     architectures (nothing is created; a mismatch costs no download);
  2. dists/DIST/InRelease, else Release and Release.gpg, whose signature must
     be by a key of --keyring (armored or binary; gpg --export KEYID > FILE);
     without --keyring a warning says nothing was authenticated;
  3. one Packages index per component and architecture (default: all those the
     source's Release lists; its binary-all index too when listed), .xz, else
     .gz, else plain, whose size and SHA256 must be the Release's;
  4. each pool file, streamed straight to the server (never held in memory)
     and checked against its index's Size and SHA256 on the way: a file that
     differs fails, named, and nothing of it is published.
The source is untrusted: a Filename must be a relative path inside the
repository (no "..", no absolute path), redirects must stay on the source's
host, and every read is bounded in size and time.

Packages the release has already (same content, same component) are skipped
and files the server has are not uploaded again, so after a failure the same
command continues where it stopped. The rest is published like "aptq pkg add"
with many files: --parallel transfers at once, changes of at most 1000
packages that coalesce into as few rounds as the server cuts, each round
signed here once. With --json, the object "aptq pkg add" prints; "state" is
"unchanged" when nothing was left to import.

Examples:
  # from aptly: the root of a published repository ("aptly publish repo …
  # filesystem:NAME:" or "aptly serve"), signed by aptly's gpg key
  gpg --export 0xKEYID > aptly.gpg
  aptq import --repo acme --release bookworm --from https://apt.old.example.com/ \
      --dist bookworm --keyring aptly.gpg

  # from reprepro: its base directory (with dists/ and pool/) served over HTTP;
  # SignWith in conf/distributions names the key
  aptq import --repo acme --release stable --from https://debian.example.com/ \
      --dist stable --component main,contrib --arch amd64 --keyring reprepro.asc

  # from deb-s3: a standard repository in a bucket; give the bucket's HTTP(S)
  # endpoint and prefix, and the key deb-s3 --sign used
  aptq import --repo acme --release focal \
      --from https://my-bucket.s3.eu-west-1.amazonaws.com/ubuntu/ \
      --dist focal --keyring deb-s3.asc

The command exits 0 once every package is published; --timeout defaults to 6h
here (exit 3 when it runs out; a rerun continues).
` + verifyHelp + "\n" + signingHelp,
		Args: cobra.NoArgs,
		RunE: a.action(importTimeout, func(cmd *cobra.Command, _ []string) error {
			return a.runImport(cmd.Context(), f)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", "", "repository name (required)")
	fl.StringVar(&f.release, "release", "", "release name (required)")
	fl.StringVar(&f.from, "from", "", "the source repository's root URL, the directory holding dists/ and pool/ (required)")
	fl.StringVar(&f.dist, "dist", "", "the source's distribution, as in dists/DIST (required)")
	fl.StringSliceVar(&f.components, "component", nil, "components to import, repeatable or comma-separated (default: all the source lists)")
	fl.StringSliceVar(&f.archs, "arch", nil, "architectures to import, repeatable or comma-separated (default: all the source lists)")
	fl.StringVar(&f.keyring, "keyring", "", "public key file (armored or binary, one or more keys) the source's Release must be signed by")
	fl.IntVar(&f.parallel, "parallel", defaultParallel, "transfers running at once")
	f.sign.register(cmd)
	for _, name := range []string{"repo", "release", "from", "dist"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func (a *app) runImport(ctx context.Context, f importFlags) error {
	if f.parallel < 1 {
		return usageErrorf("--parallel must be at least 1")
	}
	src := &mirror.Source{Dist: f.dist}
	if f.keyring != "" {
		data, err := os.ReadFile(f.keyring)
		if err != nil {
			return failf("invalid", "--keyring: %v", err)
		}
		src.Keyring = [][]byte{data}
	}
	fetcher, err := mirror.NewHTTP(f.from, mirror.HTTPConfig{})
	if err != nil {
		return usageErrorf("--from: %v", err)
	}
	src.Fetcher = fetcher
	c := a.client()
	// The target first: a typo there costs no download.
	rel, err := c.GetRelease(ctx, f.repo, f.release)
	if err != nil {
		return err
	}
	if err := checkTarget(rel, f.components, f.archs); err != nil {
		return err
	}
	plan, err := a.readSource(ctx, src, rel, f)
	if err != nil {
		return err
	}
	todo, err := a.notPublished(ctx, c, f, plan)
	if err != nil {
		return err
	}
	if len(todo) == 0 {
		if a.json {
			return a.printJSON(bulkOutcome{outcome: outcome{State: "unchanged", SignedBy: []string{}},
				Changes: []bulkChangeOutcome{}, Files: []bulkFileOutcome{}})
		}
		a.printf("nothing to import: the %d packages of %s %s are all published in %s/%s\n",
			len(plan), f.from, f.dist, f.repo, f.release)
		return nil
	}
	a.progress("importing %d packages (%d already published)", len(todo), len(plan)-len(todo))
	return a.publishImport(ctx, c, f, src, todo)
}

// checkTarget fails when the release lacks a component or architecture
// named on the command line.
func checkTarget(rel client.Release, components, archs []string) error {
	for _, comp := range components {
		if err := checkComponent(rel, comp); err != nil {
			return err
		}
	}
	for _, arch := range archs {
		if arch != apt.ArchAll && !slices.Contains(rel.Architectures, arch) {
			return failf("invalid", "release %s has no architecture %q (it has %s)",
				rel.Name, arch, strings.Join(rel.Architectures, ", "))
		}
	}
	return nil
}

// readSource reads and checks the source's Release and indexes and returns
// its entries, one per content and component.
func (a *app) readSource(ctx context.Context, src *mirror.Source, rel client.Release, f importFlags) ([]mirror.Entry, error) {
	if len(src.Keyring) == 0 {
		a.ui.Logf("WARNING: no --keyring: nothing read from %s is authenticated; whoever can change it, or the connection to it, chooses what is imported", f.from)
	}
	srel, err := src.ReadRelease(ctx)
	if err != nil {
		return nil, sourceError(err)
	}
	if len(srel.SignedBy) > 0 {
		a.progress("%s: signed by %s", srel.Path, strings.Join(srel.SignedBy, ", "))
	}
	comps, archs := f.components, f.archs
	if len(comps) == 0 {
		comps = srel.Meta.Components
	}
	if len(archs) == 0 {
		archs = slices.DeleteFunc(slices.Clone(srel.Meta.Architectures), func(s string) bool { return s == apt.ArchAll })
	}
	if len(comps) == 0 || len(archs) == 0 {
		return nil, failf("invalid", "%s lists no Components or Architectures; name them with --component and --arch", srel.Path)
	}
	if err := checkTarget(rel, comps, archs); err != nil {
		var ce *cliError
		if errors.As(err, &ce) {
			ce.msg += fmt.Sprintf("; the source has components %s and architectures %s: choose with --component and --arch",
				strings.Join(comps, ", "), strings.Join(archs, ", "))
		}
		return nil, err
	}
	indexes, err := srel.Indexes(comps, archs)
	if err != nil {
		return nil, sourceError(err)
	}
	var entries []mirror.Entry
	seen := map[[2]string]bool{}             // component, SHA256
	versions := map[[2]string]mirror.Entry{} // component, "name version arch"
	for _, ix := range indexes {
		a.ui.Busy("reading " + ix.File.Path)
		err := src.ReadIndex(ctx, ix, func(e mirror.Entry) error {
			if seen[[2]string{e.Component, e.SHA256}] {
				return nil // arch all packages are in every binary-<arch> index
			}
			seen[[2]string{e.Component, e.SHA256}] = true
			key := [2]string{e.Component, e.Package + " " + e.Version + " " + e.Architecture}
			if prev, ok := versions[key]; ok {
				return fmt.Errorf("%s and %s are both %s in %s with different content", prev.Filename, e.Filename, key[1], e.Component)
			}
			versions[key] = e
			entries = append(entries, e)
			return nil
		})
		a.ui.ClearStatus()
		if err != nil {
			return nil, sourceError(err)
		}
	}
	a.progress("%s %s: %d packages in %d index files (%s)", f.from, f.dist, len(entries), len(indexes), strings.Join(comps, ", "))
	return entries, nil
}

// sourceError marks a failure of the source (not of the server) for the user.
func sourceError(err error) error {
	return failf("source", "%v; nothing was uploaded", err)
}

// notPublished returns the entries whose content the release does not
// have in that component yet, so that a rerun starts where one stopped.
func (a *app) notPublished(ctx context.Context, c *client.Client, f importFlags, entries []mirror.Entry) ([]mirror.Entry, error) {
	have, err := c.ListReleasePackages(ctx, f.repo, f.release, client.PackageFilter{})
	if err != nil {
		return nil, err
	}
	published := make(map[[2]string]bool, len(have))
	for _, p := range have {
		published[[2]string{p.Component, p.SHA256}] = true
	}
	var todo []mirror.Entry
	for _, e := range entries {
		if !published[[2]string{e.Component, e.SHA256}] {
			todo = append(todo, e)
		}
	}
	return todo, nil
}
