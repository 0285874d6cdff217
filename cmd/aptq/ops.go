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
			// TENANT only for an operator, who sees every tenant's jobs.
			operator := slices.ContainsFunc(page.Jobs, func(j client.Job) bool { return j.Tenant != "" })
			header := "JOB\tKIND\tREPO\tRELEASE\tSTATE\tGENERATION\tCREATED\tERROR"
			if operator {
				header = "JOB\tKIND\tTENANT\tREPO\tRELEASE\tSTATE\tGENERATION\tCREATED\tERROR"
			}
			fmt.Fprintln(tw, header)
			for _, j := range page.Jobs {
				errText := ""
				if j.Error != nil {
					errText = j.Error.Code
				}
				fmt.Fprintf(tw, "%d\t%s\t", j.JobID, firstNonEmpty(j.Kind, "-"))
				if operator {
					fmt.Fprintf(tw, "%s\t", j.Tenant)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", j.Repo, j.Release, j.State,
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
			return a.publish(cmd.Context(), s, "", func(ctx context.Context, c *client.Client) (client.JobRef, error) {
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
		line := fmt.Sprintf("  %s  %-19s %s", e.At.Format("15:04:05.000"), e.Kind, strings.Join(formatPairs(e.Detail), "; "))
		a.printf("%s\n", strings.TrimRight(line, " "))
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
	repoReleaseFlags(list, &repo, &release)
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
			a.progress("created tenant %s; its admin token is printed above and never again", t.Name)
			return nil
		}),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants with their repositories and live tokens (operator token)",
		Args:  cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			tenants, err := a.client().ListTenants(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"tenants": tenants})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED\tREPOS\tTOKENS")
			for _, t := range tenants {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\n", t.ID, t.Name, t.CreatedAt.Format("2006-01-02 15:04:05"), t.Repositories, t.Tokens)
			}
			return tw.Flush()
		}),
	}
	return a.group("tenant", "Manage tenants (operator token)", create, list)
}

const tokenLong = `Tokens carry a scope, chosen when they are made:

  read     list and show repositories, releases, keys, packages, history,
           rounds, jobs and reconcile reports
  publish  also upload packages, add and remove them (pkg add/remove), sign
           rounds, cancel and retry jobs, resign, roll back and reconcile
  admin    also create repositories and releases, add and remove keys,
           manage tokens and read the audit log

--repo limits a read or publish token to some repositories of the tenant;
anything else is refused with code forbidden. Give CI a publish token
limited to the repositories it publishes: a leaked one cannot register a key
or make another token. The tenant's first token is admin.`

func (a *app) tokenCommand() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tenant's tokens with their scopes (never their secrets)",
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
			fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tREPOS\tCREATED\tREVOKED")
			for _, t := range tokens {
				revoked := ""
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.Format("2006-01-02 15:04:05")
				}
				repos := "all"
				if t.Repos != nil {
					repos = joinList(t.Repos)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, repos,
					t.CreatedAt.Format("2006-01-02 15:04:05"), revoked)
			}
			return tw.Flush()
		}),
	}
	var scope string
	var repos []string
	create := &cobra.Command{
		Use:   "create NAME --scope read|publish|admin [--repo R1,R2]",
		Short: "Create a token of a scope and print it, shown once (admin token)",
		Long:  tokenLong,
		Example: `  aptq token create ci-acme --scope publish --repo acme
  aptq token create dashboard --scope read`,
		Args: cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			if scope != client.ScopeRead && scope != client.ScopePublish && scope != client.ScopeAdmin {
				return usageErrorf("--scope must be read, publish or admin, not %q", scope)
			}
			if len(repos) > 0 && scope == client.ScopeAdmin {
				return usageErrorf("--repo limits a read or publish token; an admin token acts on every repository")
			}
			t, err := a.client().CreateToken(cmd.Context(), args[0], scope, repos)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(t)
			}
			a.printf("%s\n", t.Token)
			a.progress("created token %d %q (scope %s); it is printed above and never again", t.ID, t.Name, t.Scope)
			return nil
		}),
	}
	create.Flags().StringVar(&scope, "scope", "", "what the token may do: read, publish or admin (required)")
	create.Flags().StringSliceVar(&repos, "repo", nil, "limit a read or publish token to these repositories (default: all of the tenant's)")
	_ = create.MarkFlagRequired("scope")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: requests with it get 401 from then on (admin token)",
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
	cmd := a.group("token", "Manage the tenant's API tokens and their scopes (admin token)", list, create, revoke)
	cmd.Long = tokenLong
	return cmd
}

func (a *app) auditCommand() *cobra.Command {
	var limit int
	var cursor int64
	list := &cobra.Command{
		Use:   "list [--limit 50] [--cursor N]",
		Short: "List the tenant's administrative actions and the tokens that made them (admin token)",
		Long: `List the tenant's audited actions, newest first: repositories and releases
created, keys added and removed, tokens created and revoked, resigns,
rollbacks and reconciles, each with the token (name and id) that made it.
Package changes are recorded on their jobs instead (aptq job show).`,
		Args: cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			page, err := a.client().ListAudit(cmd.Context(), limit, cursor)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(page)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tTOKEN\tACTION\tTARGET\tDETAILS")
			for _, e := range page.Entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format("2006-01-02 15:04:05"), tokenName(e.Token),
					e.Action, e.Target, strings.TrimPrefix(strings.TrimSuffix(formatDetails(e.Details), ")"), " ("))
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
	fl := list.Flags()
	fl.IntVar(&limit, "limit", 50, "entries per page (at most 500)")
	fl.Int64Var(&cursor, "cursor", 0, "the next page, as printed after a full page")
	return a.group("audit", "Read the tenant's audit log (admin token)", list)
}

// tokenName is "name (token N)", or "-" when none was recorded.
func tokenName(t *client.TokenRef) string {
	if t == nil {
		return "-"
	}
	return fmt.Sprintf("%s (token %d)", t.Name, t.ID)
}
