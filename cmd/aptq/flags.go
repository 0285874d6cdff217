package main

import "github.com/spf13/cobra"

// repoReleaseFlags registers --repo and --release, which the command cannot
// run without.
func repoReleaseFlags(cmd *cobra.Command, repo, release *string) {
	cmd.Flags().StringVar(repo, "repo", "", "repository name (required)")
	cmd.Flags().StringVar(release, "release", "", "release name (required)")
	_ = cmd.MarkFlagRequired("repo")
	_ = cmd.MarkFlagRequired("release")
}
