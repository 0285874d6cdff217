package main

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// TestWebhookSettings: private addresses are refused unless the operator
// says otherwise; the delivery workers and timeout have sane bounds.
func TestWebhookSettings(t *testing.T) {
	t.Parallel()
	parse := func(args ...string) webhookConfig {
		var c config
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		c.bindWebhooks(fs)
		require.NoError(t, fs.Parse(args))
		return c.webhooks
	}
	def := parse("--webhook-allow-private=false", "--webhook-workers=4", "--webhook-timeout=10s")
	require.False(t, def.allowPrivate)
	require.NoError(t, def.validate())
	c := parse("--webhook-allow-private", "--webhook-workers", "8", "--webhook-timeout", "1m")
	require.Equal(t, webhookConfig{allowPrivate: true, workers: 8, timeout: time.Minute}, c)
	require.ErrorContains(t, parse("--webhook-workers=0", "--webhook-timeout=10s").validate(), "webhook workers must be at least 1")
	require.ErrorContains(t, parse("--webhook-workers=1", "--webhook-timeout=10ms").validate(), "webhook timeout at least 1s")
}
