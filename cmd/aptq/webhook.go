package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/wire"
)

func (a *app) webhookCommand() *cobra.Command {
	return a.group("webhook", "Send a repository's events (published, failed) to HTTP receivers",
		a.webhookAddCommand(), a.webhookListCommand(), a.webhookRemoveCommand(), a.webhookDeliveriesCommand())
}

func (a *app) webhookAddCommand() *cobra.Command {
	var repo string
	var events []string
	cmd := &cobra.Command{
		Use:   "add --repo REPO URL [--events published,failed]",
		Short: "POST a repository's events to URL, signed",
		Long: `Add a webhook: each event of the repository (a round published, a round
failed) is POSTed to URL as JSON, signed with HMAC-SHA256 (docs/api.md,
Webhooks, says how to verify it), and retried with backoff until the receiver
answers 2xx. The secret is printed once: store it with the receiver.

URL must be http or https; addresses inside the network (loopback, private,
link-local) are refused unless the operator allows them.`,
		Args: cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			w, err := a.client().AddWebhook(cmd.Context(), repo, wire.WebhookCreate{URL: args[0], Events: events})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(w)
			}
			a.printf("%s\n", w.Secret)
			a.progress("webhook %d of %s: %s on %s\nthe line above is its signing secret, shown this once",
				w.ID, repo, args[0], strings.Join(w.Events, ","))
			return nil
		}),
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	cmd.Flags().StringSliceVar(&events, "events", nil, "events to send: published, failed (default both)")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

func (a *app) webhookListCommand() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "list --repo REPO",
		Short: "List a repository's webhooks",
		Args:  cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			hooks, err := a.client().ListWebhooks(cmd.Context(), repo)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(wire.WebhookList{Webhooks: hooks})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tURL\tEVENTS\tCREATED")
			for _, w := range hooks {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", w.ID, w.URL, strings.Join(w.Events, ","), w.CreatedAt.Format(time.DateTime))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

func (a *app) webhookRemoveCommand() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "remove --repo REPO ID",
		Short: "Remove a webhook; deliveries not yet sent are dropped",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			id, err := webhookIDArg(args[0])
			if err != nil {
				return err
			}
			if err := a.client().RemoveWebhook(cmd.Context(), repo, id); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"removed": id})
			}
			a.printf("removed webhook %d of %s\n", id, repo)
			return nil
		}),
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

func (a *app) webhookDeliveriesCommand() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "deliveries --repo REPO ID",
		Short: "Show a webhook's recent deliveries and the receiver's answers",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			id, err := webhookIDArg(args[0])
			if err != nil {
				return err
			}
			ds, err := a.client().WebhookDeliveries(cmd.Context(), repo, id)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(wire.WebhookDeliveryList{Deliveries: ds})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEVENT\tSTATE\tATTEMPTS\tSTATUS\tANSWER\tEVENT ID")
			for _, d := range ds {
				answer := d.Error
				if answer == "" {
					answer = d.ResponseBody
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.Event, d.State, d.Attempts,
					statusText(d.ResponseStatus), oneLine(answer, 60), d.EventID)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

func webhookIDArg(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("webhook id %q is not a positive number (aptq webhook list shows them)", arg)
	}
	return id, nil
}

func statusText(status int) string {
	if status == 0 {
		return "-"
	}
	return strconv.Itoa(status)
}

// oneLine fits a receiver's answer, which it chooses, on one table line:
// control characters (terminal escapes included) become spaces.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(reasonText(s)), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}
