package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

const specHelp = `

Each SPEC is NAME (every version), NAME=VERSION (every architecture of it) or
NAME=VERSION:ARCH, e.g. hello=1:2.0-1:arm64; an epoch's colon is not taken for
ARCH. A source package's ARCH is "source" (hello=1.0-1:source); NAME and
NAME=VERSION select sources of that name as well as binaries. Specs resolve on the server against the committed packages. A spec that
matches nothing fails the command (exit 1, nothing submitted) unless
--ignore-missing. The whole selection is one change, published in one
generation (apt clients never see half of it), up to the server's bound of
200 000 packages (aptqd --max-plan-packages): a selection of more is refused
(exit 1, naming the bound); select fewer (by component or name) and run it in
parts. --dry-run prints what would change, one line per package
("+ NAME VERSION ARCH COMPONENT" or "- …"; with --json the plan object) and
submits nothing; without it the first 200 lines are printed.`

// planFlags are the flags of the commands whose change the server plans.
type planFlags struct {
	repo, release string
	dryRun        bool
	sign          signFlags
}

func (p *planFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	repoReleaseFlags(cmd, &p.repo, &p.release)
	f.BoolVar(&p.dryRun, "dry-run", false, "print what would change and submit nothing")
	p.sign.register(cmd)
}

// planFunc asks the server for a plan, submitting it unless dryRun.
type planFunc func(ctx context.Context, c *client.Client, dryRun bool) (client.Plan, error)

// runPlan runs a copy, removal or prune: a dry run prints the plan; else the
// change (if there is one to make) is followed and signed as pkg add's is.
func (a *app) runPlan(ctx context.Context, p planFlags, plan planFunc) error {
	if p.dryRun {
		got, err := plan(ctx, a.client(), true)
		if err != nil {
			return err
		}
		if a.json {
			return a.printJSON(got)
		}
		for _, it := range got.Items {
			a.printf("%s\n", planLine(it))
		}
		if len(got.Items) == 0 {
			a.progress("nothing would change")
		}
		return nil
	}
	return a.publish(ctx, p.sign, p.repo, func(ctx context.Context, c *client.Client) (client.JobRef, error) {
		got, err := plan(ctx, c, false)
		if err != nil {
			return client.JobRef{}, err
		}
		// A snapshot promotion plans thousands of packages; the log shows
		// the first, as the round's check does.
		for _, it := range got.Items[:min(len(got.Items), maxChangeLines)] {
			a.progress("%s", planLine(it))
		}
		if len(got.Items) > maxChangeLines {
			a.progress("… and %d more (%d in all)", len(got.Items)-maxChangeLines, len(got.Items))
		}
		if got.Unchanged > 0 {
			a.progress("%d package(s) already as asked", got.Unchanged)
		}
		ref, ok := got.Ref()
		if !ok {
			return client.JobRef{}, errNoChange
		}
		return ref, nil
	})
}

func planLine(it client.PlanItem) string {
	return strings.Join([]string{it.Op, it.Name, it.Version, it.Architecture, it.Component}, " ")
}

func (a *app) pkgRemoveCommand() *cobra.Command {
	var p planFlags
	var component string
	var ignoreMissing bool
	cmd := &cobra.Command{
		Use:   "remove --repo REPO --release NAME [--component main] [--dry-run] [--key FILE.asc…|--gpg KEYID…] SPEC…",
		Short: "Remove packages from a release and publish it",
		Long: `Remove the packages the specs select from a component of a release, in one
change: NAME removes every version of NAME.` + specHelp + publishLong,
		Example: `  aptq pkg remove --repo acme --release stable --key ci.asc hello
  aptq pkg remove --repo acme --release stable --dry-run hello=1.0 world=2.0:arm64`,
		Args: cobra.MinimumNArgs(1),
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, specs []string) error {
			return a.runPlan(cmd.Context(), p, func(ctx context.Context, c *client.Client, dryRun bool) (client.Plan, error) {
				return c.RemoveMatching(ctx, p.repo, p.release, client.RemovalRequest{Component: component, Specs: specs,
					IgnoreMissing: ignoreMissing, DryRun: dryRun})
			})
		}),
	}
	p.register(cmd)
	cmd.Flags().StringVar(&component, "component", "main", "component")
	cmd.Flags().BoolVar(&ignoreMissing, "ignore-missing", false, "skip specs that match nothing")
	return cmd
}

