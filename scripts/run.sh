#!/usr/bin/env bash
# `make run`: the service on 127.0.0.1:$PORT with the demo accounts of fixtures/demo, against
# COUCHDB_URL if set, else against a persistent pouchdb-server in .data/ that stays up for the
# next run (`make stop` ends it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

port=${PORT:-8000}
couchdb_port=${COUCHDB_PORT:-5984}

if [[ -z "${COUCHDB_URL:-}" ]]; then
  couchdb/couchdb.sh start --port "$couchdb_port" --data .data/couchdb \
    --pidfile .data/couchdb.pid --log .data/couchdb.log
  export COUCHDB_URL="http://127.0.0.1:$couchdb_port"
fi

cargo build --release
bin="${CARGO_TARGET_DIR:-target}/release/kazoo-security"
"$bin" seed fixtures/demo
"$bin" setup

base="http://127.0.0.1:$port"
cat <<TEXT

kazoo-security on $base (CouchDB: $COUCHDB_URL)

Log in as ops@copperline, admin of "Copperline Voice" (credentials = md5 of
"ops@copperline:Gr4nite-Sparrow-19"):

  token=\$(curl -s -X PUT $base/v2/user_auth \\
    -d '{"data": {"credentials": "bd952b3ef7c3deb3a3262798115c405d", "account_name": "Copperline Voice"}}' \\
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["auth_token"])')

Then read its security config, and the login attempt that login just wrote:

  curl -s -H "X-Auth-Token: \$token" $base/v2/accounts/28504c0453a482f7a2f3e6f8ae598ef4/security
  curl -s -H "X-Auth-Token: \$token" $base/v2/accounts/28504c0453a482f7a2f3e6f8ae598ef4/security/attempts

  account               username          password             priv level
  Lighthouse Telecom    noc.lighthouse    Gr4nite-Sparrow-19   admin (super-duper admin)
  Copperline Voice      ops@copperline    Gr4nite-Sparrow-19   admin
  Ortega & Sons Bakery  rosa.ortega       Gr4nite-Sparrow-19   admin
  Ortega Café (Uptown)  uptown.manager    Gr4nite-Sparrow-19   admin
  Bluewater Networks    it-desk           Gr4nite-Sparrow-19   admin
  each of them also     clerk.<...>       Gr4nite-Sparrow-19   user

Every account, user id and API key: fixtures/demo/README.md. Stop the server with Ctrl-C;
\`make stop\` also stops the pouchdb-server that \`make run\` started.

TEXT

LISTEN_ADDR="127.0.0.1:$port" exec "$bin" serve
