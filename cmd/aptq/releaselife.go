package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

// The release lifecycle: re-signing (expiry refresh, key rotation), rolling
// back to an earlier membership, and the history of generations.

func (a *app) releaseResignCommand() *cobra.Command {
	var repo, release string
	var s signFlags
	cmd := &cobra.Command{
		Use:   "resign --repo REPO --release NAME [--key FILE.asc…|--gpg KEYID…]",
		Short: "Publish a new generation with the same packages and fresh signatures",
		Long: `Publish a new generation of the release with no package change: the same
indexes with a new Date (and Valid-Until, see release create --valid-for) and
fresh signatures. Use it to refresh Valid-Until before it runs out, and to
rotate keys:

  aptq key add --repo acme new.pub.asc
  aptq release resign --repo acme --release stable --key old.asc --key new.asc
  # ...once every client trusts new.pub.asc:
  aptq key remove --repo acme OLDFINGERPRINT
  aptq release resign --repo acme --release stable --key new.asc` + publishLong,
		Args: cobra.NoArgs,
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, _ []string) error {
			return a.publish(cmd.Context(), s, repo, func(ctx context.Context, c *client.Client) (client.JobRef, error) {
				return c.Resign(ctx, repo, release)
			})
		}),
	}
	repoReleaseFlags(cmd, &repo, &release)
	s.register(cmd)
	return cmd
}

func (a *app) releaseRollbackCommand() *cobra.Command {
	var repo, release string
	var generation int64
	var s signFlags
	cmd := &cobra.Command{
		Use:   "rollback --repo REPO --release NAME --to-generation N [--key FILE.asc…|--gpg KEYID…]",
		Short: "Publish the packages of an earlier generation as a new generation",
		Long: `Make the membership (the packages) of generation N current again. It is
published as a NEW generation, not by putting the old Release back: apt clients
ignore a Release older than one they have seen. N must be a committed generation
of the release; "aptq release history" lists them.` + publishLong,
		Args: cobra.NoArgs,
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, _ []string) error {
			if generation <= 0 {
				return usageErrorf("--to-generation must be a generation number (1 or more)")
			}
			return a.publish(cmd.Context(), s, repo, func(ctx context.Context, c *client.Client) (client.JobRef, error) {
				a.progress("rolling %s/%s back to the packages of generation %d", repo, release, generation)
				return c.Rollback(ctx, repo, release, generation)
			})
		}),
	}
	f := cmd.Flags()
	repoReleaseFlags(cmd, &repo, &release)
	f.Int64Var(&generation, "to-generation", 0, "the generation whose packages to publish again (required)")
	s.register(cmd)
	_ = cmd.MarkFlagRequired("to-generation")
	return cmd
}

func (a *app) releaseHistoryCommand() *cobra.Command {
	var repo, release string
	var limit int
	cmd := &cobra.Command{
		Use:   "history --repo REPO --release NAME [--limit 50]",
		Short: "List a release's generations: date, changes, signers",
		Long: `List the committed generations of a release, newest first: the Release date,
how many changes (and package additions and removals) each published, the
fingerprints of the registered keys that signed it, the tokens that submitted
its changes and the token that signed it. With --json: {"generations":[{"generation","date","round_id",
"changes","adds","removes","signers","published_at","submitters","signed_by"}…]}.`,
		Args: cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usageErrorf("--limit must be positive")
			}
			gens, err := a.client().History(cmd.Context(), repo, release, limit)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string][]client.Generation{"generations": nonNil(gens)})
			}
			if len(gens) == 0 {
				a.progress("%s/%s has no committed generation yet", repo, release)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GENERATION\tDATE\tCHANGES\tADDS\tREMOVES\tPUBLISHED\tSIGNERS\tSUBMITTED BY\tSIGNED BY")
			for _, g := range gens {
				published := "not yet"
				if g.PublishedAt != nil {
					published = g.PublishedAt.UTC().Format(time.RFC3339)
				}
				submitters := make([]string, 0, len(g.Submitters))
				for _, s := range g.Submitters {
					submitters = append(submitters, tokenName(&s))
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", g.Generation, g.Date.UTC().Format(time.RFC3339),
					g.Changes, g.Adds, g.Removes, published, joinList(g.Signers),
					firstNonEmpty(joinList(submitters), "-"), tokenName(g.SignedBy))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, g := range gens {
				for _, r := range g.Retention {
					a.printf("generation %d: retention removed %s %s %s from %s\n", g.Generation, r.Name, r.Version,
						r.Architecture, r.Component)
				}
			}
			return nil
		}),
	}
	f := cmd.Flags()
	repoReleaseFlags(cmd, &repo, &release)
	f.IntVar(&limit, "limit", 0, "at most this many generations (default: the server's, 50)")
	return cmd
}