func (a *app) pkgCopyCommand() *cobra.Command {
	var p planFlags
	var from, component string
	var all, ignoreMissing bool
	cmd := &cobra.Command{
		Use:   "copy --repo REPO --from RELEASE[/COMPONENT] --release NAME [--component C] [--all] [--dry-run] SPEC…",
		Short: "Copy (promote) packages from one release into another and publish it",
		Long: `Copy packages already published in one release of a repository into another
release of it, in one change: the same uploaded content, nothing uploaded
(within a component the pool file is shared). --from names the source release,
optionally one of its components (default: all of them); --component the
target component (default: each package's own). --all copies every package
of the source (a snapshot promotion). A package the target already holds is
left as it is: copying what is there is no error, and a copy with nothing
new prints "nothing to change" and exits 0.` + specHelp + publishLong,
		Example: `  aptq pkg copy --repo acme --from staging --release stable --key ci.asc hello=2.0-1
  aptq pkg copy --repo acme --from staging/main --release stable --all --dry-run`,
		Args: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageErrorf("name the packages to copy (SPEC…) or give --all, not both")
			}
			return nil
		},
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, specs []string) error {
			fromRelease, fromComponent, _ := strings.Cut(from, "/")
			if fromRelease == "" {
				return usageErrorf("--from %q: want RELEASE or RELEASE/COMPONENT", from)
			}
			return a.runPlan(cmd.Context(), p, func(ctx context.Context, c *client.Client, dryRun bool) (client.Plan, error) {
				return c.Copy(ctx, p.repo, p.release, client.CopyRequest{FromRelease: fromRelease, FromComponent: fromComponent,
					Component: component, Specs: specs, All: all, IgnoreMissing: ignoreMissing, DryRun: dryRun})
			})
		}),
	}
	p.register(cmd)
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "source release, optionally /COMPONENT (required)")
	f.StringVar(&component, "component", "", "target component (default: each package's own)")
	f.BoolVar(&all, "all", false, "copy every package of the source")
	f.BoolVar(&ignoreMissing, "ignore-missing", false, "skip specs that match nothing")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}

func (a *app) pkgPruneCommand() *cobra.Command {
	var p planFlags
	var component string
	var keep int
	cmd := &cobra.Command{
		Use:   "prune --repo REPO --release NAME --keep N [--component C] [--dry-run]",
		Short: "Remove all but the newest N versions of each package, once",
		Long: `Remove, in one change, all but the newest N versions (dpkg order) of each
package name and architecture in a component (every component unless
--component), as a release created with --keep-versions N does in every round.
--dry-run prints what would go ("- NAME VERSION ARCH COMPONENT"; with --json
the plan object) and submits nothing. The removals are one change, up to the
server's bound of 200 000 packages (aptqd --max-plan-packages); more are
refused: prune one component at a time.` + publishLong,
		Example: `  aptq pkg prune --repo acme --release nightly --keep 5 --dry-run
  aptq pkg prune --repo acme --release nightly --keep 5 --key ci.asc`,
		Args: cobra.NoArgs,
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, _ []string) error {
			if keep < 1 {
				return usageErrorf("--keep must be at least 1")
			}
			return a.runPlan(cmd.Context(), p, func(ctx context.Context, c *client.Client, dryRun bool) (client.Plan, error) {
				return c.Prune(ctx, p.repo, p.release, client.PruneRequest{Keep: keep, Component: component, DryRun: dryRun})
			})
		}),
	}
	p.register(cmd)
	cmd.Flags().StringVar(&component, "component", "", "only this component (default: all)")
	cmd.Flags().IntVar(&keep, "keep", 0, "versions to keep of each package name and architecture (required)")
	_ = cmd.MarkFlagRequired("keep")
	return cmd
}
