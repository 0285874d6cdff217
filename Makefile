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
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

test: services lint
	$(ENV) go test -race -timeout 20m ./...

demo: services build
	$(ENV) scripts/demo.sh
