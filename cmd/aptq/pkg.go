package main

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

func (a *app) pkgCommand() *cobra.Command {
	return a.group("pkg", "Add, remove and list packages; adding and removing signs and publishes the release",
		a.pkgAddCommand(), a.pkgRemoveCommand(), a.pkgListCommand(), a.pkgShowCommand())
}

// publishFlags are the flags pkg add and pkg remove share.
type publishFlags struct {
	repo, release, component string
	sign                     signFlags
}

func (p *publishFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.repo, "repo", "", "repository name (required)")
	f.StringVar(&p.release, "release", "", "release name (required)")
	f.StringVar(&p.component, "component", "main", "component")
	p.sign.register(cmd)
	_ = cmd.MarkFlagRequired("repo")
	_ = cmd.MarkFlagRequired("release")
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
		Use:   "add --repo REPO --release NAME [--component main] [--parallel 4] [--key FILE.asc…|--gpg KEYID…] FILE.deb…",
		Short: "Upload packages and publish them in a release",
		Long: `Upload .deb files (skipping those the server already has, by SHA-256) and add
them to a component of a release. Any number of files may be given: every
file is checked (a readable .deb of an architecture and component the release
has) before the first byte is uploaded, and all bad files are named at once.
--parallel uploads run at once. Uploads show one progress line on a terminal
and one line per file elsewhere.

A server change holds at most 1000 packages: more files are submitted as
several changes, which coalesce into the release's next round (or two); each
round is signed once. The command exits 0 only when every file is published.
Otherwise it lists which files are published and which are not, and why
(--json: "files" and "changes" beside the fields below); running the same
command again publishes the rest: files the server has are not uploaded
again, and adding a package that is already published changes nothing.` + publishLong,
		Args: cobra.MinimumNArgs(1),
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, files []string) error {
			items := make([]bulkItem, len(files))
			for i, path := range files {
				items[i] = localItem(path, p.component)
			}
			t := bulkTarget{Repo: p.repo, Release: p.release, Sign: p.sign, Parallel: parallel}
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
	return bulkItem{Label: path, Size: -1, Component: component, Open: func() (io.ReadCloser, error) {
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

func (a *app) pkgRemoveCommand() *cobra.Command {
	var p publishFlags
	cmd := &cobra.Command{
		Use:   "remove --repo REPO --release NAME [--component main] [--key FILE.asc…|--gpg KEYID…] NAME=VERSION[:ARCH]…",
		Short: "Remove packages from a release and publish it",
		Long: `Remove packages from a component of a release, in one change.

Each package is NAME=VERSION[:ARCH], e.g. hello=1:2.0-1:arm64. ARCH is one of the
release's architectures, or "all" for Architecture: all packages. It may be left
out only when the release has a single architecture, which is then used. A
version's epoch colon is not taken for ARCH: only a release architecture or
"all" after the last colon is.` + publishLong,
		Args: cobra.MinimumNArgs(1),
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, specs []string) error {
			return a.publish(cmd.Context(), p.sign, p.repo, func(ctx context.Context, c *client.Client) (client.JobRef, error) {
				rel, err := c.GetRelease(ctx, p.repo, p.release)
				if err != nil {
					return client.JobRef{}, err
				}
				if err := checkComponent(rel, p.component); err != nil {
					return client.JobRef{}, err
				}
				var change client.ChangeRequest
				for _, spec := range specs {
					rm, err := parseRemove(spec, rel)
					if err != nil {
						return client.JobRef{}, err
					}
					rm.Component = p.component
					change.Removes = append(change.Removes, rm)
				}
				return c.SubmitChange(ctx, p.repo, p.release, change)
			})
		}),
	}
	p.register(cmd)
	return cmd
}

// parseRemove reads NAME=VERSION[:ARCH] against the release's architectures.
func parseRemove(spec string, rel client.Release) (client.Remove, error) {
	name, rest, ok := strings.Cut(spec, "=")
	if !ok || name == "" || rest == "" {
		return client.Remove{}, usageErrorf("%q: want NAME=VERSION[:ARCH]", spec)
	}
	archs := append(slices.Clone(rel.Architectures), "all")
	version, arch := rest, ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && slices.Contains(archs, rest[i+1:]) {
		version, arch = rest[:i], rest[i+1:]
	}
	if version == "" {
		return client.Remove{}, usageErrorf("%q: want NAME=VERSION[:ARCH]", spec)
	}
	// A Debian version has at most one colon, after a numeric epoch; anything
	// else here is a mistyped architecture.
	if epoch, _, found := strings.Cut(version, ":"); found && (strings.Count(version, ":") > 1 || !isDigits(epoch)) {
		suffix := version[strings.LastIndexByte(version, ':')+1:]
		return client.Remove{}, usageErrorf("%q: %q is not an architecture of release %s (%s)",
			spec, suffix, rel.Name, strings.Join(archs, ", "))
	}
	if arch == "" {
		if len(rel.Architectures) != 1 {
			return client.Remove{}, usageErrorf("%q: release %s has several architectures; say which: %s=%s:ARCH (ARCH one of %s)",
				spec, rel.Name, name, version, strings.Join(archs, ", "))
		}
		arch = rel.Architectures[0]
	}
	return client.Remove{Name: name, Version: version, Architecture: arch}, nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
