# aptq developer entry points. `make demo` runs the whole system locally;
# `make test` runs the test suite against real Postgres and S3 servers.
SHELL := /bin/bash
ENV := . .aptq/env &&

.PHONY: services stop test lint demo build bench

services:
	@scripts/services.sh start

stop:
	@scripts/services.sh stop

build:
	go build -o .aptq/bin/ ./cmd/...

lint:
	@scripts/check-files.sh
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

test: services lint
	$(ENV) go test -race -timeout 20m ./...
	@$(MAKE) --no-print-directory fuzz-short

# Each parser of hostile input, and the chart renderer, is fuzzed briefly
# on every test run, beyond its committed corpus (go test alone only
# replays the corpus). The budgets are counts of executions, about 5 s of
# each target on two cores, not durations: with a duration, Go 1.26's
# fuzzer can fail a clean run with "context deadline exceeded" when the
# deadline passes while a worker is busy (go.dev/issue/75804, fixed in Go
# 1.27). Longer: make fuzz-short FUZZTIME=10m (or FUZZTIME=1000000x).
.PHONY: fuzz-short
fuzz-short:
	go test ./apt -run '^$$' -fuzz '^FuzzReadDeb$$' -fuzztime $(or $(FUZZTIME),40000x)
	go test ./apt -run '^$$' -fuzz '^FuzzReadDebFiles$$' -fuzztime $(or $(FUZZTIME),6000x)
	go test ./apt -run '^$$' -fuzz '^FuzzParseIndex$$' -fuzztime $(or $(FUZZTIME),60000x)
	go test ./apt -run '^$$' -fuzz '^FuzzXZBlocks$$' -fuzztime $(or $(FUZZTIME),60000x)
	go test ./apt -run '^$$' -fuzz '^FuzzParseRelease$$' -fuzztime $(or $(FUZZTIME),40000x)
	go test ./apt -run '^$$' -fuzz '^FuzzParseDSC$$' -fuzztime $(or $(FUZZTIME),40000x)
	go test ./apt -run '^$$' -fuzz '^FuzzParseChanges$$' -fuzztime $(or $(FUZZTIME),40000x)
	go test ./api -run '^$$' -fuzz '^FuzzBind$$' -fuzztime $(or $(FUZZTIME),8000x)
	go test ./api -run '^$$' -fuzz '^FuzzReleaseUpdate$$' -fuzztime $(or $(FUZZTIME),15000x)
	go test ./api -run '^$$' -fuzz '^FuzzWebhookURL$$' -fuzztime $(or $(FUZZTIME),15000x)
	go test ./sign -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(or $(FUZZTIME),10000x)
	go test ./verify -run '^$$' -fuzz '^FuzzSameGzip$$' -fuzztime $(or $(FUZZTIME),6000x)
	go test ./verify -run '^$$' -fuzz '^FuzzTraceGzip$$' -fuzztime $(or $(FUZZTIME),8000x)
	go test ./verify -run '^$$' -fuzz '^FuzzContentsLike$$' -fuzztime $(or $(FUZZTIME),10000x)
	go test ./store -run '^$$' -fuzz '^FuzzParseSpec$$' -fuzztime $(or $(FUZZTIME),50000x)
	go test ./mirror -run '^$$' -fuzz '^FuzzParsePackages$$' -fuzztime $(or $(FUZZTIME),30000x)
	go test ./internal/svgchart -run '^$$' -fuzz '^FuzzChartText$$' -fuzztime $(or $(FUZZTIME),10000x)

demo: services build
	$(ENV) scripts/demo.sh

# The long chaos run (≥ 500 publishes under worker, API and Postgres kills and S3 faults; ~7 min).
.PHONY: chaos
chaos: services
	$(ENV) APTQ_CHAOS_LONG=1 go test -run TestChaos -count=1 -v -timeout 60m ./chaos/

# The scale run: 3 API + 4 workers, 100 releases, 2 000 publishes with S3 faults; prints rounds
# per second and CPU per round of each process kind, to size a deployment (docs/design.md).
.PHONY: scale
scale: services
	$(ENV) APTQ_CHAOS_SCALE=1 go test -run 'TestScale$$' -count=1 -v -timeout 60m ./chaos/

# The benchmark harness, short variant (≤ 5 min): aptqd and the CLI as a user runs them,
# beside aptly when it is installed; prints the table. The long run: `go run ./cmd/aptq-bench`.
bench: services
	$(ENV) go run ./cmd/aptq-bench --short
