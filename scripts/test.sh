#!/usr/bin/env bash
# `make test`: the whole suite against a throwaway in-memory pouchdb-server, then fmt and clippy.
# The server and its temporary directory go away on any exit, success or not.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/lib/throwaway-couchdb.sh test
echo "test.sh: COUCHDB_URL=$COUCHDB_URL" >&2

# Lint first, so that the run ends with the test summary.
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo build
# The dashboard's headless-browser test (tests/dashboard.rs) needs chromium and playwright-core.
scripts/browser-deps.sh
"${CARGO_TARGET_DIR:-target}/debug/kazoo-security" setup
# --- secrets scan (tests/secrets.rs): test processes write their log lines and the secrets
# their helpers made into this directory; after the suite, one scan reads them and every
# stored document, and fails on any secret out of place.
export KAZOO_TEST_LOG_DIR="$tmp/test-logs"
mkdir -p "$KAZOO_TEST_LOG_DIR"
# --- end of the secrets scan's setup

# --- client tests (tests/clients.rs): the pinned Python client environment, made once here
# (kept in .data/clients-venv; no network when it is already there) rather than per test.
KAZOO_CLIENTS_PYTHON=$(scripts/clients-venv.sh)
export KAZOO_CLIENTS_PYTHON
# --- end of the client tests' setup

screenshot="${CARGO_TARGET_DIR:-target}/test-output/dashboard.png"
rm -f "$screenshot"
cargo test --all-targets -- --test-threads=8
[[ ! -f $screenshot ]] || echo "test.sh: the dashboard's screenshot is $screenshot" >&2

# --- secrets scan, run last
cargo test --test secrets -- --ignored --nocapture nothing_the_suite
# --- end of the secrets scan

# The load, fault and shutdown tests again at full size (`make soak`), so that CI, which runs
# only `make test`, runs them too. SKIP_SOAK=1 leaves them out of a quick local run.
if [[ ${SKIP_SOAK:-0} != 1 ]]; then
  KAZOO_TEST_LOG_DIR= scripts/soak.sh
fi
