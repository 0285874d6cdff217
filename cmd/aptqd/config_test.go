package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

func TestExternalURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://aptq.example.com":      "https://aptq.example.com",
		"https://APTQ.example.com:443/": "https://aptq.example.com",
		"http://aptq.example.com:8080":  "http://aptq.example.com:8080",
	} {
		c := parse(t, "--external-url", in)
		require.NoError(t, c.validate(false, true, false), in)
		got, configured := c.apiExternalURL()
		require.True(t, configured)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"aptq.example.com", "ftp://aptq.example.com", "https://", "https://aptq.example.com/aptq",
		"https://user@aptq.example.com", "https://aptq.example.com/?x=1", "https://aptq.example.com/#x"} {
		c := parse(t, "--external-url", bad)
		require.ErrorContains(t, c.validate(false, true, false), "external URL", bad)
	}
	for listen, want := range map[string]string{"127.0.0.1:8080": "http://127.0.0.1:8080", "0.0.0.0:8080": "http://localhost:8080",
		":9000": "http://localhost:9000", "[::]:8080": "http://localhost:8080"} {
		got, configured := (&config{listen: listen}).apiExternalURL()
		require.False(t, configured)
		require.Equal(t, want, got, listen)
	}
}

// parse binds an api role's flags and parses args; the secrets are
// cleared first, since the test's environment may set them.
func parse(t *testing.T, args ...string) *config {
	t.Helper()
	var c config
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	c.bindDatabase(fs)
	c.bindS3(fs)
	c.bindQueues(fs)
	c.bindAPI(fs)
	c.bindMetrics(fs)
	c.bindServe(fs, "api")
	base := []string{"--database-url", "postgres://x/y", "--s3-bucket", "b", "--s3-secret-key", "", "--admin-token", "",
		"--s3-secret-key-file", "", "--admin-token-file", "", "--partitions", "4", "--listen", "127.0.0.1:1"}
	require.NoError(t, fs.Parse(append(base, args...)))
	return &c
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// TestSecretFiles: the S3 secret and the admin token can come from files,
// so that they never appear on a command line (ps shows it to every user).
func TestSecretFiles(t *testing.T) {
	t.Parallel()
	token := "aptq_0123456789abcdef0123456789abcdef"
	c := parse(t, "--s3-secret-key-file", writeFile(t, "s3cret\n"), "--admin-token-file", writeFile(t, token+"\r\n"))
	require.NoError(t, c.validate(true, true, false))
	require.Equal(t, "s3cret", c.s3SecretKey)
	require.Equal(t, token, c.adminToken)

	c = parse(t, "--s3-secret-key", "x", "--s3-secret-key-file", writeFile(t, "y"))
	require.ErrorContains(t, c.validate(true, true, false), "both APTQ_S3_SECRET_KEY (or its flag) and APTQ_S3_SECRET_KEY_FILE are set")

	c = parse(t, "--admin-token-file", filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, c.validate(true, true, false), "APTQ_ADMIN_TOKEN_FILE")

	c = parse(t, "--admin-token-file", writeFile(t, "\n"))
	require.ErrorContains(t, c.validate(true, true, false), "must hold the secret on one line")

	c = parse(t, "--admin-token-file", writeFile(t, "short\n"))
	require.ErrorContains(t, c.validate(true, true, false), "at least 32 characters", "a token from a file is checked like one from the environment")
}

func TestMetricsListen(t *testing.T) {
	t.Parallel()
	ok := parse(t, "--listen", "127.0.0.1:8080", "--metrics-listen", "10.0.0.5:9090")
	require.NoError(t, ok.validate(false, true, false))
	same := parse(t, "--listen", "127.0.0.1:8080", "--metrics-listen", "127.0.0.1:8080")
	require.ErrorContains(t, same.validate(false, true, false), "must differ")
	bad := parse(t, "--listen", "127.0.0.1:8080", "--metrics-listen", "9090")
	require.ErrorContains(t, bad.validate(false, true, false), "not host:port")
}

func TestServeSettings(t *testing.T) {
	t.Parallel()
	c := parse(t)
	require.Equal(t, defaultPoolSize["api"], c.dbPoolSize)
	require.Equal(t, 30*time.Second, c.shutdownTimeout)
	require.NoError(t, c.validate(true, true, false))

	c = parse(t, "--db-pool-size", "40", "--shutdown-timeout", "2m")
	require.Equal(t, 40, c.dbPoolSize)
	require.Equal(t, 2*time.Minute, c.shutdownTimeout)
	require.NoError(t, c.validate(true, true, false))

	require.ErrorContains(t, parse(t, "--db-pool-size", "1").validate(true, true, false), "pool size must be at least 2")
	require.ErrorContains(t, parse(t, "--shutdown-timeout", "10ms").validate(true, true, false), "shutdown timeout at least 1s")

	// The defaults fit 2 API and 3 worker processes in Postgres's default
	// max_connections (100, 3 of them for superusers), with room to spare.
	budget := 2*(defaultPoolSize["api"]+dedicatedConns("api")) + 3*(defaultPoolSize["worker"]+dedicatedConns("worker"))
	require.LessOrEqual(t, budget, 97-10)

	// Soft stop leaves cancelled leaders time to hand over, never all of it.
	for _, d := range []time.Duration{time.Second, 4 * time.Second, 30 * time.Second, 5 * time.Minute} {
		soft := softStopTimeout(d)
		require.Positive(t, soft, d)
		require.Less(t, soft, d)
		require.GreaterOrEqual(t, soft, d*3/4, d)
	}
}

// TestMaxPlanPackages: the bound of server-planned changes defaults to
// 200 000 and must be from 1 to 1 000 000.
func TestMaxPlanPackages(t *testing.T) {
	t.Parallel()
	c := parse(t)
	require.NoError(t, c.validate(false, true, false))
	require.Equal(t, 200_000, c.maxPlanPackages)
	require.NoError(t, parse(t, "--max-plan-packages", "1").validate(false, true, false))
	for _, bad := range []string{"0", "-1", "1000001"} {
		require.ErrorContains(t, parse(t, "--max-plan-packages", bad).validate(false, true, false), "max plan packages", bad)
	}
}
