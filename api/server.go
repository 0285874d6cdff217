// Package api is aptq's HTTP API: echo handlers as methods on a Server.
package api

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/store"
)

// Config wires a Server.
type Config struct {
	Store    *store.Store
	Blob     blob.Blob
	Listener *store.Listener // wakes long polls
	River    jobs.Inserter   // an insert-only River client: enqueues jobs in the API's transactions
	Logger   *slog.Logger
	// MaxUploadBytes caps one .deb upload.
	MaxUploadBytes int64
	// Partitions is the number of publish queues releases are hashed into.
	Partitions int
	// ExternalURL is where clients reach the API, scheme://host[:port] without
	// a trailing slash: login links and repository URLs are built from it,
	// never from a request's Host, and the page's cookie is Secure when it is
	// https.
	ExternalURL string
	// MaxWait caps the long-poll wait a client may ask for.
	MaxWait time.Duration
	// ClientGrace is how long a change's client may go without long-polling
	// its job before the change fails client_gone (see store.TouchClient).
	ClientGrace time.Duration
	// Metrics records requests and serves /metrics; nil records nothing.
	Metrics *metrics.Metrics
	// MaxUploads and MaxTenantUploads bound the package uploads in flight
	// in this process, in all and per tenant (defaults 32 and 8).
	MaxUploads, MaxTenantUploads int
	// An upload body must bring MinUploadRate bytes per second, averaged
	// over UploadRateWindow of waiting (defaults 1 KiB/s, 30 s).
	MinUploadRate    int64
	UploadRateWindow time.Duration
	// MaxPlanPackages bounds a change the server plans itself (copy,
	// removals, prune); 0 is DefaultMaxPlanPackages.
	MaxPlanPackages int
	// MetricsElsewhere keeps /metrics off the API: another listener serves
	// it, so that an API facing the internet does not show internal numbers.
	MetricsElsewhere bool
	// ShutdownTimeout bounds how long Serve lets requests in flight finish
	// once its context ends (default 30 s).
	ShutdownTimeout time.Duration
	// WebhookAllowPrivate accepts webhook URLs naming loopback, private and
	// link-local addresses (off: a tenant could reach the internal network).
	WebhookAllowPrivate bool
}

// DefaultClientGrace leaves a client that is between two long polls (it
// signs, or its network blips) ample time, and still fails a vanished one's
// change long before the signature timeout.
const DefaultClientGrace = 10 * time.Second

// Server serves the /v1 API, health checks and the read-only APT view.
type Server struct {
	cfg     Config
	store   *store.Store
	blob    blob.Blob
	logger  *slog.Logger
	echo    *echo.Echo
	uploads *uploadSlots
	// routes holds the registered route templates: the only route labels
	// metrics get, so that unmatched paths cannot grow them.
	routeSet map[string]bool
	// draining is closed when the server shuts down (Drain).
	draining  chan struct{}
	drainOnce sync.Once
}

// New builds a Server and its routes.
func New(cfg Config) *Server {
	if cfg.MaxUploadBytes == 0 {
		cfg.MaxUploadBytes = 2 << 30
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 60 * time.Second
	}
	if cfg.ClientGrace == 0 {
		cfg.ClientGrace = DefaultClientGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.MaxUploads = cmp.Or(cfg.MaxUploads, 32)
	cfg.MaxTenantUploads = cmp.Or(cfg.MaxTenantUploads, 8)
	cfg.MinUploadRate = cmp.Or(cfg.MinUploadRate, 1<<10)
	cfg.UploadRateWindow = cmp.Or(cfg.UploadRateWindow, 30*time.Second)
	cfg.ShutdownTimeout = cmp.Or(cfg.ShutdownTimeout, 30*time.Second)
	cfg.MaxPlanPackages = cmp.Or(cfg.MaxPlanPackages, DefaultMaxPlanPackages)
	s := &Server{cfg: cfg, store: cfg.Store, blob: cfg.Blob, logger: cfg.Logger,
		uploads: newUploadSlots(cfg.MaxUploads, cfg.MaxTenantUploads), draining: make(chan struct{})}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.Recover(), s.observe)
	s.echo = e
	s.routes()
	s.routeSet = map[string]bool{}
	for _, r := range e.Routes() {
		s.routeSet[r.Path] = true
	}
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Serve listens on addr until ctx ends, then shuts down gracefully: it
// stops accepting connections, answers pending long polls at once (Drain),
// and lets the other requests in flight — uploads, signatures — finish
// within the shutdown timeout, past which it fails.
func (s *Server) Serve(ctx context.Context, addr string) error {
	// No ReadTimeout: it would cut off a large upload on a slow link.
	// Upload bodies have a minimum rate instead (uploadBody).
	srv := &http.Server{Addr: addr, Handler: s.echo, ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: 2 * time.Minute}
	srv.RegisterOnShutdown(s.Drain)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("API requests still in flight after the shutdown timeout (%v): %w", s.cfg.ShutdownTimeout, err)
	}
	return nil
}

// Drain answers every pending and later long poll at once, with the job as
// it is: a client takes that answer as "poll again", and its next poll, on a
// new connection (a shutting-down server closes each after its answer),
// reaches another API process.
func (s *Server) Drain() { s.drainOnce.Do(func() { close(s.draining) }) }

