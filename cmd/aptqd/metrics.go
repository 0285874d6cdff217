package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/store"
)

// exportFromDatabase has the metrics read, at each scrape, what only the
// database knows exactly across every aptqd process.
func exportFromDatabase(mets *metrics.Metrics, st *store.Store, log *slog.Logger) {
	mets.CountFromDatabase(st, log)
	mets.PendingFromDatabase(func(ctx context.Context, floor time.Duration, limit int) ([]metrics.PendingRelease, time.Duration, error) {
		ages, oldest, err := st.PendingAges(ctx, floor, limit)
		out := make([]metrics.PendingRelease, len(ages))
		for i, a := range ages {
			out[i] = metrics.PendingRelease{Tenant: a.Tenant, Repo: a.Repo, Release: a.Release, Age: a.Age}
		}
		return out, oldest, err
	}, log)
}
