package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/apt"
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
	f.StringVar(&p.repo, "repo", "", "repository name (required)")
	f.StringVar(&p.release, "release", "", "release name (required)")
	f.StringVar(&p.component, "component", "main", "component")
	p.sign.register(cmd)
	_ = cmd.MarkFlagRequired("repo")
	_ = cmd.MarkFlagRequired("release")
}

// checkArchitecture reads a .deb's control file and fails before any
// upload when it is not a valid package or the release does not have its
// architecture ("all" goes in every release).
func checkArchitecture(rel client.Release, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ctl, err := apt.ReadControl(f)
	if err != nil {
		return failf("invalid_package", "%s: %v; nothing was uploaded", path, err)
	}
	if ctl.Architecture != "all" && !slices.Contains(rel.Architectures, ctl.Architecture) {
		return failf("invalid", "%s is %s %s for %s, but release %s has no architecture %s (it has %s); nothing was uploaded",
			path, ctl.Package, ctl.Version, ctl.Architecture, rel.Name, ctl.Architecture, strings.Join(rel.Architectures, ", "))
	}
	return nil
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
	cmd := &cobra.Command{
		Use:   "add --repo REPO --release NAME [--component main] [--key FILE.asc…|--gpg KEYID…] FILE.deb…",
		Short: "Upload packages and publish them in a release",
		Long: `Upload .deb files (skipping those the server already has, by SHA-256) and add
them to a component of a release, in one change. Uploads show a progress bar on
a terminal and one line per file elsewhere.` + publishLong,
		Args: cobra.MinimumNArgs(1),
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, files []string) error {
			return a.publish(cmd.Context(), p.sign, p.repo, func(ctx context.Context, c *client.Client) (client.JobRef, error) {
				// A typo in the last file should not cost the upload of the first.
				for _, path := range files {
					if err := checkRegular(path); err != nil {
						return client.JobRef{}, err
					}
				}
				rel, err := c.GetRelease(ctx, p.repo, p.release)
				if err != nil {
					return client.JobRef{}, err
				}
				if err := checkComponent(rel, p.component); err != nil {
					return client.JobRef{}, err
				}
				for _, path := range files {
					if err := checkArchitecture(rel, path); err != nil {
						return client.JobRef{}, err
					}
				}
				var change client.ChangeRequest
				for _, path := range files {
					sum, err := a.upload(ctx, c, path)
					if err != nil {
						return client.JobRef{}, err
					}
					change.Adds = append(change.Adds, client.Add{SHA256: sum, Component: p.component})
					a.uploaded = append(a.uploaded, sum)
				}
				return c.SubmitChange(ctx, p.repo, p.release, change)
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
	name := filepath.Base(path)
	a.ui.Busy(fmt.Sprintf("hashing %s (%s)", name, formatBytes(info.Size())))
	h := sha256.New()
	_, err = io.Copy(h, f)
	a.ui.ClearStatus()
	if err != nil {
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
	t := a.ui.Upload(f, name, info.Size())
	pkg, err := c.UploadPackage(ctx, sum, t, info.Size())
	if err != nil {
		t.Fail()
		return "", fmt.Errorf("%s: %w", path, err)
	}
	t.Done(fmt.Sprintf("%s %s %s", pkg.Name, pkg.Version, pkg.Architecture))
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
