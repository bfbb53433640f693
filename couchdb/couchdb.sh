#!/usr/bin/env bash
# Runs pouchdb-server, the CouchDB-compatible server that kazoo-security is developed and tested
# against.
#
#   couchdb.sh install
#   couchdb.sh start --port N (--in-memory | --data DIR) --pidfile FILE [--log FILE]
#   couchdb.sh stop --pidfile FILE
#   couchdb.sh free-port
#   couchdb.sh throwaway --pidfile FILE [--log FILE]   (in memory, a free port; prints its URL)
#
# pouchdb-server writes config.json and log.txt into its working directory, so it runs inside
# the data directory (persistent) or inside "<pidfile>.d" (in-memory), never in the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
server_bin="$here/node_modules/.bin/pouchdb-server"
start_timeout_s=${COUCHDB_START_TIMEOUT_S:-60}

die() {
  echo "couchdb.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '5,9p' "${BASH_SOURCE[0]}" | sed 's/^#  */usage: /' >&2
  exit 2
}

cmd_install() {
  [[ -x "$server_bin" ]] && return 0
  command -v npm >/dev/null || die "npm (Node.js) is required to install pouchdb-server"
  echo "couchdb.sh: installing pouchdb-server into $here/node_modules" >&2
  # --ignore-scripts: leveldown loads the prebuilt binary its package ships, and sqlite3 (used
  # only by pouchdb-server's --sqlite) would otherwise try a download, then a 2-minute compile.
  (cd "$here" && npm ci --no-audit --no-fund --ignore-scripts) >&2
  [[ -x "$server_bin" ]] || die "npm ci finished but $server_bin is missing"
}

cmd_free_port() {
  python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# True when something answers GET / on the port with HTTP 200.
answers() {
  curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null
}

alive() {
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null
}

# True when pid $1 is alive and is a pouchdb-server (a stale pidfile may name a reused pid).
is_server() {
  alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q pouchdb-server
}

# The --port argument of the running server with pid $1.
server_port() {
  tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | sed -n '/^--port$/{n;p;q}'
}

read_pid() {
  [[ -f "$1" ]] || return 0
  tr -dc '0-9' <"$1"
}

# Waits until the server with pid $1 answers on port $2; fails with the log tail if it dies or
# never answers.
wait_until_answering() {
  local pid=$1 port=$2 log=$3 deadline=$((SECONDS + start_timeout_s))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      echo "couchdb.sh: pouchdb-server (pid $pid) exited before answering on port $port" >&2
      show_log_tail "$log"
      return 1
    fi
    answers "$port" && return 0
    sleep 0.2
  done
  echo "couchdb.sh: pouchdb-server (pid $pid) did not answer on port $port" \
    "within ${start_timeout_s}s" >&2
  show_log_tail "$log"
  return 1
}

show_log_tail() {
  [[ -f "$1" ]] || return 0
  echo "---- last lines of $1 ----" >&2
  tail -n 30 "$1" >&2
}

cmd_start() {
  local port="" data="" in_memory=0 pidfile="" log=""
  while (($#)); do
    case "$1" in
      --port) port=${2:?--port needs a value}; shift 2 ;;
      --data) data=${2:?--data needs a value}; shift 2 ;;
      --in-memory) in_memory=1; shift ;;
      --pidfile) pidfile=${2:?--pidfile needs a value}; shift 2 ;;
      --log) log=${2:?--log needs a value}; shift 2 ;;
      *) die "start: unknown argument '$1'" ;;
    esac
  done
  [[ "$port" =~ ^[0-9]+$ ]] || die "start: --port N is required"
  [[ -n "$pidfile" ]] || die "start: --pidfile FILE is required"
  if ((in_memory)) && [[ -n "$data" ]]; then die "start: --in-memory and --data exclude each other"; fi
  if ((!in_memory)) && [[ -z "$data" ]]; then die "start: one of --in-memory or --data DIR is required"; fi

  mkdir -p "$(dirname "$pidfile")"
  pidfile="$(cd "$(dirname "$pidfile")" && pwd)/$(basename "$pidfile")"

  local old_pid
  old_pid=$(read_pid "$pidfile")
  if is_server "$old_pid"; then
    if [[ "$(server_port "$old_pid")" != "$port" ]]; then
      die "$pidfile names pouchdb-server pid $old_pid on port $(server_port "$old_pid"), not $port;" \
        "stop it first"
    fi
    if wait_until_answering "$old_pid" "$port" "${log:-/dev/null}"; then
      echo "couchdb.sh: pouchdb-server already running (pid $old_pid) on 127.0.0.1:$port" >&2
      return 0
    fi
    die "pid $old_pid of $pidfile is alive but does not answer on port $port; stop it first"
  fi
  rm -f "$pidfile"
  if answers "$port"; then die "port $port on 127.0.0.1 is already served by another process"; fi

  cmd_install

  local workdir
  local -a args=(--host 127.0.0.1 --port "$port" --no-color)
  if ((in_memory)); then
    workdir="$pidfile.d"
    rm -rf "$workdir"
    mkdir -p "$workdir"
    args+=(--in-memory)
  else
    mkdir -p "$data"
    workdir=$(cd "$data" && pwd)
  fi
  args+=(--dir "$workdir" --config "$workdir/config.json")
  if [[ -n "$log" ]]; then
    mkdir -p "$(dirname "$log")"
    log="$(cd "$(dirname "$log")" && pwd)/$(basename "$log")"
  else
    log="$workdir/pouchdb-server.out"
  fi

  # setsid makes the server the leader of its own process group, so stop can end it and any
  # children together; started from a shell without job control it does not fork, so $! is the
  # server's pid.
  (cd "$workdir" && exec setsid "$server_bin" "${args[@]}" </dev/null >>"$log" 2>&1) &
  local pid=$!
  echo "$pid" >"$pidfile"

  if ! wait_until_answering "$pid" "$port" "$log"; then
    cmd_stop --pidfile "$pidfile" >/dev/null 2>&1 || true
    exit 1
  fi
  echo "couchdb.sh: pouchdb-server (pid $pid) answers on http://127.0.0.1:$port (log: $log)" >&2
}

