package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

// deletePoll is how often a delete command looks whether the deletion ended.
const deletePoll = 500 * time.Millisecond

func (a *app) releaseDeleteCommand() *cobra.Command {
	var repo, release string
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete --repo REPO --release NAME --yes",
		Short: "Delete a release from S3 and the server, for good",
		Long: `Delete a release: apt clients get 404 for it from the first step on (InRelease
goes first, then Release and Release.gpg, then the indexes), never a broken
repository. Its history goes with it; the audit log keeps the deletion. Pool
files that no other release holds are removed by garbage collection after its
grace. The name can be created again and starts at generation 1.

Refused (409) while the release has unpublished changes or a round in
progress. It waits until the server has finished (a worker runs the delete,
and resumes it after a crash).`,
		Args: cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return usageErrorf("deleting release %s of %s cannot be undone: add --yes to do it", release, repo)
			}
			c := a.client()
			return a.awaitDelete(cmd.Context(), "release "+release+" of "+repo,
				func(ctx context.Context) (int64, error) { return c.DeleteRelease(ctx, repo, release) },
				func(ctx context.Context) error { _, err := c.GetRelease(ctx, repo, release); return err })
		}),
	}
	f := cmd.Flags()
	repoReleaseFlags(cmd, &repo, &release)
	f.BoolVar(&yes, "yes", false, "confirm the deletion (required)")
	return cmd
}

func (a *app) repoDeleteCommand() *cobra.Command {
	var repo string
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete --repo REPO --yes",
		Short: "Delete a repository, its releases and its pool, for good",
		Long: `Delete a repository: each release as "aptq release delete" does, then every
object left under its prefix (the pool), then its keys and records. The audit
log keeps the deletion. Refused (409) while any release has unpublished
changes or a round in progress. It waits until the server has finished.`,
		Args: cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return usageErrorf("deleting repository %s (every release and package of it) cannot be undone: add --yes to do it", repo)
			}
			c := a.client()
			return a.awaitDelete(cmd.Context(), "repository "+repo,
				func(ctx context.Context) (int64, error) { return c.DeleteRepo(ctx, repo) },
				func(ctx context.Context) error { _, err := c.GetRepo(ctx, repo); return err })
		}),
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the deletion (required)")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

// awaitDelete requests a delete and waits until lookup says not_found. A
// delete already under way (a retried request, or a second user) is
// waited for as well.
func (a *app) awaitDelete(ctx context.Context, what string, request func(context.Context) (int64, error),
	lookup func(context.Context) error) error {
	jobID, err := request(ctx)
	switch {
	case client.ErrorCode(err) == "deleting":
		a.progress("%s is being deleted already", what)
	case err != nil:
		return err
	default:
		a.progress("deleting %s: job %d", what, jobID)
	}
	t := time.NewTicker(deletePoll)
	defer t.Stop()
	for {
		err := lookup(ctx)
		if client.ErrorCode(err) == client.CodeNotFound {
			break
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return &cliError{code: "timeout", exit: exitTimeout,
				msg: fmt.Sprintf("%s is still being deleted after %s; the server finishes it", what, a.deadline)}
		case <-t.C:
		}
	}
	if a.json {
		return a.printJSON(map[string]any{"deleted": what, "job_id": jobID})
	}
	a.printf("deleted %s\n", what)
	return nil
}

// releaseOptions names the release's Release options for show.
func releaseOptions(r client.Release) string {
	var out []string
	if r.NotAutomatic {
		out = append(out, "NotAutomatic")
	}
	if r.ButAutomaticUpgrades {
		out = append(out, "ButAutomaticUpgrades")
	}
	if r.SignedBy != "" {
		out = append(out, "Signed-By: "+r.SignedBy)
	}
	if r.Deleting {
		out = append(out, "being deleted")
	}
	return firstNonEmpty(strings.Join(out, ", "), "-")
}
