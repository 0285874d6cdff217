// Package blobtest connects tests to the real S3 server (versitygw) that
// `make services` starts, and gives each test a key prefix of its own.
package blobtest

import (
	"context"
	"crypto/rand"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aptq/aptq/blob"
)

// env names the variables .aptq/env exports, by Config field.
var env = []struct {
	name string
	set  func(*blob.Config, string)
}{
	{"APTQ_S3_ENDPOINT", func(c *blob.Config, v string) { c.Endpoint = v }},
	{"APTQ_S3_REGION", func(c *blob.Config, v string) { c.Region = v }},
	{"APTQ_S3_BUCKET", func(c *blob.Config, v string) { c.Bucket = v }},
	{"APTQ_S3_ACCESS_KEY", func(c *blob.Config, v string) { c.AccessKey = v }},
	{"APTQ_S3_SECRET_KEY", func(c *blob.Config, v string) { c.SecretKey = v }},
}

// Config returns the S3 configuration from the APTQ_S3_* variables. It fails
// the test when one is missing: tests that need S3 must not pass silently
// without it, and CI always has it.
func Config(t testing.TB) blob.Config {
	t.Helper()
	var cfg blob.Config
	var missing []string
	for _, e := range env {
		v := os.Getenv(e.name)
		if v == "" {
			missing = append(missing, e.name)
		}
		e.set(&cfg, v)
	}
	if len(missing) > 0 {
		t.Fatalf("blobtest: %s not set: run `make services` and source .aptq/env", strings.Join(missing, ", "))
	}
	return cfg
}

// New returns a store on the test S3 server and a key prefix ("t/<test>/<random>/")
// that no other test uses, so tests can run in parallel, in any package. Every
// object under the prefix is deleted when the test ends.
func New(t testing.TB) (*blob.S3, string) {
	t.Helper()
	s, err := blob.NewS3(t.Context(), Config(t))
	if err != nil {
		t.Fatalf("blobtest: %v", err)
	}
	prefix := newPrefix(t)
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := s.List(ctx, prefix, func(info blob.Info) error { return s.Delete(ctx, info.Key) })
		if err != nil {
			t.Logf("blobtest: clean up %s: %v", prefix, err)
		}
	})
	return s, prefix
}

var unsafeKeyChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// newPrefix returns a fresh key prefix named after the test, ending in "/".
func newPrefix(t testing.TB) string {
	name := unsafeKeyChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 64 {
		name = name[:64]
	}
	return "t/" + name + "/" + rand.Text() + "/"
}
