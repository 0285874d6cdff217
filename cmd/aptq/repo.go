package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

func (a *app) repoCommand() *cobra.Command {
	return a.group("repo", "Create, delete and inspect repositories",
		a.repoCreateCommand(), a.repoListCommand(), a.repoShowCommand(), a.repoDeleteCommand())
}

func (a *app) repoCreateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create a repository",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			repo, err := a.client().CreateRepo(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(repo)
			}
			a.printf("created repository %s: %s\n", repo.Name, repo.URL)
			a.progress("next: aptq key add --repo %[1]s KEY.pub.asc; aptq release create --repo %[1]s --release stable",
				repo.Name)
			return nil
		}),
	}
}

func (a *app) repoListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List repositories",
		Args:  cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			repos, err := a.client().ListRepos(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string][]client.Repo{"repos": repos})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tRELEASES\tKEYS\tURL")
			for _, r := range repos {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Name, releaseNames(r.Releases), len(r.Keys), r.URL)
			}
			return tw.Flush()
		}),
	}
}

func releaseNames(rels []client.Release) string {
	if len(rels) == 0 {
		return "-"
	}
	names := make([]string, len(rels))
	for i, r := range rels {
		names[i] = r.Name
	}
	return joinList(names)
}

func (a *app) repoShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a repository and how apt clients use it",
		Long: `Show a repository's URL, keys and releases, with a ready sources.list line per
release and the command that installs its signing key where that line expects it.`,
		Args: cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			repo, err := a.client().GetRepo(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(repo)
			}
			a.printRepo(repo)
			return nil
		}),
	}
}

func (a *app) printRepo(repo client.Repo) {
	keyring := "/etc/apt/keyrings/" + repo.Name + ".asc"
	a.printf("repository: %s\nurl:        %s\n", repo.Name, repo.URL)
	if len(repo.Keys) == 0 {
		a.printf("keys:       none; register one: aptq key add --repo %s KEY.pub.asc\n", repo.Name)
	}
	for i, k := range repo.Keys {
		label := "keys:"
		if i > 0 {
			label = ""
		}
		a.printf("%-11s %s %s\n", label, k.Fingerprint, joinList(k.UserIDs))
	}
	if len(repo.Releases) == 0 {
		a.printf("releases:   none; create one: aptq release create --repo %s --release stable\n", repo.Name)
		return
	}
	a.printf("releases:\n")
	for _, r := range repo.Releases {
		a.printf("  %s  generation %d (published %d)  components %s  architectures %s\n",
			r.Name, r.Generation, r.PublishedGeneration,
			joinList(r.Components), joinList(r.Architectures))
	}
	a.printf("\nsources.list lines:\n")
	for _, r := range repo.Releases {
		a.printf("  deb [signed-by=%s] %s %s %s\n", keyring, repo.URL, r.Name, strings.Join(r.Components, " "))
	}
	a.printf("\ninstall the signing key for these lines:\n  aptq key export --repo %s | sudo tee %s\n",
		repo.Name, keyring)
	// Machines that run apt rarely have aptq; the API serves the same key.
	for _, k := range repo.Keys {
		a.printf("  or: curl -fsS -H \"Authorization: Bearer $APTQ_TOKEN\" %s/v1/repos/%s/keys/%s | jq -r .armored\n",
			strings.TrimRight(a.serverURL(), "/"), repo.Name, k.Fingerprint)
	}
}
