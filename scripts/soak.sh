#!/usr/bin/env bash
# `make soak`: the load, fault and shutdown tests at full size (SOAK_LOGINS logins, default
# 10000; SOAK_FAULT_ROUNDS stops and restarts of CouchDB, default 5) against a throwaway
# in-memory pouchdb-server. The fault tests start and stop servers of their own besides.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/lib/throwaway-couchdb.sh soak
export SOAK_LOGINS="${SOAK_LOGINS:-10000}"
export SOAK_FAULT_ROUNDS="${SOAK_FAULT_ROUNDS:-5}"
echo "soak.sh: COUCHDB_URL=$COUCHDB_URL SOAK_LOGINS=$SOAK_LOGINS" \
  "SOAK_FAULT_ROUNDS=$SOAK_FAULT_ROUNDS" >&2

cargo build
"${CARGO_TARGET_DIR:-target}/debug/kazoo-security" setup
cargo test --test concurrency --test faults --test shutdown -- --nocapture
