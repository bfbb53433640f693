# kazoo-security: build, run and test. Needs cargo, Node.js with npm (for pouchdb-server), curl
# and python3.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PORT ?= 8000
COUCHDB_PORT ?= 5984
export PORT COUCHDB_PORT

.PHONY: run test soak bench stop lint clean

## run: the service on 127.0.0.1:$(PORT) with the demo accounts (pouchdb-server on $(COUCHDB_PORT) unless COUCHDB_URL is set)
run:
	scripts/run.sh

## test: the whole suite against a throwaway in-memory pouchdb-server, then fmt and clippy
test:
	scripts/test.sh

## soak: the load, fault and shutdown tests at full size (SOAK_LOGINS=10000,
## SOAK_FAULT_ROUNDS=5) against a throwaway in-memory pouchdb-server
soak:
	scripts/soak.sh

## bench: side-by-side measurements against an in-memory pouchdb-server with wrk (installed if
## missing); prints the table and writes bench/results.md and bench/results.svg
bench:
	scripts/bench.sh

## stop: stop the pouchdb-server that `make run` started
stop:
	couchdb/couchdb.sh stop --pidfile .data/couchdb.pid

## lint: rustfmt check and clippy
lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

## clean: cargo clean and remove .data (the pouchdb-server of `make run` must be stopped first)
clean: stop
	cargo clean
	rm -rf .data

## fuzz-api: schemathesis (pinned, in .data/fuzz-venv) against openapi/openapi.json, served by the
## service on a throwaway in-memory pouchdb-server with the demo accounts; FUZZ_MAX_EXAMPLES
## (default 20) test cases per operation, FUZZ_SEED to repeat a run
.PHONY: fuzz-api
fuzz-api:
	scripts/fuzz-api.sh

# --- fuzzing ---
.PHONY: fuzz

## fuzz: every cargo-fuzz target under fuzz/ for FUZZ_SECONDS each (default 60); installs
## cargo-fuzz if missing and runs it on the stable toolchain (RUSTC_BOOTSTRAP=1)
fuzz:
	scripts/fuzz.sh
