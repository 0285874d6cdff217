package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

func (a *app) jobListCommand() *cobra.Command {
	var f client.JobFilter
	cmd := &cobra.Command{
		Use:   "list [--repo R] [--release D] [--state S] [--since 1h]",
		Short: "List jobs, newest first (an operator token sees every tenant's)",
		Args:  cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			page, err := a.client().ListJobs(cmd.Context(), f)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(page)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tTENANT\tREPO\tRELEASE\tSTATE\tGENERATION\tCREATED\tERROR")
			for _, j := range page.Jobs {
				errText := ""
				if j.Error != nil {
					errText = j.Error.Code
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", j.JobID, j.Tenant, j.Repo, j.Release, j.State,
					j.Generation, j.CreatedAt.Format("2006-01-02 15:04:05"), errText)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.NextCursor != 0 {
				a.progress("more: --cursor %d", page.NextCursor)
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Repo, "repo", "", "only this repository")
	fl.StringVar(&f.Release, "release", "", "only this release")
	fl.StringVar(&f.State, "state", "", "only this state: queued, awaiting_signature, signed, committed, published, failed, cancelled")
	fl.StringVar(&f.Since, "since", "", "only jobs created since (RFC 3339 or a duration like 24h)")
	fl.IntVar(&f.Limit, "limit", 50, "jobs per page (at most 500)")
	fl.Int64Var(&f.Cursor, "cursor", 0, "the next page, as printed after a full page")
	return cmd
}

func (a *app) jobRetryCommand() *cobra.Command {
	var s signFlags
	cmd := &cobra.Command{
		Use:   "retry JOB_ID [--key FILE.asc…|--gpg KEYID…]",
		Short: "Submit a failed or cancelled job's change again, as a new job, and publish it",
		Long: `Submit the change of a failed or cancelled job again, as a new job, then sign
and follow it like pkg add: a change nobody follows fails client_gone, so the
retried change is published by this command.` + publishLong,
		Args: cobra.ExactArgs(1),
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, args []string) error {
			id, err := parseJobID(args[0])
			if err != nil {
				return err
			}
			return a.publish(cmd.Context(), s, func(ctx context.Context, c *client.Client) (client.JobRef, error) {
				ref, err := c.RetryJob(ctx, id)
				if err == nil {
					a.progress("job %d retried as job %d", id, ref.JobID)
				}
				return ref, err
			})
		}),
	}
	s.register(cmd)
	return cmd
}

// printTimeline writes a job's timeline and attempt errors.
func (a *app) printTimeline(job client.Job) {
	for _, e := range job.Timeline {
		var details []string
		for k, v := range e.Detail {
			details = append(details, fmt.Sprintf("%s=%v", k, v))
		}
		slices.Sort(details)
		a.printf("  %s  %-19s %s\n", e.At.Format("15:04:05.000"), e.Kind, strings.Join(details, " "))
	}
	for _, e := range job.AttemptErrors {
		a.printf("  attempt %d failed at %s: %s\n", e.Attempt, e.At.Format("15:04:05"), e.Error)
	}
}

func (a *app) roundCommand() *cobra.Command {
	var repo, release string
	list := &cobra.Command{
		Use:   "list --repo R --release D",
		Short: "List a release's latest rounds",
		Args:  cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			rounds, err := a.client().ListRounds(cmd.Context(), repo, release)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"rounds": rounds})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ROUND\tGENERATION\tSTATE\tCHANGES\tCREATED\tERROR")
			for _, r := range rounds {
				fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%s\t%s\n", r.ID, r.Generation, r.State, r.Changes,
					r.CreatedAt.Format("2006-01-02 15:04:05"), r.ErrorCode)
			}
			return tw.Flush()
		}),
	}
	list.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	list.Flags().StringVar(&release, "release", "", "release name (required)")
	_ = list.MarkFlagRequired("repo")
	_ = list.MarkFlagRequired("release")
	cmd := a.group("round", "Inspect publish rounds", list)
	cmd.Aliases = []string{"rounds"}
	return cmd
}

func (a *app) tenantCommand() *cobra.Command {
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a tenant and print its first token, shown once (operator token)",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			t, err := a.client().CreateTenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(t)
			}
			a.printf("%s\n", t.Token)
			a.progress("created tenant %s; its token is printed above and never again", t.Name)
			return nil
		}),
	}
	return a.group("tenant", "Manage tenants (operator token)", create)
}

func (a *app) tokenCommand() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tenant's tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			tokens, err := a.client().ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"tokens": tokens})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED\tREVOKED")
			for _, t := range tokens {
				revoked := ""
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.Format("2006-01-02 15:04:05")
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", t.ID, t.Name, t.CreatedAt.Format("2006-01-02 15:04:05"), revoked)
			}
			return tw.Flush()
		}),
	}
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a token and print it, shown once",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			t, err := a.client().CreateToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(t)
			}
			a.printf("%s\n", t.Token)
			return nil
		}),
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: requests with it get 401 from then on",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErrorf("token id %q is not a number", args[0])
			}
			if err := a.client().RevokeToken(cmd.Context(), id); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"revoked": id})
			}
			a.printf("revoked token %d\n", id)
			return nil
		}),
	}
	return a.group("token", "Manage the tenant's API tokens", list, create, revoke)
}
