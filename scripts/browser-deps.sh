#!/usr/bin/env bash
# What the dashboard's browser test (tests/dashboard.rs) needs: Debian's chromium at
# /usr/bin/chromium (installed with apt-get when missing) and playwright-core, pinned by
# tests/browser/package-lock.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -x /usr/bin/chromium ]]; then
  echo "browser-deps.sh: installing chromium with apt-get" >&2
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >/dev/null
fi

# npm ci is quick from npm's cache, and leaves exactly what the lockfile names.
npm ci --prefix tests/browser --no-audit --no-fund --prefer-offline --loglevel=error >&2
