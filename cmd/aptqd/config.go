package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/aptq/aptq/api"
	"github.com/aptq/aptq/worker"
)

// config is every setting of aptqd; each flag defaults to its APTQ_* variable.
type config struct {
	databaseURL      string
	s3Endpoint       string
	s3Bucket         string
	s3AccessKey      string
	s3SecretKey      string
	s3SecretKeyFile  string
	s3Region         string
	listen           string
	externalURL      string
	adminToken       string
	adminTokenFile   string
	logLevel         string
	partitions       int
	workersPerQueue  int
	leaseTTL         time.Duration
	signatureTimeout time.Duration
	clientGrace      time.Duration
	roundBudget      time.Duration
	maxUploadBytes   int64
	maxUploads       int
	maxTenantUploads int
	uploadMinRate    int
	uploadRateWindow time.Duration
	maxPlanPackages  int

	metricsListen       string
	maintenanceInterval time.Duration
	keepGenerations     int
	gcGrace             time.Duration
	indexMaxAge         time.Duration
	indexCacheMiB       int

	shutdownTimeout time.Duration
	dbPoolSize      int

	webhooks webhookConfig
}

// envErrors collects malformed APTQ_* values, reported at start-up.
var envErrors []error

func envString(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		envErrors = append(envErrors, fmt.Errorf("%s=%q is not a whole number", name, v))
	}
	return n
}

func envDuration(name string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		envErrors = append(envErrors, fmt.Errorf("%s=%q is not a duration like 30s", name, v))
	}
	return d
}

func (c *config) bindDatabase(fs *pflag.FlagSet) {
	fs.StringVar(&c.databaseURL, "database-url", envString("APTQ_DATABASE_URL", ""), "Postgres URL ($APTQ_DATABASE_URL)")
	fs.StringVar(&c.logLevel, "log-level", envString("APTQ_LOG_LEVEL", "info"), "debug, info, warn or error ($APTQ_LOG_LEVEL)")
}

func (c *config) bindS3(fs *pflag.FlagSet) {
	fs.StringVar(&c.s3Endpoint, "s3-endpoint", envString("APTQ_S3_ENDPOINT", ""), "S3 endpoint URL; empty for AWS ($APTQ_S3_ENDPOINT)")
	fs.StringVar(&c.s3Bucket, "s3-bucket", envString("APTQ_S3_BUCKET", ""), "S3 bucket ($APTQ_S3_BUCKET)")
	fs.StringVar(&c.s3AccessKey, "s3-access-key", envString("APTQ_S3_ACCESS_KEY", ""), "S3 access key ($APTQ_S3_ACCESS_KEY)")
	fs.StringVar(&c.s3SecretKey, "s3-secret-key", envString("APTQ_S3_SECRET_KEY", ""), "S3 secret key ($APTQ_S3_SECRET_KEY); a flag's value shows in ps, so prefer the variable or --s3-secret-key-file")
	fs.StringVar(&c.s3SecretKeyFile, "s3-secret-key-file", envString("APTQ_S3_SECRET_KEY_FILE", ""), "file holding the S3 secret key, e.g. a mounted secret ($APTQ_S3_SECRET_KEY_FILE)")
	fs.StringVar(&c.s3Region, "s3-region", envString("APTQ_S3_REGION", "us-east-1"), "S3 region ($APTQ_S3_REGION)")
}

// bindServe binds what every serving role has: its share of the
// database's connections, and how long it drains when told to stop.
func (c *config) bindServe(fs *pflag.FlagSet, role string) {
	fs.IntVar(&c.dbPoolSize, "db-pool-size", envInt("APTQ_DB_POOL_SIZE", defaultPoolSize[role]),
		"database connections this process opens at start and keeps; it does not start when Postgres refuses one (plus "+
			strconv.Itoa(dedicatedConns(role))+" for notifications) ($APTQ_DB_POOL_SIZE)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", envDuration("APTQ_SHUTDOWN_TIMEOUT", 30*time.Second),
		"on SIGTERM, how long requests in flight and the round a worker leads may take to finish ($APTQ_SHUTDOWN_TIMEOUT)")
}

