package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

func (a *app) releaseCommand() *cobra.Command {
	return a.group("release", "Create, change, delete and inspect releases (dists/<name>)",
		a.releaseCreateCommand(), a.releaseListCommand(), a.releaseShowCommand(),
		a.releaseResignCommand(), a.releaseRollbackCommand(), a.releaseHistoryCommand(),
		a.releaseReconcileCommand(), a.releaseUpdateCommand(), a.releaseDeleteCommand())
}

func (a *app) releaseCreateCommand() *cobra.Command {
	var repo, validFor string
	var contents bool
	var req client.ReleaseRequest
	cmd := &cobra.Command{
		Use:   "create --repo REPO --release NAME [flags]",
		Short: "Create a release",
		Long: `Create a release (dists/NAME) in a repository. Unset fields take the server's
defaults: suite = codename = NAME, origin = label = the repository name,
components main, architectures amd64, compressions gz,xz.

--valid-for makes every Release carry Valid-Until (Date + the duration): apt
refuses a Release past it, so a repository that stops being re-signed stops
being trusted, and a stale mirror cannot replay an old one forever. Refresh it
in time with "aptq release resign" (e.g. a weekly CI job for --valid-for 14d).

--keep-versions N keeps only the newest N versions (dpkg order) of each package
name and architecture in a component: every round also removes the older ones,
listed in the round for the signer to check and in "aptq release history".

--contents (on by default) publishes <component>/Contents-<arch>.gz, the file
lists apt-file searches; --contents=false keeps to the Packages indices.`,
		Args: cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			if validFor != "" {
				d, err := parseValidFor(validFor)
				if err != nil {
					return usageErrorf("--valid-for %q: %v", validFor, err)
				}
				req.ValidFor = d.String() // a Go duration, which the server reads as such
			}
			req.Contents = &contents
			rel, err := a.client().CreateRelease(cmd.Context(), repo, req)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(rel)
			}
			a.printf("created release %s in %s\n", rel.Name, repo)
			a.printRelease(rel)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&repo, "repo", "", "repository name (required)")
	f.StringVar(&req.Name, "release", "", "release name, e.g. stable or bookworm (required)")
	f.StringVar(&req.Origin, "origin", "", "Origin field")
	f.StringVar(&req.Label, "label", "", "Label field")
	f.StringVar(&req.Suite, "suite", "", "Suite field")
	f.StringVar(&req.Codename, "codename", "", "Codename field")
	f.StringVar(&req.Description, "description", "", "Description field")
	f.StringSliceVar(&req.Components, "components", nil, "components, e.g. main,contrib")
	f.StringSliceVar(&req.Architectures, "architectures", nil, "architectures, e.g. amd64,arm64")
	f.StringSliceVar(&req.Compressions, "compressions", nil, "index files stored: gz, xz, and none for the uncompressed Packages (always listed in Release), e.g. none,gz,xz")
	f.StringVar(&validFor, "valid-for", "", "write Valid-Until = Date + this into every Release, e.g. 7d or 36h (at least 1h)")
	f.IntVar(&req.KeepVersions, "keep-versions", 0, "keep only the newest N versions of each package name and architecture per component (0: keep all)")
	f.BoolVar(&req.NotAutomatic, "not-automatic", false, "write NotAutomatic: yes (apt pins the release at 1, like experimental)")
	f.BoolVar(&req.ButAutomaticUpgrades, "but-automatic-upgrades", false, "write ButAutomaticUpgrades: yes (pin 100, like backports; needs --not-automatic)")
	f.StringVar(&req.SignedBy, "signed-by", "", "write Signed-By: the key fingerprints apt (>= 2.3) accepts, comma-separated")
	f.BoolVar(&contents, "contents", true, "publish Contents-<arch>.gz indices (apt-file); --contents=false for Packages only")
	_ = cmd.MarkFlagRequired("repo")
	_ = cmd.MarkFlagRequired("release")
	return cmd
}

