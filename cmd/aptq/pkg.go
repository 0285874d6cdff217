package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

func (a *app) pkgCommand() *cobra.Command {
	return a.group("pkg", "Add, remove and list packages; adding and removing signs and publishes the release",
		a.pkgAddCommand(), a.pkgRemoveCommand(), a.pkgCopyCommand(), a.pkgPruneCommand(), a.pkgListCommand(), a.pkgShowCommand())
}

// publishFlags are the flags pkg add and pkg remove share.
type publishFlags struct {
	repo, release, component string
	sign                     signFlags
}

func (p *publishFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	repoReleaseFlags(cmd, &p.repo, &p.release)
	f.StringVar(&p.component, "component", "main", "component")
	p.sign.register(cmd)
}

// checkComponent fails before any upload when the release has no such
// component, so that a typo costs nothing.
func checkComponent(rel client.Release, component string) error {
	if !slices.Contains(rel.Components, component) {
		return failf("invalid", "release %s has no component %q (it has %s)",
			rel.Name, component, strings.Join(rel.Components, ", "))
	}
	return nil
}

func (a *app) pkgAddCommand() *cobra.Command {
	var p publishFlags
	var parallel int
	cmd := &cobra.Command{
		Use:   "add --repo REPO --release NAME [--component main] [--parallel 4] [--key FILE.asc…|--gpg KEYID…] FILE.deb|FILE.udeb|FILE.dsc|FILE.changes…",
		Short: "Upload packages and publish them in a release",
		Long: `Upload .deb files (skipping those the server already has, by SHA-256) and add
them to a component of a release. Any number of files may be given, e.g.
dist/*.deb. Before the first byte is uploaded every file is read and checked
(a regular file, a .deb the server accepts, of an architecture and a component
the release has; no two contents for one package version), all bad files are
named at once (exit 1), and a quota the files would exceed (the tenant's
upload bytes, the repository's packages) is refused, naming it. --parallel
files are read and uploaded at once. Uploads show one progress line on a
terminal (files, bytes, rate) and one line per file elsewhere.

A source package is given by its .dsc: the files it lists (orig and debian
tarballs or diff, upstream signatures) are read from the .dsc's directory and
checked against its sizes and checksums before anything is uploaded, then
uploaded (those the server lacks) with the .dsc, which is kept byte for byte
(a clearsigned .dsc keeps its signature). It lands in the component's
Sources index, its files in pool/<component>/<prefix>/<source>/.

A udeb (a .deb whose control says Package-Type: udeb, usually named .udeb)
is published for the debian-installer: listed in
<component>/debian-installer/binary-<arch>/Packages only, never in
binary-<arch>/Packages nor in Contents, its pool file named .udeb.

A .changes (dpkg-genchanges, as dput and dupload take it) publishes everything
it lists, read from its directory and checked against its sizes and checksums
first: its .deb and .udeb files and its source package (.dsc with its files),
in one change; its .buildinfo is not published. Its Distribution does not
choose the release (--release does); a different one is printed as a warning.
The .changes itself, signature included, is uploaded and recorded with the
change in the audit log (action change.upload, details.changes_file = its
SHA-256), so operators can find the maintainer's signed upload. One .changes
per command.

A change holds at most 1000 packages (the server's limit): more files are
submitted as several changes, which coalesce into the release's next round
or two; each round is signed once. A change the server refuses because of one
file (a package version the repository holds with other content) is submitted
again without it. The command exits 0 only when every file is published.
Otherwise stdout lists which files are published and which are not, with the
step that failed (check, upload, submit, job) and why; --json prints that as
"files" (file, sha256, package, version, architecture, component, published,
stage, job_id, generation, error), "changes" and "published_files" /
"unpublished_files" beside the fields below, which then describe the first
job that was not published. Running the same command again publishes the
rest: files the server has are not uploaded again, and adding a package that
is already published changes nothing.` + publishLong,
		Args: cobra.MinimumNArgs(1),
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, files []string) error {
			items, changes, err := a.expandChanges(files, p.component, p.release)
			if err != nil {
				return err
			}
			t := bulkTarget{Repo: p.repo, Release: p.release, Sign: p.sign, Parallel: parallel, Changes: changes}
			return a.publishBulk(cmd.Context(), a.client(), t, items)
		}),
	}
	p.register(cmd)
	cmd.Flags().IntVar(&parallel, "parallel", defaultParallel, "how many files are read and uploaded at once")
	return cmd
}

// localItem is a local file to publish. It must be a regular file: a FIFO
// or a device could not be read twice, to check and then to send.
func localItem(path, component string) bulkItem {
	var sourceDir string
	if strings.HasSuffix(path, ".dsc") {
		sourceDir = filepath.Dir(path)
	}
	return bulkItem{Label: path, Size: -1, Component: component, SourceDir: sourceDir, Open: func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		info, err := f.Stat()
		if err == nil && !info.Mode().IsRegular() {
			err = errors.New("not a regular file")
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}}
}