// defaultPoolSize per role: with them 2 API and 3 worker processes fit
// Postgres's default max_connections (100) with room for migrations and
// operators (docs/design.md, Deploying).
var defaultPoolSize = map[string]int{"api": 12, "worker": 16, "all": 24}

// dedicatedConns is what a role holds besides its pool: aptq's LISTEN
// connection, and a worker's River notifier.
func dedicatedConns(role string) int {
	if role == "api" {
		return 1
	}
	return 2
}

func (c *config) bindQueues(fs *pflag.FlagSet) {
	fs.IntVar(&c.partitions, "partitions", envInt("APTQ_PARTITIONS", 16), "publish queues releases are hashed into ($APTQ_PARTITIONS)")
}

func (c *config) bindAPI(fs *pflag.FlagSet) {
	fs.StringVar(&c.listen, "listen", envString("APTQ_LISTEN", "127.0.0.1:8080"), "API listen address ($APTQ_LISTEN)")
	fs.StringVar(&c.externalURL, "external-url", envString("APTQ_EXTERNAL_URL", ""),
		"where clients reach the API, e.g. https://aptq.example.com: login links, repository URLs and the page's Secure cookie follow it; empty: the listen address ($APTQ_EXTERNAL_URL)")
	fs.StringVar(&c.adminToken, "admin-token", envString("APTQ_ADMIN_TOKEN", ""), "register this operator token at start, to bootstrap ($APTQ_ADMIN_TOKEN); a flag's value shows in ps, so prefer the variable or --admin-token-file")
	fs.StringVar(&c.adminTokenFile, "admin-token-file", envString("APTQ_ADMIN_TOKEN_FILE", ""), "file holding the operator token to register at start ($APTQ_ADMIN_TOKEN_FILE)")
	fs.Int64Var(&c.maxUploadBytes, "max-upload-bytes", int64(envInt("APTQ_MAX_UPLOAD_BYTES", 2<<30)), "largest .deb accepted ($APTQ_MAX_UPLOAD_BYTES)")
	fs.DurationVar(&c.clientGrace, "client-grace", envDuration("APTQ_CLIENT_GRACE", api.DefaultClientGrace),
		"how long a change's client may stop polling its job before the change fails client_gone and leaves its round ($APTQ_CLIENT_GRACE)")
	fs.IntVar(&c.maxUploads, "max-uploads", envInt("APTQ_MAX_UPLOADS", 32), "package uploads in flight per API process; more get 429 ($APTQ_MAX_UPLOADS)")
	fs.IntVar(&c.maxTenantUploads, "max-tenant-uploads", envInt("APTQ_MAX_TENANT_UPLOADS", 8), "package uploads in flight per tenant and API process ($APTQ_MAX_TENANT_UPLOADS)")
	fs.IntVar(&c.uploadMinRate, "upload-min-rate", envInt("APTQ_UPLOAD_MIN_RATE", 1024), "bytes per second an upload must bring, averaged over the rate window; slower ones get 408 ($APTQ_UPLOAD_MIN_RATE)")
	fs.DurationVar(&c.uploadRateWindow, "upload-rate-window", envDuration("APTQ_UPLOAD_RATE_WINDOW", 30*time.Second), "window of the minimum upload rate ($APTQ_UPLOAD_RATE_WINDOW)")
	fs.IntVar(&c.maxPlanPackages, "max-plan-packages", envInt("APTQ_MAX_PLAN_PACKAGES", api.DefaultMaxPlanPackages),
		fmt.Sprintf("most packages one copy, removal or prune may change; a larger plan gets 422 too_many_matches (1 to %d; $APTQ_MAX_PLAN_PACKAGES)", api.MaxPlanPackagesLimit))
}

func (c *config) bindMetrics(fs *pflag.FlagSet) {
	fs.StringVar(&c.metricsListen, "metrics-listen", envString("APTQ_METRICS_LISTEN", ""),
		"serve /metrics on this address (e.g. an internal interface) and not on the API's; empty: a process with the API serves it there ($APTQ_METRICS_LISTEN)")
}

