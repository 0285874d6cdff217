// Package storetest gives each test its own freshly migrated Postgres
// database, cloned from a template that is migrated once per schema version,
// so that tests can run in parallel against a real server.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aptq/aptq/internal/systest"
	"github.com/aptq/aptq/migrations"
	"github.com/aptq/aptq/store"
)

// URL returns the server's database URL from APTQ_DATABASE_URL (tests are
// the one place besides cmd/ that reads the environment).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("APTQ_DATABASE_URL")
	if u == "" {
		t.Fatal("APTQ_DATABASE_URL is not set: run `make services` and `. .aptq/env` (or `make test`)")
	}
	return u
}

// NewDB creates a migrated database for this test, dropped when it ends,
// and returns its URL.
func NewDB(t testing.TB) string {
	t.Helper()
	return newDB(t, true)
}

// NewEmptyDB creates an empty database (no migrations) for this test, for
// tests of the migrations themselves.
func NewEmptyDB(t testing.TB) string {
	t.Helper()
	return newDB(t, false)
}

func newDB(t testing.TB, migrated bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := URL(t)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	defer admin.Close(ctx)

	tmpl := "template1"
	if migrated {
		if tmpl, err = ensureTemplate(ctx, admin, base); err != nil {
			t.Fatal(err)
		}
	}
	name := "test_" + systest.RandomHex(8)
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tmpl)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse APTQ_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// NewStore returns a Store on a fresh database, with its pool closed at the end.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return store.New(pool)
}

// ensureTemplate creates the template database for the current migrations
// once; concurrent test binaries serialise on an advisory lock.
func ensureTemplate(ctx context.Context, admin *pgx.Conn, base string) (string, error) {
	name := "aptq_template_" + migrationsHash()
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(7283640021)`); err != nil {
		return "", fmt.Errorf("lock template: %w", err)
	}
	defer func() { _, _ = admin.Exec(context.Background(), `SELECT pg_advisory_unlock(7283640021)`) }()

	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up template: %w", err)
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building)); err != nil {
		return "", fmt.Errorf("drop stale template: %w", err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(base)
	if err != nil {
		return "", err
	}
	cfg.ConnConfig.Database = building
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("open template: %w", err)
	}
	_, err = migrations.Up(ctx, pool, slog.New(slog.DiscardHandler))
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	// Renamed only when complete, so a crash mid-migration leaves no half template.
	if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", fmt.Errorf("rename template: %w", err)
	}
	return name, nil
}

// migrationsHash names the template after the schema, so a changed migration
// gets a new template instead of a stale one.
func migrationsHash() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.Files, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}
