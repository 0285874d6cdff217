package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRescueOutlastsJobTimeout: however the round budget and the signature
// timeout are set, River's rescue of stuck jobs waits longer than a live
// leader's job, or a delete job, may run (so it never rescues one), and
// moving either setting moves both by the same amount.
func TestRescueOutlastsJobTimeout(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{},
		{RoundBudget: time.Hour},
		{SignatureTimeout: 30 * time.Minute},
		{RoundBudget: time.Second, SignatureTimeout: time.Second},
	} {
		timeout := NewPublishWorker(cfg).Timeout(nil)
		require.Equal(t, cfg.JobTimeout(), timeout)
		require.GreaterOrEqual(t, cfg.RescueStuckJobsAfter()-timeout, rescueMargin, "%+v", cfg)
		require.Less(t, deleteTimeout, cfg.RescueStuckJobsAfter(), "a delete job is never rescued while it runs")

		longer := cfg
		longer.RoundBudget = max(cfg.RoundBudget, DefaultRoundBudget) + time.Hour
		grew := longer.JobTimeout() - timeout
		require.Positive(t, grew)
		require.Equal(t, grew, longer.RescueStuckJobsAfter()-cfg.RescueStuckJobsAfter())
	}
}
