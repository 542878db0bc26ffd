#!/usr/bin/env bash
# The API as an outside client meets it: schemathesis (PyPI) reads the OpenAPI document that
# carpool-local serves and calls every operation with generated input, signed in where the
# operation needs it, checking that no answer is a server error, that every status, content type
# and body is the one documented, and that protected operations refuse a missing session.
# Zero failures or it exits non-zero. Rate limits are lifted (their 429s are documented, but they
# would starve the run). Reports: target/schemathesis/.
#   bash infra/api_fuzz.sh [SECONDS]        (default 150: the budget of the main run)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
budget="${1:-150}"
VENV=.venv-api
SCHEMATHESIS_VERSION=4.32.5

if [[ ! -x "$VENV/bin/schemathesis" ]]; then
  echo "setup: installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build -q --locked -p carpool-local
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
target/debug/carpool-local --addr "127.0.0.1:$port" --data-dir "$data" --lift-rate-limits \
  > "$data/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "$base/api/openapi.json" -o /dev/null && break
  sleep 0.1
done

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
    sed -n 's/^set-cookie: \(__Host-session=[^;]*\).*/\1/Ip' | tr -d '\r'
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
# would otherwise end its own session early and test the rest signed out).
ending=(--include-operation-id sign_out --include-operation-id sign_out_everywhere
  --include-operation-id revoke_session)
run main "$budget" -H "Cookie: $(signed_in fuzz@example.edu)" "${ending[@]/--include/--exclude}"
run sessions 20 -H "Cookie: $(signed_in fuzz-out@example.edu)" "${ending[@]}"