func (c *config) bindWorker(fs *pflag.FlagSet) {
	fs.IntVar(&c.workersPerQueue, "workers-per-queue", envInt("APTQ_WORKERS_PER_QUEUE", 10), "concurrent jobs per publish queue ($APTQ_WORKERS_PER_QUEUE)")
	fs.DurationVar(&c.leaseTTL, "lease-ttl", envDuration("APTQ_LEASE_TTL", worker.DefaultLeaseTTL), "release lease lifetime without heartbeat ($APTQ_LEASE_TTL)")
	fs.DurationVar(&c.signatureTimeout, "signature-timeout", envDuration("APTQ_SIGNATURE_TIMEOUT", worker.DefaultSignatureTimeout), "how long a round waits for a signature ($APTQ_SIGNATURE_TIMEOUT)")
	fs.DurationVar(&c.maintenanceInterval, "maintenance-interval", envDuration("APTQ_MAINTENANCE_INTERVAL", worker.DefaultMaintenanceInterval), "how often releases are reconciled and garbage collected ($APTQ_MAINTENANCE_INTERVAL)")
	fs.IntVar(&c.keepGenerations, "keep-generations", envInt("APTQ_KEEP_GENERATIONS", worker.DefaultKeepGenerations), "generations whose by-hash objects are kept ($APTQ_KEEP_GENERATIONS)")
	fs.DurationVar(&c.gcGrace, "gc-grace", envDuration("APTQ_GC_GRACE", worker.DefaultGCGrace), "minimum age of an object before it is collected ($APTQ_GC_GRACE)")
	fs.IntVar(&c.indexCacheMiB, "index-cache-mib", envInt("APTQ_INDEX_CACHE_MIB", worker.DefaultIndexCacheBytes>>20),
		"memory for the indexes of recent rounds, which the next round of the same release edits instead of rebuilding (as much again for Contents indexes); 0 disables ($APTQ_INDEX_CACHE_MIB)")
	fs.DurationVar(&c.indexMaxAge, "index-max-age", envDuration("APTQ_INDEX_MAX_AGE", worker.DefaultIndexMaxAge),
		"Cache-Control max-age of InRelease, Release, Release.gpg and flat indexes, which every round replaces; pool and by-hash objects are immutable ($APTQ_INDEX_MAX_AGE)")
	fs.DurationVar(&c.roundBudget, "round-budget", envDuration("APTQ_ROUND_BUDGET", worker.DefaultRoundBudget), "how long one job keeps cutting rounds before handing the lease on ($APTQ_ROUND_BUDGET)")
}