cmd_stop() {
  local pidfile=""
  while (($#)); do
    case "$1" in
      --pidfile) pidfile=${2:?--pidfile needs a value}; shift 2 ;;
      *) die "stop: unknown argument '$1'" ;;
    esac
  done
  [[ -n "$pidfile" ]] || die "stop: --pidfile FILE is required"

  local pid
  pid=$(read_pid "$pidfile")
  if is_server "$pid"; then
    # The whole group if the server leads one, else the server and its direct children.
    if [[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" == "$pid" ]]; then
      kill -TERM -- "-$pid" 2>/dev/null || true
    else
      pkill -TERM -P "$pid" 2>/dev/null || true
      kill -TERM "$pid" 2>/dev/null || true
    fi
    local i
    for ((i = 0; i < 50; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "couchdb.sh: stopped pouchdb-server (pid $pid)" >&2
  fi
  rm -f "$pidfile"
  # The scratch directory of an in-memory server holds nothing worth keeping.
  rm -rf "$pidfile.d"
}

# An in-memory server on a free port, for a test or benchmark run; prints its URL on stdout.
# A free port can be taken between picking and binding it, hence a few tries.
cmd_throwaway() {
  local pidfile="" log="" attempt port
  while (($#)); do
    case "$1" in
      --pidfile) pidfile=${2:?--pidfile needs a value}; shift 2 ;;
      --log) log=${2:?--log needs a value}; shift 2 ;;
      *) die "throwaway: unknown argument '$1'" ;;
    esac
  done
  [[ -n "$pidfile" ]] || die "throwaway: --pidfile FILE is required"
  for attempt in 1 2 3; do
    port=$(cmd_free_port)
    # A separate process: start exits on failure, and this loop should try again.
    if "${BASH_SOURCE[0]}" start --port "$port" --in-memory --pidfile "$pidfile" \
      ${log:+--log "$log"}; then
      echo "http://127.0.0.1:$port"
      return 0
    fi
  done
  die "throwaway: could not start pouchdb-server on a free port ($attempt tries)"
}

case "${1:-}" in
  install) shift; cmd_install "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  free-port) shift; cmd_free_port ;;
  throwaway) shift; cmd_throwaway "$@" ;;
  *) usage ;;
esac
