package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/aptq/aptq/api"
	"github.com/aptq/aptq/blob"
	"github.com/aptq/aptq/jobs"
	"github.com/aptq/aptq/metrics"
	"github.com/aptq/aptq/migrations"
	"github.com/aptq/aptq/store"
	"github.com/aptq/aptq/worker"
)

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "aptqd",
		Short:         "aptq server: API, publish workers, migrations",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(migrateCommand(), serveCommand("api", true, false), serveCommand("worker", false, true),
		serveCommand("all", true, true), adminCommand())
	return root
}

func migrateCommand() *cobra.Command {
	var cfg config
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "apply database migrations (aptq's and River's); a no-op when current",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.validate(false, false, false); err != nil {
				return err
			}
			log := cfg.logger()
			pool, err := store.Connect(cmd.Context(), cfg.databaseURL)
			if err != nil {
				return err
			}
			defer pool.Close()
			res, err := migrations.Up(cmd.Context(), pool, log)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "migrations applied: aptq %d, river %d\n", len(res.Applied), len(res.RiverApplied))
			return nil
		},
	}
	cfg.bindDatabase(cmd.Flags())
	return cmd
}

func adminCommand() *cobra.Command {
	var cfg config
	admin := &cobra.Command{Use: "admin", Short: "administrative tasks"}
	create := &cobra.Command{
		Use:   "create-tenant NAME",
		Short: "create a tenant and print its first API token (shown once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.validate(false, false, false); err != nil {
				return err
			}
			pool, err := store.Connect(cmd.Context(), cfg.databaseURL)
			if err != nil {
				return err
			}
			defer pool.Close()
			_, token, err := store.New(pool).CreateTenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	cfg.bindDatabase(create.Flags())
	token := &cobra.Command{
		Use:   "create-token",
		Short: "create an operator token (manages tenants) and print it (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.validate(false, false, false); err != nil {
				return err
			}
			pool, err := store.Connect(cmd.Context(), cfg.databaseURL)
			if err != nil {
				return err
			}
			defer pool.Close()
			_, secret, err := store.New(pool).CreateToken(cmd.Context(), store.TokenSpec{Name: "operator"})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
	cfg.bindDatabase(token.Flags())
	admin.AddCommand(create, token)
	return admin
}

// serveCommand runs the API, the workers, or both ("all", which also
// migrates first so that one command starts a working server).
func serveCommand(role string, withAPI, withWorker bool) *cobra.Command {
	var cfg config
	short := map[string]string{
		"api":    "serve the HTTP API",
		"worker": "run publish workers",
		"all":    "migrate, then serve the API and run workers in one process",
	}[role]
	cmd := &cobra.Command{
		Use:   role,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.validate(true, withAPI, withWorker); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, role == "all", withAPI, withWorker)
		},
	}
	cfg.bindDatabase(cmd.Flags())
	cfg.bindS3(cmd.Flags())
	cfg.bindQueues(cmd.Flags())
	cfg.bindMetrics(cmd.Flags())
	if withAPI {
		cfg.bindAPI(cmd.Flags())
	}
	if withWorker {
		cfg.bindWorker(cmd.Flags())
	}
	return cmd
}

