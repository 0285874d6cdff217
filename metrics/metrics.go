// Package metrics defines aptq's Prometheus metrics. A nil *Metrics is
// valid and records nothing, so packages need no metrics in their tests.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every aptq metric and the registry they are served from.
type Metrics struct {
	Registry         *prometheus.Registry
	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec
	roundDuration    prometheus.Histogram
	signatureWait    prometheus.Histogram
	uploadSeconds    *prometheus.HistogramVec
	leaseTakeovers   prometheus.Counter
	reconcileRepairs prometheus.Counter
	indexLookups     *prometheus.CounterVec
	roundBytes       prometheus.Histogram
	s3Errors         *prometheus.CounterVec
	webhookAttempts  *prometheus.CounterVec
}

// New registers aptq's metrics, and Go's and the process's, in a new registry.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	latency := prometheus.ExponentialBuckets(0.005, 2, 14) // 5 ms … 41 s
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aptq_http_requests_total", Help: "HTTP requests by method, route and status.",
	}, []string{"method", "route", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "aptq_http_request_duration_seconds", Help: "HTTP request duration by method and route (long polls included).",
		Buckets: latency,
	}, []string{"method", "route"})
	m.roundDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "aptq_round_duration_seconds", Help: "Time from a round's cut to its InRelease in S3.", Buckets: latency,
	})
	m.signatureWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "aptq_signature_wait_seconds", Help: "Time from a round's cut to its accepted signature.", Buckets: latency,
	})
	m.uploadSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "aptq_upload_seconds", Help: "S3 upload time of a round, by phase (by_hash: the cut, index generation included, which the uploads overlap; publish).", Buckets: latency,
	}, []string{"phase"})
	m.leaseTakeovers = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "aptq_lease_takeovers_total", Help: "Release leases taken over after their holder's expired.",
	})
	m.reconcileRepairs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "aptq_reconcile_repairs_total", Help: "S3 objects a reconcile repaired.",
	})
	m.indexLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aptq_index_cache_lookups_total",
		Help: "Indexes a round needed, by whether the worker's index cache held the last generation's (hit) or it was rebuilt from the database (miss).",
	}, []string{"result"})
	m.roundBytes = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "aptq_round_upload_bytes",
		Help: "Bytes a published round wrote to S3: by-hash and flat indexes, pool files, Release, Release.gpg, InRelease.",
		// 4 KiB … 4 GiB
		Buckets: prometheus.ExponentialBuckets(4096, 4, 11),
	})
	m.s3Errors = newS3Errors()
	m.webhookAttempts = newWebhookAttempts()
	m.Registry.MustRegister(m.httpRequests, m.httpDuration, m.roundDuration, m.signatureWait,
		m.uploadSeconds, m.leaseTakeovers, m.reconcileRepairs, m.indexLookups, m.roundBytes, m.s3Errors, m.webhookAttempts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// HTTPRequest records one request. route must come from a fixed set (the
// caller's route templates); method and status are folded into fixed sets
// here, because a client chooses them and every new label value is a series
// kept in memory for the life of the process.
func (m *Metrics) HTTPRequest(method, route string, status int, took time.Duration) {
	if m == nil {
		return
	}
	method = methodLabel(method)
	m.httpRequests.WithLabelValues(method, route, statusLabel(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(took.Seconds())
}

func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodOptions:
		return method
	}
	return "other"
}

// StatusClientClosed is the status of a request whose client went away
// before the answer (nginx's 499): not a server error.
const StatusClientClosed = 499

func statusLabel(status int) string {
	if http.StatusText(status) == "" && status != StatusClientClosed {
		return "other"
	}
	return strconv.Itoa(status)
}

// RoundPublished records how long a round took from its cut until its
// InRelease was in S3.
func (m *Metrics) RoundPublished(took time.Duration) {
	if m != nil {
		m.roundDuration.Observe(took.Seconds())
	}
}

// SignatureWaited records how long a round waited for its signature.
func (m *Metrics) SignatureWaited(took time.Duration) {
	if m != nil {
		m.signatureWait.Observe(took.Seconds())
	}
}

// Uploaded records the duration of an upload phase.
func (m *Metrics) Uploaded(phase string, took time.Duration) {
	if m != nil {
		m.uploadSeconds.WithLabelValues(phase).Observe(took.Seconds())
	}
}

// RoundUploadBytes records what a published round wrote to S3.
func (m *Metrics) RoundUploadBytes(n int64) {
	if m != nil {
		m.roundBytes.Observe(float64(n))
	}
}

// LeaseTakenOver counts a takeover of an expired lease.
func (m *Metrics) LeaseTakenOver() {
	if m != nil {
		m.leaseTakeovers.Inc()
	}
}

// IndexLookup counts an index a round needed, found in the index cache or not.
func (m *Metrics) IndexLookup(hit bool) {
	if m != nil {
		result := "miss"
		if hit {
			result = "hit"
		}
		m.indexLookups.WithLabelValues(result).Inc()
	}
}

// Repaired counts objects a reconcile repaired.
func (m *Metrics) Repaired(n int) {
	if m != nil {
		m.reconcileRepairs.Add(float64(n))
	}
}

// Counter counts rows by two labels (the store does, in SQL).
type Counter interface {
	JobCounts(ctx context.Context) (map[[2]string]int, error)
	RoundCounts(ctx context.Context) (map[[2]string]int, error)
}

// CountFromDatabase exports, at each scrape, River's jobs by kind and state
// and rounds by state and error code, as the database has them: exact
// across every aptqd process, unlike per-process counters.
func (m *Metrics) CountFromDatabase(c Counter, logger *slog.Logger) {
	m.Registry.MustRegister(
		&dbCollector{count: c.JobCounts, logger: logger, desc: prometheus.NewDesc(
			"aptq_jobs", "River jobs by kind and state.", []string{"kind", "state"}, nil)},
		&dbCollector{count: c.RoundCounts, logger: logger, desc: prometheus.NewDesc(
			"aptq_rounds", "Rounds by state and error code.", []string{"state", "error"}, nil)})
}

type dbCollector struct {
	count  func(context.Context) (map[[2]string]int, error)
	logger *slog.Logger
	desc   *prometheus.Desc
}

func (d *dbCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

func (d *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := d.count(ctx)
	if err != nil {
		d.logger.Warn("count rows for metrics", slog.Any("error", err))
		return
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}
