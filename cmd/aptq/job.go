package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

func (a *app) jobCommand() *cobra.Command {
	cmd := a.group("job", "List, inspect, cancel and retry jobs", a.jobListCommand(), a.jobShowCommand(),
		a.jobCancelCommand(), a.jobRetryCommand())
	cmd.Aliases = []string{"jobs"}
	return cmd
}

func (a *app) jobShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show JOB_ID",
		Short: "Show a job, e.g. one that pkg add gave up waiting for",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			id, err := parseJobID(args[0])
			if err != nil {
				return err
			}
			job, err := a.client().GetJob(cmd.Context(), id, 0, "")
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(job)
			}
			a.printf("job %d (change %d) in %s/%s: %s\n", job.JobID, job.ChangeID, job.Repo, job.Release, describeJob(job))
			if job.Kind != "" {
				a.printf("kind: %s\n", job.Kind)
			}
			a.printf("submitted by: %s\n", tokenName(job.Submitter))
			if job.Round != nil && job.Round.SignedBy != nil {
				a.printf("signed by: %s\n", tokenName(job.Round.SignedBy))
			}
			if job.Error != nil {
				a.printf("error: %s: %s\n", job.Error.Code, job.Error.Message)
			}
			a.printTimeline(job)
			if job.State == client.JobPublished {
				a.printf("url: %s\n", job.URL)
			}
			return nil
		}),
	}
}

func parseJobID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("job id %q is not a number", s)
	}
	return id, nil
}

func (a *app) jobCancelCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel JOB_ID",
		Short: "Withdraw a change that is not committed yet",
		Long: `Cancel a job: its change is withdrawn unless it is already committed (then the
server refuses with code conflict, exit 1: it will be published). If the change
waits in a round, that round is aborted and its other changes ride the next one.
Cancelling a cancelled or failed job does nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			id, err := parseJobID(args[0])
			if err != nil {
				return err
			}
			job, err := a.client().CancelJob(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(job)
			}
			a.printf("job %d: %s\n", job.JobID, job.State)
			return nil
		}),
	}
}
