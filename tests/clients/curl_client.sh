#!/usr/bin/env bash
# Drives kazoo-security with plain curl, the way Kazoo's own API documentation does: bodies
# with `-d` and no Content-Type header, the token in X-Auth-Token. Run by tests/clients.rs.
# Reads KAZOO_URL (without /v2), KAZOO_ACCOUNT_ID, KAZOO_ACCOUNT_NAME, KAZOO_USERNAME and
# KAZOO_PASSWORD from the environment; JSON is read with python3. Exits non-zero on the
# first check that fails, naming it.
set -euo pipefail

base="${KAZOO_URL%/}/v2"
security="$base/accounts/$KAZOO_ACCOUNT_ID/security"
work=$(mktemp -d "${TMPDIR:-/tmp}/kazoo-curl.XXXXXX")
trap 'rm -rf "$work"' EXIT
checks=0

fail() {
  echo "curl: FAILED: $*" >&2
  [[ -s "$work/body" ]] && echo "curl: last body: $(cat "$work/body")" >&2
  exit 1
}

# request METHOD URL [BODY] [extra curl arguments...]: the status on stdout, the body in
# $work/body.
request() {
  local method=$1 url=$2 body=${3:-}
  shift 3 || shift $#
  local args=(-sS -o "$work/body" -w '%{http_code}' -X "$method" "$@")
  [[ -z "$token" ]] || args+=(-H "X-Auth-Token: $token")
  [[ -z "$body" ]] || args+=(-d "$body")
  curl "${args[@]}" "$url"
}

# expect_status WANT GOT WHAT
expect_status() {
  [[ "$2" == "$1" ]] || fail "$3: HTTP $2, expected $1"
  checks=$((checks + 1))
}

# json EXPR: evaluates the Python expression EXPR with `b` bound to the last body.
json() {
  python3 -c 'import json, sys; b = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "$work/body" "$1"
}

# expect EXPR WANT WHAT
expect() {
  local got
  got=$(json "$1") || fail "$3: the body is not the JSON expected"
  [[ "$got" == "$2" ]] || fail "$3: $1 is $got, expected $2"
  checks=$((checks + 1))
}

token=""
credentials=$(printf '%s:%s' "$KAZOO_USERNAME" "$KAZOO_PASSWORD" | md5sum | cut -d' ' -f1)
login="{\"data\": {\"credentials\": \"$credentials\", \"account_name\": \"$KAZOO_ACCOUNT_NAME\"}}"
status=$(request PUT "$base/user_auth" "$login")
expect_status 201 "$status" "login"
expect 'b["data"]["account_id"]' "$KAZOO_ACCOUNT_ID" "login names the account"
expect 'b["auth_token"].count(".")' 2 "login gives a JWT"
token=$(json 'b["auth_token"]')

status=$(request GET "$security")
expect_status 200 "$status" "GET security"
expect 'b["data"]["account"]' '{}' "no config of its own yet"
expect 'b["data"]["inherited_config"]["auth_modules"]["cb_api_auth"]["enabled"]' True \
  "every module is inherited"

status=$(request PATCH "$security" \
  '{"data": {"auth_modules": {"cb_ip_auth": {"enabled": false}}}}')
expect_status 200 "$status" "PATCH security"
expect 'b["data"]["auth_modules"]' "{'cb_ip_auth': {'enabled': False}}" "PATCH answers the config"
expect 'b["data"]["id"]' "configs_crossbar.auth" "PATCH answers the document id"
expect 'b["revision"] != ""' True "PATCH answers the revision"

status=$(request GET "$security?_=1733300000000")
expect_status 200 "$status" "GET security after PATCH"
expect 'b["data"]["account"]["auth_modules"]["cb_ip_auth"]["enabled"]' False \
  "the PATCH is stored"

status=$(request PATCH "$security" '{"data": {"auth_modules": {"cb_ip_auth": {"enabled": "no"}}}}')
expect_status 400 "$status" "an invalid PATCH"
expect 'b["error"]' 400 "the error is the status as a string"
expect '"type" in b["data"]["auth_modules.cb_ip_auth.enabled"]' True "the 400 names the key"

status=$(request GET "$security/attempts?page_size=1")
expect_status 200 "$status" "GET attempts"
expect 'len(b["data"])' 1 "page_size is honoured"
expect 'b["data"][0]["status"]' success "the login is listed"
expect 'b["page_size"]' 1 "the page size is answered"
attempt=$(json 'b["data"][0]["id"]')

status=$(request GET "$security/attempts/$attempt")
expect_status 200 "$status" "GET one attempt"
expect 'b["data"]["id"]' "$attempt" "the attempt is the one listed"

status=$(request GET "$security/attempts?created_from=63900000000&created_to=63800000000")
expect_status 400 "$status" "a backwards range"
expect '"date_range" in b["data"]["created_from"]' True "the 400 names the rule"

saved_token=$token
token=""
status=$(request GET "$security")
expect_status 401 "$status" "GET security without a token"
token="$saved_token.tampered"
status=$(request GET "$security")
expect_status 401 "$status" "GET security with a tampered token"

echo "curl: $checks checks passed"
