#!/usr/bin/env bash
# `make bench`: measures the service against CouchDB side by side and prints one table (also
# written to bench/results.md, with a plot in bench/results.svg).
#
# Installs wrk if missing, starts a throwaway in-memory pouchdb-server, builds the release
# binary, runs `setup`, starts two instances of the service (CONFIG_CACHE_TTL=5, and 0 for the
# cold measurements), then hands over to bench/bench.py, which loads the data and drives wrk.
# Everything it started goes away on any exit. Knobs: see the top of bench/bench.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$SECONDS
couchdb=couchdb/couchdb.sh

say() { echo "bench.sh: $*" >&2; }

# 1. The load tool.
if ! command -v wrk >/dev/null; then
  sudo=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || { say "wrk is missing and this is not root: apt-get install wrk"; exit 1; }
    sudo=(sudo)
  fi
  say "installing wrk"
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2; then
    "${sudo[@]}" apt-get update -q >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2
  fi
fi

# P5 holds 1,000 connections: the service and wrk each need a file descriptor per connection.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < 2200)); then
  say "warning: ulimit -n is $(ulimit -n); P5's 1,000 connections may fail"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kazoo-security-bench.XXXXXX")
pidfile="$tmp/couchdb.pid"
service_pids=()
build_pid=

cleanup() {
  local pid
  if [[ -n "$build_pid" ]]; then
    kill -TERM "$build_pid" 2>/dev/null || true
    wait "$build_pid" 2>/dev/null || true
  fi
  for pid in "${service_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${service_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  "$couchdb" stop --pidfile "$pidfile" >/dev/null 2>&1 || true
  if [[ -n "${BENCH_KEEP_LOGS:-}" ]]; then
    say "logs kept in $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 2. CouchDB, in memory on a free port.
COUCHDB_URL=$("$couchdb" throwaway --pidfile "$pidfile" --log "$tmp/couchdb.log")
export COUCHDB_URL
couch_port=${COUCHDB_URL##*:}

# 3. The release build and the data load run side by side: the build is the longest step on a
# fresh clone, and building CouchDB's index of 100,000 attempts is the next.
build_started=$(date +%s)
say "cargo build --release in the background (log: $tmp/build.log)"
cargo build --release >"$tmp/build.log" 2>&1 &
build_pid=$!
python3 bench/bench.py load --couch "$COUCHDB_URL" --state "$tmp/state.json"
if ! wait "$build_pid"; then
  build_pid=
  tail -n 40 "$tmp/build.log" >&2
  say "cargo build --release failed"
  exit 1
fi
build_pid=
# The build ended when it last wrote its log.
build_seconds=$(($(stat -c %Y "$tmp/build.log") - build_started))
say "release build finished after ${build_seconds} s"
bin="${CARGO_TARGET_DIR:-target}/release/kazoo-security"
"$bin" setup >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; exit 1; }

# start_service NAME TTL: starts `serve` on a free port; sets service_url and service_pid.
start_service() {
  local name=$1 ttl=$2 attempt port pid deadline
  for attempt in 1 2 3; do
    port=$("$couchdb" free-port)
    LISTEN_ADDR="127.0.0.1:$port" CONFIG_CACHE_TTL="$ttl" RATE_LIMIT_BUCKET=0 \
      "$bin" serve >"$tmp/$name.log" 2>&1 &
    pid=$!
    service_pids+=("$pid")
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do
      if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        "http://127.0.0.1:$port/v2/security" || true)" != 000 ]]; then
        service_url="http://127.0.0.1:$port"
        service_pid=$pid
        say "$name (CONFIG_CACHE_TTL=$ttl, pid $pid) on $service_url"
        return 0
      fi
      sleep 0.2
    done
    kill -TERM "$pid" 2>/dev/null || true
    say "$name did not answer on port $port (attempt $attempt):"
    tail -n 20 "$tmp/$name.log" >&2 || true
  done
  say "could not start $name"
  exit 1
}

start_service service 5
warm_url=$service_url warm_pid=$service_pid
start_service service-cold 0
cold_url=$service_url cold_pid=$service_pid

# 4. The measurements, the table, bench/results.md and bench/results.svg.
python3 bench/bench.py measure --couch "$COUCHDB_URL" --couch-pid "$(cat "$pidfile")" \
  --couch-port "$couch_port" --state "$tmp/state.json" \
  --service "$warm_url" --service-pid "$warm_pid" --service-log "$tmp/service.log" \
  --cold "$cold_url" --cold-pid "$cold_pid" --cold-log "$tmp/service-cold.log" \
  --build-seconds "$build_seconds" --total-seconds "$((SECONDS - started))" --out bench

say "done in $((SECONDS - started)) s (cargo build --release: ${build_seconds} s)"
