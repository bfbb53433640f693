# Sourced by scripts/test.sh, soak.sh and fuzz-api.sh: a temporary directory ($tmp) and an
# in-memory pouchdb-server on a free port ($COUCHDB_URL, exported), both gone on any exit,
# success or not. A script with more to stop first defines `stop_own` before sourcing this.
#
#   source scripts/lib/throwaway-couchdb.sh NAME     (NAME goes into the directory's name)

couchdb=couchdb/couchdb.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kazoo-security-$1.XXXXXX")
pidfile="$tmp/couchdb.pid"

cleanup() {
  if declare -F stop_own >/dev/null; then stop_own || true; fi
  "$couchdb" stop --pidfile "$pidfile" || true
  rm -rf "$tmp"
}
trap cleanup EXIT
# Turn signals into an ordinary exit so that the EXIT trap runs.
trap 'exit 130' INT
trap 'exit 143' TERM

COUCHDB_URL=$("$couchdb" throwaway --pidfile "$pidfile" --log "$tmp/couchdb.log")
export COUCHDB_URL
