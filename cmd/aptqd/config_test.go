package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExternalURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://aptq.example.com":      "https://aptq.example.com",
		"https://APTQ.example.com:443/": "https://aptq.example.com",
		"http://aptq.example.com:8080":  "http://aptq.example.com:8080",
	} {
		c := config{databaseURL: "postgres://x", logLevel: "info", listen: "127.0.0.1:8080", maxUploadBytes: 1, clientGrace: time.Second, externalURL: in}
		require.NoError(t, c.validate(false, true, false), in)
		got, configured := c.apiExternalURL()
		require.True(t, configured)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"aptq.example.com", "ftp://aptq.example.com", "https://", "https://aptq.example.com/aptq",
		"https://user@aptq.example.com", "https://aptq.example.com/?x=1", "https://aptq.example.com/#x"} {
		c := config{databaseURL: "postgres://x", logLevel: "info", listen: "127.0.0.1:8080", maxUploadBytes: 1, clientGrace: time.Second, externalURL: bad}
		require.ErrorContains(t, c.validate(false, true, false), "external URL", bad)
	}
	for listen, want := range map[string]string{"127.0.0.1:8080": "http://127.0.0.1:8080", "0.0.0.0:8080": "http://localhost:8080",
		":9000": "http://localhost:9000", "[::]:8080": "http://localhost:8080"} {
		got, configured := (&config{listen: listen}).apiExternalURL()
		require.False(t, configured)
		require.Equal(t, want, got, listen)
	}
}

func TestMetricsListen(t *testing.T) {
	t.Parallel()
	ok := config{databaseURL: "postgres://x", logLevel: "info", listen: "127.0.0.1:8080", maxUploadBytes: 1,
		clientGrace: time.Second, metricsListen: "10.0.0.5:9090"}
	require.NoError(t, ok.validate(false, true, false))
	same := ok
	same.metricsListen = ok.listen
	require.ErrorContains(t, same.validate(false, true, false), "must differ")
	bad := ok
	bad.metricsListen = "9090"
	require.ErrorContains(t, bad.validate(false, true, false), "not host:port")
}
