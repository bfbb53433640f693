#!/usr/bin/env bash
# Makes the Python environment of the client tests (tests/clients.rs): the packages pinned in
# tests/clients/requirements.txt, in .data/clients-venv (or $CLIENTS_VENV). An environment
# already made from the same requirements file is kept as it is, so that later runs need no
# network. Prints the environment's python on stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

requirements=tests/clients/requirements.txt
venv=${CLIENTS_VENV:-$PWD/.data/clients-venv}
stamp="$venv/requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)

if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
  echo "clients-venv.sh: installing $requirements into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
    -r "$requirements" >&2
  echo "$wanted" >"$stamp"
fi
"$venv/bin/python" -c 'import kazoo' >&2
echo "$venv/bin/python"
