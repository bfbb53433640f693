"""Drives kazoo-security with kazoo-sdk, a published Python Crossbar client, unchanged.

Run by tests/clients.rs with the environment of tests/clients/requirements.txt. Reads
KAZOO_URL (the service, without /v2), KAZOO_ACCOUNT_ID, KAZOO_ACCOUNT_NAME, KAZOO_USERNAME,
KAZOO_PASSWORD and KAZOO_API_KEY from the environment; exits non-zero on the first check
that fails, naming it.
"""

import base64
import json
import os
import sys

import kazoo
from kazoo.exceptions import KazooApiAuthenticationError

env = os.environ
BASE = env["KAZOO_URL"].rstrip("/") + "/v2"
ACCOUNT = env["KAZOO_ACCOUNT_ID"]
SECURITY = "/accounts/{}/security".format(ACCOUNT)
checks = 0


def check(condition, what, detail=None):
    global checks
    if not condition:
        shown = "" if detail is None else ": %r" % (detail,)
        sys.exit("kazoo-sdk: FAILED: {}{}".format(what, shown))
    checks += 1


def _padded(text):
    return text + "=" * (-len(text) % 4)


def answer(result, what):
    """manual_request answers (True, data) on success and (False, response) otherwise."""
    ok, data = result
    if not ok:
        check(False, what, "HTTP {} {}".format(data.status_code, data.text))
    return data


check(kazoo.VERSION == "0.2.4", "the pinned kazoo-sdk is in use", kazoo.VERSION)

# Username and password: the client hashes "user:pass" with md5 and PUTs /user_auth.
user = kazoo.Client(
    username=env["KAZOO_USERNAME"],
    password=env["KAZOO_PASSWORD"],
    account_name=env["KAZOO_ACCOUNT_NAME"],
    base_url=BASE,
)
token = user.authenticate()
check(token and token.count(".") == 2, "user login gives a JWT", token)
check(user.auth_data["data"]["account_id"] == ACCOUNT, "user login names the account",
      user.auth_data["data"])
check(user.auth_data["data"].get("owner_id"), "user login names the user", user.auth_data)

# The API key: PUT /api_auth.
api = kazoo.Client(api_key=env["KAZOO_API_KEY"], base_url=BASE)
api.authenticate()
check(api.auth_data["data"]["account_id"] == ACCOUNT, "API-key login names the account",
      api.auth_data["data"])

# The client's own error handling reads Crossbar's error envelope ("error": "401").
wrong = kazoo.Client(
    username=env["KAZOO_USERNAME"],
    password=env["KAZOO_PASSWORD"] + "-wrong",
    account_name=env["KAZOO_ACCOUNT_NAME"],
    base_url=BASE,
)
try:
    wrong.authenticate()
    check(False, "a wrong password is refused")
except KazooApiAuthenticationError:
    check(True, "a wrong password is refused")

# The security routes through the client's generic request method.
data = answer(user.manual_request(SECURITY), "GET security")
check(data["account"] == {}, "a new account has no config of its own", data)
check(data["inherited_config"]["auth_modules"]["cb_user_auth"]["enabled"] is True,
      "the inherited config lists every module", data)

replacement = {"data": {"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 1800}},
                        "notes": "set by kazoo-sdk"}}
data = answer(user.manual_request(SECURITY, "post", data=replacement), "POST security")
check(data["auth_modules"] == {"cb_user_auth": {"token_auth_expiry_s": 1800}},
      "POST answers the stored config", data)
check(data["id"] == "configs_crossbar.auth", "POST answers the document id", data)

change = {"data": {"auth_modules": {"cb_api_auth": {"log_successful_attempts": True}}}}
data = answer(user.manual_request(SECURITY, "patch", data=change), "PATCH security")
check(data["auth_modules"]["cb_user_auth"] == {"token_auth_expiry_s": 1800},
      "PATCH keeps what it did not name", data)
check(data["auth_modules"]["cb_api_auth"] == {"log_successful_attempts": True},
      "PATCH merges what it names", data)
check(data["notes"] == "set by kazoo-sdk", "PATCH keeps unknown keys", data)

data = answer(api.manual_request(SECURITY), "GET security with the API-key token")
check(data["account"]["auth_modules"]["cb_api_auth"]["log_successful_attempts"] is True,
      "the API-key token reads the patched config", data)

refused = {"data": {"auth_modules": {"cb_user_auth": {"enabled": "maybe"}}}}
ok, response = user.manual_request(SECURITY, "post", data=refused)
check(not ok and response.status_code == 400, "an invalid config is a 400",
      getattr(response, "status_code", response))
check(response.json()["error"] == "400"
      and "auth_modules.cb_user_auth.enabled" in response.json()["data"],
      "the 400 names the failing key", response.text)

# Attempts: the user logins above were logged (cb_user_auth logs both outcomes by default).
rows = answer(user.manual_request(SECURITY + "/attempts"), "GET attempts")
statuses = sorted(row["status"] for row in rows)
check(statuses == ["failed", "success"], "both user logins are listed", rows)
check(set(rows[0]) == {"id", "auth_type", "auth_module", "status", "message", "timestamp",
                       "client_ip"}, "attempt rows carry the summary fields", rows[0])
rows = answer(user.manual_request(SECURITY + "/attempts?page_size=1&_=1733300000000"),
              "GET one page of attempts")
check(len(rows) == 1, "page_size is honoured", rows)
one = answer(user.manual_request(SECURITY + "/attempts/" + rows[0]["id"]), "GET one attempt")
check(one["id"] == rows[0]["id"]
      and one["client_headers"]["user-agent"].startswith("python-requests/"),
      "one attempt in full, with the client's headers", one)

# The refreshed config steers the next login: the token lives 1800 seconds.
again = kazoo.Client(
    username=env["KAZOO_USERNAME"],
    password=env["KAZOO_PASSWORD"],
    account_name=env["KAZOO_ACCOUNT_NAME"],
    base_url=BASE,
)
claims = json.loads(base64.urlsafe_b64decode(_padded(again.authenticate().split(".")[1])))
check(claims["exp"] - claims["iat"] == 1800, "the new token lives as configured", claims)

print("kazoo-sdk {}: {} checks passed".format(kazoo.VERSION, checks))
