package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/aptq/aptq/api"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/migrations"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/worker"
)

// softStopTimeout is how long of the shutdown timeout a worker's running
// jobs may go on before River cancels them: the rest is for cancelled
// leaders to let their leases go and hand over.
func softStopTimeout(shutdown time.Duration) time.Duration {
	return shutdown - min(5*time.Second, shutdown/4)
}

// serve runs the API, the workers or both until ctx ends (SIGTERM), then
// drains within the shutdown timeout: the API stops accepting connections,
// answers pending long polls and lets uploads and signatures finish; the
// workers stop taking jobs and their leaders finish or hand over their
// rounds. The database listener and the metrics listener stay up until
// both are done. It returns nil after a clean drain.
func serve(ctx context.Context, cfg config, role string, withAPI, withWorker bool) error {
	log := cfg.logger()
	pool, err := store.ConnectReserved(ctx, cfg.databaseURL, cfg.dbPoolSize)
	if store.IsTooManyConnections(err) {
		return fmt.Errorf("%w\nPostgres has no room for this process: each aptqd %s holds APTQ_DB_POOL_SIZE (%d) + %d connections "+
			"from its start; lower APTQ_DB_POOL_SIZE or raise max_connections (docs/design.md, Deploying)",
			err, role, cfg.dbPoolSize, dedicatedConns(role))
	}
	if err != nil {
		return err
	}
	defer pool.Close()
	if role == "all" {
		if _, err := migrations.Up(ctx, pool, log); err != nil {
			return err
		}
	}
	bucket, err := blob.NewS3(ctx, blob.Config{Endpoint: cfg.s3Endpoint, Region: cfg.s3Region,
		Bucket: cfg.s3Bucket, AccessKey: cfg.s3AccessKey, SecretKey: cfg.s3SecretKey})
	if err != nil {
		return err
	}
	st := store.New(pool)
	if cfg.adminToken != "" {
		if err := st.EnsureAdminToken(ctx, cfg.adminToken); err != nil {
			return err
		}
	}

	// run lasts until the API and the workers have drained; stop ends with
	// the signal, or as soon as any part fails.
	run, endRun := context.WithCancel(context.WithoutCancel(ctx))
	defer endRun()
	stop, stopNow := context.WithCancel(ctx)
	defer stopNow()
	background, bgctx := errgroup.WithContext(run)
	context.AfterFunc(bgctx, stopNow)
	var parts errgroup.Group
	part := func(f func() error) {
		parts.Go(func() error {
			err := f()
			if err != nil {
				stopNow()
			}
			return err
		})
	}

	listener := store.NewListener(pool, log)
	background.Go(func() error { listener.Run(bgctx); return nil })
	mets := metrics.New()
	exportFromDatabase(mets, st, log)
	// Every S3 request of this process counts its failures (aptq_s3_errors_total).
	objects := mets.Blob(bucket)
	stopping := make(chan struct{})
	wcfg := worker.Config{
		Store: st, Blob: objects, Listener: listener, Logger: log, Holder: holderName(),
		LeaseTTL: cfg.leaseTTL, SignatureTimeout: cfg.signatureTimeout, RoundBudget: cfg.roundBudget,
		Partitions: cfg.partitions, Metrics: mets, MaintenanceInterval: cfg.maintenanceInterval,
		KeepGenerations: cfg.keepGenerations, GCGrace: cfg.gcGrace, IndexCacheBytes: indexCacheBytes(cfg.indexCacheMiB),
		IndexMaxAge: cfg.indexMaxAge, Stopping: stopping,
	}
	riverClient, err := newRiverClient(pool, cfg, log, withWorker, wcfg)
	if err != nil {
		return err
	}
	// Set before any part starts: the rounds this process publishes or
	// fails enqueue their webhook deliveries in the same transaction.
	st.EnqueueWebhooks = worker.WebhookEnqueuer(riverClient)
	if withWorker {
		if err := riverClient.Start(run); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
		background.Go(func() error { worker.WatchLeases(bgctx, wcfg, riverClient); return nil })
		part(func() error {
			<-stop.Done()
			close(stopping)
			drainCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
			defer cancel()
			if err := riverClient.Stop(drainCtx); err != nil {
				return fmt.Errorf("workers still running after the shutdown timeout (%v): %w", cfg.shutdownTimeout, err)
			}
			return nil
		})
		log.Info("workers started", slog.Int("partitions", cfg.partitions), slog.Int("workers_per_queue", cfg.workersPerQueue),
			slog.Int("db_pool_size", cfg.dbPoolSize))
	}
	if cfg.metricsListen != "" {
		if err := serveMetrics(background, bgctx, cfg.metricsListen, mets); err != nil {
			return err
		}
		log.Info("metrics listening", slog.String("addr", cfg.metricsListen))
	}
	if withAPI {
		externalURL, configured := cfg.apiExternalURL()
		if !configured {
			log.Warn("no --external-url (APTQ_EXTERNAL_URL): login links and repository URLs use the listen address",
				slog.String("external_url", externalURL))
		}
		srv := api.New(api.Config{Store: st, Blob: objects, Listener: listener, River: riverClient, Logger: log,
			MaxUploadBytes: cfg.maxUploadBytes, Partitions: cfg.partitions, Metrics: mets, ClientGrace: cfg.clientGrace,
			MaxPlanPackages: cfg.maxPlanPackages,
			ExternalURL:     externalURL, MaxUploads: cfg.maxUploads, MaxTenantUploads: cfg.maxTenantUploads,
			MinUploadRate: int64(cfg.uploadMinRate), UploadRateWindow: cfg.uploadRateWindow,
			MetricsElsewhere: cfg.metricsListen != "", ShutdownTimeout: cfg.shutdownTimeout,
			WebhookAllowPrivate: cfg.webhooks.allowPrivate})
		part(func() error { return srv.Serve(stop, cfg.listen) })
		log.Info("api listening", slog.String("addr", cfg.listen), slog.Int("db_pool_size", cfg.dbPoolSize))
	}
	<-stop.Done()
	if ctx.Err() != nil {
		log.Info("shutting down", slog.Duration("shutdown_timeout", cfg.shutdownTimeout))
	}
	err = parts.Wait()
	endRun()
	err = errors.Join(err, background.Wait())
	if err == nil {
		log.Info("stopped cleanly")
	}
	return err
}

// serveMetrics serves /metrics on its own address until ctx ends: it keeps
// internal numbers off the API's address, which may face the internet; a
// worker-only process has no other. It binds before returning, so that
// metrics are ready when the API is.
func serveMetrics(g *errgroup.Group, ctx context.Context, addr string, mets *metrics.Metrics) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(mets.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	g.Go(func() error {
		<-ctx.Done()
		return srv.Shutdown(context.Background())
	})
	g.Go(func() error {
		if err := srv.Serve(l); err != http.ErrServerClosed {
			return err
		}
		return nil
	})
	return nil
}
