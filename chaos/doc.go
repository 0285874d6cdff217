// Package chaos holds aptq's chaos test: the real aptqd and aptq binaries,
// several workers, an API, a PostgreSQL of the test's own and the S3 server
// of `make services` behind a fault-injecting proxy (package faults3), while
// a driver kills and restarts workers, the API and Postgres, pauses a worker
// past its lease and makes S3 fail. Many CLIs publish meanwhile; an observer
// reads every release's InRelease throughout. At the end the test checks the
// guarantees of DESIGN.md that crashes put at risk: no acknowledged change is
// lost (G4), readers never saw a broken repository or an older generation
// (G2, G5), S3 converged to the committed generation (G6), and apt-get
// accepts every release.
//
// The short run is part of `go test ./...`. The long one (≥ 500 publishes,
// ≥ 10 worker kills; about 7 minutes) runs with
//
//	make chaos
//
// or, with the services running,
//
//	. .aptq/env && APTQ_CHAOS_LONG=1 go test -run TestChaos -count=1 -v -timeout 60m ./chaos/
//
// APTQ_CHAOS_SEED=N replays a run's schedule of faults (the seed is printed).
//
// Beside it, the tests of deployments: TestRollingRestart (SIGTERM to every
// process in turn under load; APTQ_ROLLING_QUIET=1 runs the same load
// without restarts, for its latency), TestTakeoverBound (a dead leader's
// release publishes again within lease TTL + 3 s), TestPoolBudget (a
// Postgres of 20 connections) and TestScale (a small variant; `make scale`,
// or APTQ_CHAOS_SCALE=1, runs 3 API + 4 workers, 100 releases, 2 000
// publishes and prints rounds per second and CPU per round).
// The test files are all there is: this package has no API.
package chaos
