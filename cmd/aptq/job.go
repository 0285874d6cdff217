package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

func (a *app) jobCommand() *cobra.Command {
	return a.group("job", "Inspect jobs", a.jobShowCommand())
}

func (a *app) jobShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show JOB_ID",
		Short: "Show a job, e.g. one that pkg add gave up waiting for",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErrorf("job id %q is not a number", args[0])
			}
			job, err := a.client().GetJob(cmd.Context(), id, 0, "")
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(job)
			}
			a.printf("job %d (change %d) in %s/%s: %s\n", job.JobID, job.ChangeID, job.Repo, job.Release, describeJob(job))
			if job.Error != nil {
				a.printf("error: %s: %s\n", job.Error.Code, job.Error.Message)
			}
			if job.State == client.JobPublished {
				a.printf("url: %s\n", job.URL)
			}
			return nil
		}),
	}
}
