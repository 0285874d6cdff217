package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

func (a *app) pkgCommand() *cobra.Command {
	return a.group("pkg", "Add or remove packages, sign the release and wait until it is published",
		a.pkgAddCommand(), a.pkgRemoveCommand())
}

// publishFlags are the flags pkg add and pkg remove share.
type publishFlags struct {
	repo, release, component, key string
}

func (p *publishFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.repo, "repo", "", "repository name (required)")
	f.StringVar(&p.release, "release", "", "release name (required)")
	f.StringVar(&p.component, "component", "main", "component")
	f.StringVar(&p.key, "key", "", "private signing key file (default: env APTQ_SIGNING_KEY)")
	_ = cmd.MarkFlagRequired("repo")
	_ = cmd.MarkFlagRequired("release")
}

const publishLong = `

The release's new Release file is signed here, with the key from --key or
APTQ_SIGNING_KEY (a path, or the armored key itself; passphrase from
APTQ_SIGNING_KEY_PASSPHRASE), and the command waits until the change is
published (exit 0), fails (exit 1) or --timeout (default 10m) runs out (exit 3). The round may
hold other clients' changes too; whichever client signs first publishes them all.
With --json, one object is printed at the end:
  {"job_id":…,"state":…,"generation":…,"url":…,"error":{"code":…,"message":…}}`

func (a *app) pkgAddCommand() *cobra.Command {
	var p publishFlags
	cmd := &cobra.Command{
		Use:   "add --repo REPO --release NAME [--component main] [--key FILE.asc] FILE.deb…",
		Short: "Upload packages and publish them in a release",
		Long: `Upload .deb files (skipping those the server already has, by SHA-256) and add
them to a component of a release, in one change.` + publishLong,
		Args: cobra.MinimumNArgs(1),
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, files []string) error {
			return a.publish(cmd.Context(), p, func(ctx context.Context, c *client.Client, _ client.Release) (client.ChangeRequest, error) {
				var change client.ChangeRequest
				// A typo in the last file should not cost the upload of the first.
				for _, path := range files {
					if err := checkRegular(path); err != nil {
						return change, err
					}
				}
				for _, path := range files {
					sum, err := a.upload(ctx, c, path)
					if err != nil {
						return change, err
					}
					change.Adds = append(change.Adds, client.Add{SHA256: sum, Component: p.component})
				}
				return change, nil
			})
		}),
	}
	p.register(cmd)
	return cmd
}

// upload makes sure the server has the file's content and returns its SHA-256.
// The file is read twice, to hash and to send, and never held in memory.
func (a *app) upload(ctx context.Context, c *client.Client, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	has, err := c.HasPackage(ctx, sum)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if has {
		a.progress("%s: already on the server (sha256 %s)", path, sum)
		return sum, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	a.progress("%s: uploading %d bytes", path, info.Size())
	pkg, err := c.UploadPackage(ctx, sum, f, info.Size())
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	a.progress("%s: uploaded %s %s %s", path, pkg.Name, pkg.Version, pkg.Architecture)
	return sum, nil
}

func checkRegular(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return failf("invalid", "%s is not a regular file", path)
	}
	return nil
}

func (a *app) pkgRemoveCommand() *cobra.Command {
	var p publishFlags
	cmd := &cobra.Command{
		Use:   "remove --repo REPO --release NAME [--component main] [--key FILE.asc] NAME=VERSION[:ARCH]…",
		Short: "Remove packages from a release and publish it",
		Long: `Remove packages from a component of a release, in one change.

Each package is NAME=VERSION[:ARCH], e.g. hello=1:2.0-1:arm64. ARCH is one of the
release's architectures, or "all" for Architecture: all packages. It may be left
out only when the release has a single architecture, which is then used. A
version's epoch colon is not taken for ARCH: only a release architecture or
"all" after the last colon is.` + publishLong,
		Args: cobra.MinimumNArgs(1),
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, specs []string) error {
			return a.publish(cmd.Context(), p, func(_ context.Context, _ *client.Client, rel client.Release) (client.ChangeRequest, error) {
				var change client.ChangeRequest
				for _, spec := range specs {
					rm, err := parseRemove(spec, rel)
					if err != nil {
						return change, err
					}
					rm.Component = p.component
					change.Removes = append(change.Removes, rm)
				}
				return change, nil
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
