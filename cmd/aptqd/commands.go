package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/spf13/cobra"

	"github.com/aptq/aptq/jobs"
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
			return printSecret(cmd, cfg, func(st *store.Store) (string, error) {
				_, token, err := st.CreateTenant(cmd.Context(), args[0])
				return token, err
			})
		},
	}
	cfg.bindDatabase(create.Flags())
	token := &cobra.Command{
		Use:   "create-token",
		Short: "create an operator token (manages tenants) and print it (shown once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printSecret(cmd, cfg, func(st *store.Store) (string, error) {
				_, secret, err := st.CreateToken(cmd.Context(), store.TokenSpec{Name: "operator"})
				return secret, err
			})
		},
	}
	cfg.bindDatabase(token.Flags())
	admin.AddCommand(create, token)
	return admin
}

// printSecret connects to the database, runs create and prints the secret
// it made (a token, shown this once).
func printSecret(cmd *cobra.Command, cfg config, create func(*store.Store) (string, error)) error {
	if err := cfg.validate(false, false, false); err != nil {
		return err
	}
	pool, err := store.Connect(cmd.Context(), cfg.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	secret, err := create(store.New(pool))
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), secret)
	return nil
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
			return serve(cmd.Context(), cfg, role, withAPI, withWorker)
		},
	}
	cfg.bindDatabase(cmd.Flags())
	cfg.bindS3(cmd.Flags())
	cfg.bindQueues(cmd.Flags())
	cfg.bindMetrics(cmd.Flags())
	cfg.bindServe(cmd.Flags(), role)
	cfg.bindWebhooks(cmd.Flags())
	if withAPI {
		cfg.bindAPI(cmd.Flags())
	}
	if withWorker {
		cfg.bindWorker(cmd.Flags())
	}
	return cmd
}

// newRiverClient builds the River client: insert-only for the API, with
// queues and workers for a worker. Settings, on purpose:
//   - one queue per partition, workersPerQueue jobs each: a flood on one
//     release fills one queue only; waiting jobs snooze instead of holding a slot;
//   - the publish worker's own Timeout bounds a leader (round budget +
//     signature timeout + upload); RescueStuckJobsAfter is derived from it
//     and longer, so River rescues only jobs of a dead process, never a
//     live leader's;
//   - a stop is soft for most of the shutdown timeout (running jobs go on:
//     a leader finishes its round), then River cancels what still runs,
//     leaving time for those jobs to hand over (worker/drain.go).
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
		river.AddWorker(workers, cfg.webhookWorker(wcfg))
		queues := map[string]river.QueueConfig{jobs.MaintenanceQueue: {MaxWorkers: 2},
			jobs.WebhookQueue: {MaxWorkers: cfg.webhooks.workers}}
		for _, q := range jobs.PublishQueues(cfg.partitions) {
			queues[q] = river.QueueConfig{MaxWorkers: cfg.workersPerQueue}
		}
		rc.Workers = workers
		rc.Queues = queues
		rc.PeriodicJobs = worker.PeriodicJobs(wcfg)
		rc.ID = wcfg.Holder
		rc.RescueStuckJobsAfter = wcfg.RescueStuckJobsAfter()
		rc.SoftStopTimeout = softStopTimeout(cfg.shutdownTimeout)
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}

// holderName identifies this process in lease rows and River's client id.
// River's leader election tells processes apart by that id, so it must be
// unique across every process on every machine, where host names and pids
// repeat (containers on the host network are each pid 1): a random part
// makes it so.
func holderName() string {
	host, _ := os.Hostname()
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + strings.ToLower(rand.Text()[:10])
}

// indexCacheBytes turns --index-cache-mib into worker.Config's terms, where
// 0 is the default and a negative number disables the cache.
func indexCacheBytes(mib int) int64 {
	if mib == 0 {
		return -1
	}
	return int64(mib) << 20
}
