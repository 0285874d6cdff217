package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxPendingReleases bounds the releases aptq_release_pending_age_seconds
// names: one series per release would grow with every tenant's releases,
// so only the releases whose pending changes wait longest are exported, and
// only those waiting at least PendingAgeFloor (a healthy system exports none).
const (
	MaxPendingReleases = 20
	PendingAgeFloor    = time.Minute
)

// PendingRelease is a release whose oldest pending change (not yet in a
// round) has waited Age.
type PendingRelease struct {
	Tenant, Repo, Release string
	Age                   time.Duration
}

// PendingAges lists the releases whose oldest pending change is at least
// floor old, oldest first, at most limit of them, and the age of the
// oldest pending change of any release (0 when none is pending).
type PendingAges func(ctx context.Context, floor time.Duration, limit int) (releases []PendingRelease, oldest time.Duration, err error)

// PendingFromDatabase exports, at each scrape, how long pending changes
// have waited for a round: aptq_pending_change_max_age_seconds over all
// releases, and aptq_release_pending_age_seconds for the (bounded) releases
// that wait longest, to name them in an alert.
func (m *Metrics) PendingFromDatabase(ages PendingAges, logger *slog.Logger) {
	m.Registry.MustRegister(&pendingCollector{ages: ages, logger: logger,
		oldest: prometheus.NewDesc("aptq_pending_change_max_age_seconds",
			"Age of the oldest change waiting for a round (state pending), over every release; 0 when none waits.", nil, nil),
		release: prometheus.NewDesc("aptq_release_pending_age_seconds",
			"Age of a release's oldest change waiting for a round, for the releases that wait longest (at most 20, each waiting at least 1 min).",
			[]string{"tenant", "repo", "release"}, nil)})
}

type pendingCollector struct {
	ages            PendingAges
	logger          *slog.Logger
	oldest, release *prometheus.Desc
}

func (p *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.oldest; ch <- p.release }

func (p *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	releases, oldest, err := p.ages(ctx, PendingAgeFloor, MaxPendingReleases)
	if err != nil {
		p.logger.Warn("pending change ages for metrics", slog.Any("error", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(p.oldest, prometheus.GaugeValue, oldest.Seconds())
	for _, r := range releases {
		ch <- prometheus.MustNewConstMetric(p.release, prometheus.GaugeValue, r.Age.Seconds(), r.Tenant, r.Repo, r.Release)
	}
}