func (a *app) releaseListCommand() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "list --repo REPO",
		Short: "List a repository's releases",
		Args:  cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			rels, err := a.client().ListReleases(cmd.Context(), repo)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string][]client.Release{"releases": rels})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tGENERATION\tPUBLISHED\tCOMPONENTS\tARCHITECTURES")
			for _, r := range rels {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", r.Name, r.Generation, r.PublishedGeneration,
					joinList(r.Components), joinList(r.Architectures))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

func (a *app) releaseShowCommand() *cobra.Command {
	var repo, release string
	cmd := &cobra.Command{
		Use:   "show --repo REPO --release NAME",
		Short: "Show a release",
		Args:  cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			rel, err := a.client().GetRelease(cmd.Context(), repo, release)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(rel)
			}
			a.printRelease(rel)
			return nil
		}),
	}
	repoReleaseFlags(cmd, &repo, &release)
	return cmd
}

func (a *app) printRelease(r client.Release) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
	for _, row := range [][2]string{
		{"name", r.Name},
		{"origin", r.Origin},
		{"label", r.Label},
		{"suite", r.Suite},
		{"codename", r.Codename},
		{"description", r.Description},
		{"components", joinList(r.Components)},
		{"architectures", joinList(r.Architectures)},
		{"compressions", joinList(r.Compressions)},
		{"valid for", firstNonEmpty(r.ValidFor, "- (no Valid-Until)")},
		{"keep versions", keepVersionsText(r.KeepVersions)},
		{"options", releaseOptions(r)},
		{"contents", map[bool]string{true: "Contents-<arch>.gz", false: "off"}[r.Contents]},
		{"generation", fmt.Sprint(r.Generation)},
		{"published", fmt.Sprint(r.PublishedGeneration)},
		{"created", r.CreatedAt.Format(time.RFC3339)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	_ = tw.Flush()
}

func (a *app) releaseReconcileCommand() *cobra.Command {
	var repo, release string
	cmd := &cobra.Command{
		Use:   "reconcile --repo REPO --release NAME",
		Short: "Check that S3 holds exactly the last committed generation, and repair it",
		Long: `Run a reconcile of the release now and print its report: every object the
last committed generation names is checked in S3 (by size and MD5 ETag) and put
back from the database where it is missing or differs, InRelease last and
conditional. An InRelease newer than the database's is reported, never replaced.`,
		Args: cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			c := a.client()
			jobID, err := c.Reconcile(cmd.Context(), repo, release)
			if err != nil {
				return err
			}
			a.progress("reconcile job %d enqueued", jobID)
			for {
				reports, err := c.ReconcileReports(cmd.Context(), repo, release, jobID, 30*time.Second)
				if err != nil {
					return err
				}
				for _, r := range reports {
					if r.JobID == nil || *r.JobID != jobID {
						continue
					}
					if a.json {
						return a.printJSON(r)
					}
					a.printf("generation %d: %s (%d objects checked)\n", r.Generation, r.Outcome, r.Checked)
					for _, rep := range r.Repairs {
						a.printf("  %s: %s, %s\n", rep.Key, rep.Problem, rep.Action)
					}
					return nil
				}
			}
		}),
	}
	repoReleaseFlags(cmd, &repo, &release)
	return cmd
}

// parseValidFor reads a Go duration with an optional leading number of days:
// "7d", "1d12h", "36h". Release validity under an hour would expire before
// most clients fetch it.
func parseValidFor(s string) (time.Duration, error) {
	rest := s
	var days float64
	if before, after, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.ParseFloat(before, 64)
		if err != nil {
			return 0, errors.New("want a duration such as 7d, 1d12h or 36h")
		}
		days, rest = n, after
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, errors.New("want a duration such as 7d, 1d12h or 36h")
		}
	}
	total := time.Duration(days*float64(24*time.Hour)) + d
	if total < time.Hour {
		return 0, errors.New("must be at least 1h")
	}
	return total, nil
}

func keepVersionsText(n int) string {
	if n == 0 {
		return "all"
	}
	return fmt.Sprint(n)
}
