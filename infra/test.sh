#!/usr/bin/env bash
# The README's test command: installs what the tests need (Python tools in .venv-test; chromium and
# playwright-core for the browser tests), starts the moto AWS emulator on a free loopback port,
# runs every check and test, and stops moto.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-test
LAMBDAS=(register verify-email signin session password two-factor driver admin carpool chat-http chat-ws account authorizer mailer license-sweep account-sweep)
step() { printf '\n== %s\n' "$*"; }

step "Python test tools in $VENV (moto, cfn-lint, cargo-lambda)"
source infra/pip_install.sh
if ! "$VENV/bin/python" -c 'import moto.server, cfnlint' 2>/dev/null || [ ! -x "$VENV/bin/cargo-lambda" ]; then
  pip_install "$VENV" 'moto[server]' cfn-lint cargo-lambda
fi

step "Start the moto emulator"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
"$VENV/bin/python" infra/moto_server.py 127.0.0.1 "$port" > target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/moto-api/" > /dev/null && break
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "moto exited before it was ready:"; cat target/moto.log; exit 1
  fi
  sleep 0.5
done
if ! curl -sf "http://127.0.0.1:$port/moto-api/" > /dev/null; then
  echo "moto did not answer on 127.0.0.1:$port within 30 s:"; cat target/moto.log; exit 1
fi
export CARPOOL_TEST_MOTO_URL="http://127.0.0.1:$port"
# Tests that stop a DynamoDB mid-test start a moto of their own with this interpreter.
export CARPOOL_TEST_MOTO_PYTHON="$PWD/$VENV/bin/python"
echo "moto on $CARPOOL_TEST_MOTO_URL"

step "Format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Tests (unit, store contract on both stores, SES, flows, events, logs)"
cargo test --workspace --locked

step "The API as outsiders meet it (schemathesis against carpool-local)"
bash infra/api_fuzz.sh

step "The demo page in a real browser (chromium and playwright-core; screenshots in target/browser)"
bash infra/browser_test.sh

step "template.yaml (cfn-lint, sam validate, workspace cross-check)"
bash infra/check-template.sh

step "cargo lambda build --profile ci (every function's bootstrap; deploys build --release)"
bins=()
for b in "${LAMBDAS[@]}"; do bins+=(--bin "$b"); done
PATH="$PWD/$VENV/bin:$PATH" cargo lambda build --profile ci --locked "${bins[@]}"
for b in "${LAMBDAS[@]}"; do
  test -s "target/lambda/$b/bootstrap" || { echo "missing target/lambda/$b/bootstrap"; exit 1; }
  echo "target/lambda/$b/bootstrap $(du -h "target/lambda/$b/bootstrap" | cut -f1)"
done

step "All checks passed"
