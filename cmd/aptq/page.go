package main

import (
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

func (a *app) uiCommand() *cobra.Command {
	var open bool
	cmd := &cobra.Command{
		Use:   "ui [--open]",
		Short: "Print a one-time login link for the operator page (operator token)",
		Long: `Print a one-time login link for the operator page (/ui/): it signs one
browser in, once, within a minute. The link is built from the server's
external URL (APTQ_EXTERNAL_URL of aptqd). --open also opens it with
xdg-open, when there is one.`,
		Args: cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			link, err := a.client().CreateLoginLink(cmd.Context())
			var apiErr *client.APIError
			if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
				// The operator routes answer a tenant's token as if absent.
				return failf("forbidden", "the operator page needs an operator token (aptqd admin create-token), not a tenant's")
			}
			if err != nil {
				return err
			}
			if a.json {
				if err := a.printJSON(link); err != nil {
					return err
				}
			} else {
				a.printf("%s\n", link.URL)
				a.progress("a one-time link, valid until %s", link.ExpiresAt.Local().Format(time.TimeOnly))
			}
			if !open {
				return nil
			}
			xdgOpen, err := exec.LookPath("xdg-open")
			if err != nil {
				// The link is printed: a machine without a desktop still has it.
				a.progress("no xdg-open here: open the link above in a browser")
				return nil
			}
			if out, err := exec.CommandContext(cmd.Context(), xdgOpen, link.URL).CombinedOutput(); err != nil {
				return fmt.Errorf("xdg-open: %v: %s", err, out)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&open, "open", false, "open the link in a browser with xdg-open")
	return cmd
}