// validate reports the first bad setting a role needs, in words an operator can act on.
func (c *config) validate(needS3, needAPI, needWorker bool) error {
	if len(envErrors) > 0 {
		return envErrors[0]
	}
	if err := readSecretFile(&c.s3SecretKey, c.s3SecretKeyFile, "APTQ_S3_SECRET_KEY"); err != nil {
		return err
	}
	if err := readSecretFile(&c.adminToken, c.adminTokenFile, "APTQ_ADMIN_TOKEN"); err != nil {
		return err
	}
	if c.databaseURL == "" {
		return fmt.Errorf("no database: set APTQ_DATABASE_URL or --database-url")
	}
	if _, err := url.Parse(c.databaseURL); err != nil {
		return fmt.Errorf("APTQ_DATABASE_URL is not a URL: %v", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("log level %q is not one of debug, info, warn, error", c.logLevel)
	}
	if needS3 {
		if c.s3Bucket == "" {
			return fmt.Errorf("no S3 bucket: set APTQ_S3_BUCKET or --s3-bucket")
		}
		if c.s3Endpoint != "" {
			if u, err := url.Parse(c.s3Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("APTQ_S3_ENDPOINT %q is not an http(s) URL", c.s3Endpoint)
			}
		}
	}
	if c.metricsListen != "" {
		if _, _, err := net.SplitHostPort(c.metricsListen); err != nil {
			return fmt.Errorf("metrics listen address %q is not host:port", c.metricsListen)
		}
		if needAPI && c.metricsListen == c.listen {
			return fmt.Errorf("the metrics listen address must differ from the API's (%s)", c.listen)
		}
	}
	if needS3 && (c.dbPoolSize < 2 || c.shutdownTimeout < time.Second) {
		return fmt.Errorf("database pool size must be at least 2 (not %d) and shutdown timeout at least 1s (not %s)",
			c.dbPoolSize, c.shutdownTimeout)
	}
	if needS3 && (c.partitions < 1 || c.partitions > 256) {
		return fmt.Errorf("partitions must be between 1 and 256, not %d", c.partitions)
	}
	if needAPI {
		if _, _, err := net.SplitHostPort(c.listen); err != nil {
			return fmt.Errorf("listen address %q is not host:port", c.listen)
		}
		if c.externalURL != "" {
			u, err := url.Parse(c.externalURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
				strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
				return fmt.Errorf("external URL %q is not scheme://host[:port], e.g. https://aptq.example.com", c.externalURL)
			}
		}
		if c.adminToken != "" && len(c.adminToken) < 32 {
			return fmt.Errorf("APTQ_ADMIN_TOKEN must be at least 32 characters")
		}
		if c.maxUploadBytes <= 0 {
			return fmt.Errorf("max upload bytes must be positive")
		}
		if c.clientGrace < time.Second {
			return fmt.Errorf("client grace must be at least 1s, not %s", c.clientGrace)
		}
		if c.maxUploads < 1 || c.maxTenantUploads < 1 {
			return fmt.Errorf("max uploads and max tenant uploads must be at least 1")
		}
		if c.uploadMinRate < 1 || c.uploadRateWindow < time.Second {
			return fmt.Errorf("upload min rate must be at least 1 byte/s and its window at least 1s")
		}
		if c.maxPlanPackages < 1 || c.maxPlanPackages > api.MaxPlanPackagesLimit {
			return fmt.Errorf("max plan packages must be from 1 to %d, not %d", api.MaxPlanPackagesLimit, c.maxPlanPackages)
		}
	}
	if needWorker {
		if c.workersPerQueue < 1 {
			return fmt.Errorf("workers per queue must be at least 1")
		}
		if c.leaseTTL < 3*time.Second || c.signatureTimeout < time.Second || c.roundBudget <= 0 {
			return fmt.Errorf("lease TTL must be at least 3s, signature timeout at least 1s, round budget positive")
		}
		if c.maintenanceInterval < time.Second || c.keepGenerations < 1 || c.gcGrace <= 0 {
			return fmt.Errorf("maintenance interval must be at least 1s, keep generations at least 1, GC grace positive")
		}
		if c.indexCacheMiB < 0 {
			return fmt.Errorf("index cache must be 0 (off) or a positive number of MiB")
		}
		if c.indexMaxAge < time.Second {
			return fmt.Errorf("index max age must be at least 1s")
		}
		if err := c.webhooks.validate(); err != nil {
			return err
		}
	}
	return nil
}

// apiExternalURL is the external URL as scheme://host[:port]; without
// one configured, the listen address (a wildcard host as localhost), which
// suits one machine only: configured says which.
func (c *config) apiExternalURL() (u string, configured bool) {
	if c.externalURL != "" {
		// As a browser writes it in Origin, which the page compares with it.
		u, _ := url.Parse(c.externalURL)
		host := strings.ToLower(u.Host)
		if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
			host = strings.ToLower(u.Hostname())
		}
		return u.Scheme + "://" + host, true
	}
	host, port, _ := net.SplitHostPort(c.listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port), false
}

// readSecretFile sets *value from file, if one is named: a secret in a file
// (or the environment) stays out of the process list, where flags show.
// One trailing newline, as editors and echo leave, is not part of it.
func readSecretFile(value *string, file, name string) error {
	if file == "" {
		return nil
	}
	if *value != "" {
		return fmt.Errorf("both %s (or its flag) and %s_FILE are set: use one", name, name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%s_FILE: %w", name, err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" || strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%s_FILE %s must hold the secret on one line", name, file)
	}
	*value = v
	return nil
}

func (c *config) logger() *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.logLevel))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