func serve(ctx context.Context, cfg config, migrate, withAPI, withWorker bool) error {
	log := cfg.logger()
	pool, err := store.Connect(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if migrate {
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
	listener := store.NewListener(pool, log)
	mets := metrics.New()
	mets.CountFromDatabase(st, log)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { listener.Run(ctx); return nil })

	riverClient, err := newRiverClient(pool, cfg, log, withWorker, worker.Config{
		Store: st, Blob: bucket, Listener: listener, Logger: log, Holder: holderName(),
		LeaseTTL: cfg.leaseTTL, SignatureTimeout: cfg.signatureTimeout, RoundBudget: cfg.roundBudget,
		Partitions: cfg.partitions, Metrics: mets, MaintenanceInterval: cfg.maintenanceInterval,
		KeepGenerations: cfg.keepGenerations, GCGrace: cfg.gcGrace, IndexCacheBytes: indexCacheBytes(cfg.indexCacheMiB),
		IndexMaxAge: cfg.indexMaxAge,
	})
	if err != nil {
		return err
	}
	if withWorker {
		if err := riverClient.Start(ctx); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
		g.Go(func() error {
			<-ctx.Done()
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return riverClient.Stop(stopCtx)
		})
		log.Info("workers started", slog.Int("partitions", cfg.partitions), slog.Int("workers_per_queue", cfg.workersPerQueue))
	}
	// A separate metrics listener keeps /metrics off the API's address,
	// which may face the internet; a worker-only process has no other.
	if cfg.metricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(mets.Registry, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		// Bound before the API starts: once the API is ready, so are metrics.
		l, err := net.Listen("tcp", cfg.metricsListen)
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
		log.Info("metrics listening", slog.String("addr", cfg.metricsListen))
	}
	if withAPI {
		externalURL, configured := cfg.apiExternalURL()
		if !configured {
			log.Warn("no --external-url (APTQ_EXTERNAL_URL): login links and repository URLs use the listen address",
				slog.String("external_url", externalURL))
		}
		srv := api.New(api.Config{Store: st, Blob: bucket, Listener: listener, River: riverClient, Logger: log,
			MaxUploadBytes: cfg.maxUploadBytes, Partitions: cfg.partitions, Metrics: mets, ClientGrace: cfg.clientGrace,
			MaxPlanPackages: cfg.maxPlanPackages,
			ExternalURL:     externalURL, MaxUploads: cfg.maxUploads, MaxTenantUploads: cfg.maxTenantUploads,
			MinUploadRate: int64(cfg.uploadMinRate), UploadRateWindow: cfg.uploadRateWindow,
			MetricsElsewhere: cfg.metricsListen != ""})
		g.Go(func() error { return srv.Serve(ctx, cfg.listen) })
		log.Info("api listening", slog.String("addr", cfg.listen))
	}
	return g.Wait()
}

// newRiverClient builds the River client: insert-only for the API, with
// queues and workers for a worker. Settings, on purpose:
//   - one queue per partition, workersPerQueue jobs each: a flood on one
//     release fills one queue only; waiting jobs snooze instead of holding a slot;
//   - the publish worker's own Timeout bounds a leader (round budget +
//     signature timeout + upload); RescueStuckJobsAfter is longer than that,
//     so River rescues only jobs of a dead process, never a live leader's.
func newRiverClient(pool *pgxpool.Pool, cfg config, log *slog.Logger, withWorker bool, wcfg worker.Config) (*river.Client[pgx.Tx], error) {
	rc := &river.Config{
		Logger: log,
		// An insert wakes the workers of its queue through a notification, but
		// River sends at most one per queue per FetchCooldown, so a job inserted
		// within 100 ms (the default) of another waited for the next poll, up to
		// FetchPollInterval (1 s): a publish every few hundred milliseconds to
		// one release hit that often. 20 ms bounds the notifications as well,
		// and the poll, the fallback, runs twice as often as River's default.
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 500 * time.Millisecond,
	}
	if withWorker {
		workers := river.NewWorkers()
		worker.Register(workers, wcfg)
		queues := map[string]river.QueueConfig{jobs.MaintenanceQueue: {MaxWorkers: 2}}
		for _, q := range jobs.PublishQueues(cfg.partitions) {
			queues[q] = river.QueueConfig{MaxWorkers: cfg.workersPerQueue}
		}
		rc.Workers = workers
		rc.Queues = queues
		rc.PeriodicJobs = worker.PeriodicJobs(wcfg)
		rc.ID = wcfg.Holder
		rc.RescueStuckJobsAfter = cfg.roundBudget + cfg.signatureTimeout + 10*time.Minute
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}

// holderName identifies this process in lease rows and River's client id.
func holderName() string {
	host, _ := os.Hostname()
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
}

// indexCacheBytes turns --index-cache-mib into worker.Config's terms, where
// 0 is the default and a negative number disables the cache.
func indexCacheBytes(mib int) int64 {
	if mib == 0 {
		return -1
	}
	return int64(mib) << 20
}
