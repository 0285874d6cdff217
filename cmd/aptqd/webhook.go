package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/aptq/aptq/worker"
)

// webhookConfig is how webhooks are validated and sent.
type webhookConfig struct {
	// allowPrivate lets webhooks target loopback, private and link-local
	// addresses: off by default, since a tenant's webhook URL would
	// otherwise reach the operator's internal network (SSRF).
	allowPrivate bool
	workers      int
	timeout      time.Duration
}

func (c *config) bindWebhooks(fs *pflag.FlagSet) {
	fs.BoolVar(&c.webhooks.allowPrivate, "webhook-allow-private", envString("APTQ_WEBHOOK_ALLOW_PRIVATE", "") == "1",
		"let webhook URLs name loopback, private and link-local addresses, e.g. for a receiver inside the network ($APTQ_WEBHOOK_ALLOW_PRIVATE=1)")
	fs.IntVar(&c.webhooks.workers, "webhook-workers", envInt("APTQ_WEBHOOK_WORKERS", 4),
		"webhook deliveries sent at once per worker process ($APTQ_WEBHOOK_WORKERS)")
	fs.DurationVar(&c.webhooks.timeout, "webhook-timeout", envDuration("APTQ_WEBHOOK_TIMEOUT", worker.DefaultWebhookTimeout),
		"how long one webhook delivery attempt may take, the receiver's answer included ($APTQ_WEBHOOK_TIMEOUT)")
}

func (w webhookConfig) validate() error {
	if w.workers < 1 || w.timeout < time.Second {
		return fmt.Errorf("webhook workers must be at least 1, webhook timeout at least 1s")
	}
	return nil
}

// webhookWorker is the delivery worker the configuration asks for.
func (c *config) webhookWorker(wcfg worker.Config) *worker.WebhookWorker {
	return worker.NewWebhookWorker(worker.WebhookConfig{Store: wcfg.Store, AllowPrivate: c.webhooks.allowPrivate,
		Timeout: c.webhooks.timeout, Metrics: wcfg.Metrics})
}
