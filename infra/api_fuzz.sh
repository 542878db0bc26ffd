#!/usr/bin/env bash
# The API as an outside client meets it: schemathesis (PyPI) reads the OpenAPI document that
# carpool-local serves and calls every operation with generated input, signed in where the
# operation needs it, checking that no answer is a server error, that every status, content type
# and body is the one documented, and that protected operations refuse a missing session.
# Zero failures or it exits non-zero. Rate limits are lifted (their 429s are documented, but they
# would starve the run). Reports: target/schemathesis/.
#   bash infra/api_fuzz.sh [SECONDS]        (default 150: the budget of the main run)
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."
budget="${1:-150}"
VENV=.venv-api
SCHEMATHESIS_VERSION=4.32.5

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  echo "setup: installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  source infra/pip_install.sh
  pip_install "$VENV" "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build -q --locked -p carpool-local
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
mkdir -p target/schemathesis
# Dev mode (the verification token in the answer) and no CAPTCHA, whatever the caller's shell sets.
env -u CAPTCHA_SECRET -u ALLOWED_ORIGINS target/debug/carpool-local --addr "127.0.0.1:$port" \
  --data-dir "$data" --dev-mode true --lift-rate-limits > target/schemathesis/server.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "$base/api/openapi.json" -o /dev/null && break
  sleep 0.1
done
curl -fs "$base/api/openapi.json" -o /dev/null || {
  echo "carpool-local did not start:"; cat target/schemathesis/server.log; exit 1
}

# A verified account of the demo campus, signed in: prints its Cookie header.
signed_in() {
  local email="$1" password="marble kiosk velvet tundra" token
  token="$(curl -fs "$base/api/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Fuzz Tester\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["devVerificationToken"])')"
  curl -fs "$base/api/auth/verify-email" -H 'content-type: application/json' \
    -d "{\"token\":\"$token\"}" -o /dev/null
  curl -fsi "$base/api/auth/signin" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" |
    grep -io '^set-cookie: __Host-session=[^;]*' | cut -d' ' -f2
}

# The Cookie header of a fresh session; stops the run if there is none (the checks would then
# pass against 401s alone).
session() {
  local cookie
  cookie="$(signed_in "$1")"
  [[ "$cookie" == __Host-session=?* ]] || { echo "no session for $1" >&2; exit 1; }
  echo "Cookie: $cookie"
}

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth
run() {
  local name="$1" seconds="$2"; shift 2
  echo "schemathesis: $name (${seconds}s)"
  "$VENV/bin/schemathesis" run "$base/api/openapi.json" --checks "$checks" --max-time "$seconds" \
    --no-color --report junit --report-dir "target/schemathesis/$name" "$@"
}

# Everything but ending sessions, with one session; then ending sessions, with another (the
# stateful phase feeds ids from `GET /api/auth/sessions` to the revocation, so the main run
# would otherwise end its own session early and test the rest signed out). Deleting the account
# goes with them: it ends every session too, should a generated password ever be the right one.
ending=(sign_out sign_out_everywhere revoke_session delete_account)
main=() sessions=()
for id in "${ending[@]}"; do
  main+=(--exclude-operation-id "$id")
  sessions+=(--include-operation-id "$id")
done
cookie="$(session fuzz@example.edu)"
run main "$budget" -H "$cookie" "${main[@]}"
cookie="$(session fuzz-out@example.edu)"
run sessions 20 -H "$cookie" "${sessions[@]}"