func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if s.cfg.Metrics != nil && !s.cfg.MetricsElsewhere {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.cfg.Metrics.Registry, promhttp.HandlerOpts{})))
	}

	e.GET("/apt/:tenant/:repo/*", s.serveAPT)
	e.HEAD("/apt/:tenant/:repo/*", s.serveAPT)

	// Every route states the token scope it needs (scopes.go); routes that
	// name a repository also check a token limited to some.
	auth := e.Group("/v1", s.authenticate)
	auth.GET("/openapi.json", s.serveOpenAPI, s.scope(read))
	auth.GET("/whoami", s.whoami, s.scope(read))
	auth.POST("/tenants", s.createTenant, adminOnly)
	auth.GET("/tenants", s.listTenants, adminOnly)
	auth.GET("/jobs", s.listJobs, s.scope(read, queryRepo))
	auth.GET("/jobs/:id", s.getJob, s.scope(read, jobRepo))

	v1 := auth.Group("", tenantOnly)
	v1.GET("/tokens", s.listTokens, s.scope(admin))
	v1.POST("/tokens", s.createToken, s.scope(admin))
	v1.DELETE("/tokens/:id", s.revokeToken, s.scope(admin))
	v1.GET("/audit", s.listAudit, s.scope(admin))
	v1.POST("/repos", s.createRepo, s.scope(admin))
	v1.GET("/repos", s.listRepos, s.scope(read))
	v1.GET("/repos/:repo", s.getRepo, s.scope(read))
	v1.POST("/repos/:repo/keys", s.addKey, s.scope(admin))
	v1.GET("/repos/:repo/keys", s.listKeys, s.scope(read))
	v1.GET("/repos/:repo/keys/:fingerprint", s.getKey, s.scope(read))
	v1.DELETE("/repos/:repo/keys/:fingerprint", s.removeKey, s.scope(admin))
	v1.POST("/repos/:repo/releases", s.createRelease, s.scope(admin))
	v1.GET("/repos/:repo/releases", s.listReleases, s.scope(read))
	v1.GET("/repos/:repo/releases/:release", s.getRelease, s.scope(read))
	v1.PATCH("/repos/:repo/releases/:release", s.updateRelease, s.scope(admin))
	v1.DELETE("/repos/:repo/releases/:release", s.deleteRelease, s.scope(admin))
	v1.DELETE("/repos/:repo", s.deleteRepo, s.scope(admin))
	v1.POST("/repos/:repo/webhooks", s.createWebhook, s.scope(admin))
	v1.GET("/repos/:repo/webhooks", s.listWebhooks, s.scope(read))
	v1.DELETE("/repos/:repo/webhooks/:id", s.removeWebhook, s.scope(admin))
	v1.GET("/repos/:repo/webhooks/:id/deliveries", s.listWebhookDeliveries, s.scope(read))
	v1.POST("/repos/:repo/releases/:release/changes", s.submitChange, s.scope(publish))
	v1.POST("/repos/:repo/releases/:release/copy", s.copyPackages, s.scope(publish))
	v1.POST("/repos/:repo/releases/:release/removals", s.removePackages, s.scope(publish))
	v1.POST("/repos/:repo/releases/:release/prune", s.prune, s.scope(publish))
	v1.POST("/repos/:repo/releases/:release/resign", s.resign, s.scope(publish))
	v1.POST("/repos/:repo/releases/:release/rollback", s.rollback, s.scope(publish))
	v1.GET("/repos/:repo/releases/:release/history", s.history, s.scope(read))
	v1.GET("/repos/:repo/releases/:release/rounds", s.listRounds, s.scope(read))
	v1.GET("/repos/:repo/releases/:release/packages", s.listPackages, s.scope(read))
	v1.POST("/repos/:repo/releases/:release/reconcile", s.requestReconcile, s.scope(publish))
	v1.GET("/repos/:repo/releases/:release/reconcile", s.reconcileReports, s.scope(read))
	v1.HEAD("/packages/:sha256", headBySHA256(s.store.PackageBySHA256), s.scope(publish))
	v1.PUT("/packages/:sha256", s.putPackage, s.scope(publish))
	v1.HEAD("/files/:sha256", headBySHA256(s.store.UploadedFileBySHA256), s.scope(publish))
	v1.PUT("/files/:sha256", s.putFile, s.scope(publish))
	v1.PUT("/sources/:sha256", s.putSource, s.scope(publish))
	v1.DELETE("/jobs/:id", s.cancelJob, s.scope(publish, jobRepo))
	v1.POST("/jobs/:id/retry", s.retryJob, s.scope(publish, jobRepo))
	v1.GET("/rounds/:id", s.getRound, s.scope(read, roundRepo))
	v1.POST("/rounds/:id/signature", s.submitSignature, s.scope(publish, roundRepo))
	s.uiRoutes(e)
}

// observe logs each request with an id and records its metrics, by route
// template (not path) so that ids do not explode the label space.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !safeRequestID(id) {
			id = randomSuffix()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		err := next(c)
		if err != nil {
			c.Error(err) // writes the response, so the status below is the real one
		}
		status := c.Response().Status
		method := c.Request().Method
		if len(method) > 16 {
			method = method[:16] + "…"
		}
		route := c.Path()
		if !s.routeSet[route] {
			route = "unmatched"
		}
		s.cfg.Metrics.HTTPRequest(c.Request().Method, route, status, time.Since(start))
		if status >= 500 || s.logger.Enabled(c.Request().Context(), slog.LevelDebug) {
			s.logger.Info("request", slog.String("request_id", id), slog.String("method", method),
				slog.String("route", route), slog.Int("status", status), slog.Duration("took", time.Since(start)))
		}
		return nil
	}
}

// safeRequestID accepts a client's X-Request-ID only when it is short and
// plain: it is echoed in a header and written to every log line.
func safeRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
