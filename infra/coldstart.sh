#!/usr/bin/env bash
# The cold-start benchmark (README "Benchmark"): builds every function's bootstrap for this
# machine with the profile deploys use (release: fat LTO, so the first build takes a while) and
# the hello-world yardstick, then starts each one ROUNDS times against a loopback fake of the
# Lambda Runtime API and prints init, first invocation and peak memory (infra/coldstart).
#   bash infra/coldstart.sh [ROUNDS]        (default 15; PROFILE=ci builds quicker but measures less)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
profile="${PROFILE:-release}"
cargo build --profile "$profile" --locked --workspace --bins --exclude carpool-local --exclude carpool-admin
"target/$profile/carpool-coldstart" --bin-dir "target/$profile" --rounds "${1:-15}"
