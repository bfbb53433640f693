#!/usr/bin/env bash
# `make fuzz-api`: schemathesis against the service's own OpenAPI description. Starts a
# throwaway in-memory pouchdb-server and the service with the demo accounts, logs in as the
# demo super-duper admin, and lets schemathesis generate requests for every operation.
#
#   FUZZ_MAX_EXAMPLES   test cases per operation (default 20)
#   FUZZ_SEED           a seed, to repeat a run
# The Python environment is kept in .data/fuzz-venv for the next run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

schemathesis_version=4.32.5
venv="$PWD/.data/fuzz-venv"
service_pid=""
stop_own() {
  if [[ -n "$service_pid" ]]; then
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
}
source scripts/lib/throwaway-couchdb.sh fuzz

if [[ "$("$venv/bin/st" --version 2>/dev/null || true)" != *"$schemathesis_version"* ]]; then
  echo "fuzz-api.sh: installing schemathesis $schemathesis_version into $venv" >&2
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$schemathesis_version"
fi

cargo build
bin="${CARGO_TARGET_DIR:-target}/debug/kazoo-security"
"$bin" seed fixtures/demo >/dev/null
"$bin" setup >/dev/null

# The rate limit is off so that generated logins reach the credential checks.
port=$("$couchdb" free-port)
base="http://127.0.0.1:$port"
LISTEN_ADDR="127.0.0.1:$port" RATE_LIMIT_BUCKET=0 "$bin" serve 2>"$tmp/service.log" &
service_pid=$!
for _ in $(seq 100); do
  curl -sf "$base/healthz" >/dev/null && break
  sleep 0.2
done

# noc.lighthouse, super-duper admin of the demo master account (fixtures/demo/README.md).
credentials=$(printf '%s' "noc.lighthouse:Gr4nite-Sparrow-19" | md5sum | cut -d' ' -f1)
login="{\"data\": {\"credentials\": \"$credentials\", \"account_name\": \"Lighthouse Telecom\"}}"
token=$(curl -sf -X PUT "$base/v2/user_auth" -d "$login" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["auth_token"])')

checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_headers_conformance,response_schema_conformance
seed=()
[[ -z "${FUZZ_SEED:-}" ]] || seed=(--seed "$FUZZ_SEED")
status=0
# From the temporary directory, where schemathesis leaves its cache. One worker: with several,
# hypothesis hit "SystemError: AST constructor recursion depth mismatch" on Python 3.11.
(cd "$tmp" && "$venv/bin/st" run "$base/v2/openapi.json" \
  --header "X-Auth-Token: $token" \
  --checks "$checks" \
  --max-examples "${FUZZ_MAX_EXAMPLES:-20}" \
  --workers 1 \
  --suppress-health-check all \
  "${seed[@]}") || status=$?
if [[ $status -ne 0 ]]; then
  echo "fuzz-api.sh: failures above; the service's last warnings and errors:" >&2
  grep -E '"level":"(ERROR|WARN)"|ERROR|WARN' "$tmp/service.log" | tail -n 20 >&2 || true
fi
exit "$status"
