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

# Each parser of hostile input is fuzzed briefly on every test run, beyond
# its committed corpus (go test alone only replays the corpus); 7 s each
# for the fifteen targets, so that the whole suite stays well under 15
# minutes on two cores (a much shorter run can end before a large cached
# corpus is replayed). Longer: make fuzz-short FUZZTIME=10m. FuzzChartText
# (internal/svgchart) is a renderer, not a parser: go test replays its
# corpus; it is left out here because a slow execution at the deadline made
# the Go fuzzer fail with "context deadline exceeded".
FUZZTIME ?= 7s
.PHONY: fuzz-short
fuzz-short:
	go test ./apt -run '^$$' -fuzz '^FuzzReadDeb$$' -fuzztime $(FUZZTIME)
	go test ./apt -run '^$$' -fuzz '^FuzzReadDebFiles$$' -fuzztime $(FUZZTIME)
	go test ./apt -run '^$$' -fuzz '^FuzzParseIndex$$' -fuzztime $(FUZZTIME)
	go test ./apt -run '^$$' -fuzz '^FuzzXZBlocks$$' -fuzztime $(FUZZTIME)
	go test ./apt -run '^$$' -fuzz '^FuzzParseRelease$$' -fuzztime $(FUZZTIME)
	go test ./apt -run '^$$' -fuzz '^FuzzParseDSC$$' -fuzztime $(FUZZTIME)
	go test ./apt -run '^$$' -fuzz '^FuzzParseChanges$$' -fuzztime $(FUZZTIME)
	go test ./api -run '^$$' -fuzz '^FuzzBind$$' -fuzztime $(FUZZTIME)
	go test ./api -run '^$$' -fuzz '^FuzzReleaseUpdate$$' -fuzztime $(FUZZTIME)
	go test ./api -run '^$$' -fuzz '^FuzzWebhookURL$$' -fuzztime $(FUZZTIME)
	go test ./sign -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)
	go test ./verify -run '^$$' -fuzz '^FuzzSameGzip$$' -fuzztime $(FUZZTIME)
	go test ./verify -run '^$$' -fuzz '^FuzzTraceGzip$$' -fuzztime $(FUZZTIME)
	go test ./store -run '^$$' -fuzz '^FuzzParseSpec$$' -fuzztime $(FUZZTIME)
	go test ./mirror -run '^$$' -fuzz '^FuzzParsePackages$$' -fuzztime $(FUZZTIME)

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
