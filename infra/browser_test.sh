#!/usr/bin/env bash
# Browser tests (infra/browser/flow.mjs): the demo page of carpool-local in Debian's chromium,
# driven by playwright-core. Installs what is missing: the chromium package (apt, as root or
# through sudo) and the npm packages pinned in infra/browser/package-lock.json. Screenshots of
# the main screens, and on a failure every page and the server's output: target/browser/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

chromium="${CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$chromium" ]; then
  echo "setup: installing Debian's chromium (apt)"
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium > /dev/null
  chromium="$(command -v chromium)"
fi
echo "browser: $("$chromium" --version 2>/dev/null)"

# npm ci only when the lock file changed since the last install (a copy of it marks the install).
if ! cmp -s infra/browser/package-lock.json infra/browser/node_modules/.installed-from-lock; then
  (cd infra/browser && npm ci --no-audit --no-fund --loglevel=error)
  cp infra/browser/package-lock.json infra/browser/node_modules/.installed-from-lock
fi

cargo build -q --locked -p carpool-local -p carpool-admin
rm -rf target/browser
mkdir -p target/browser
# Dana Driver's license photo for the OCR stand-in: verified against what she types in the page.
python3 infra/license_png.py --first DANA --last DRIVER --number "D765 4321" \
  --expires "$(date -u -d '+1 year' +%F)" > target/browser/license.png

CHROMIUM="$chromium" CARPOOL_LOCAL=target/debug/carpool-local CARPOOL_ADMIN=target/debug/carpool-admin \
  LICENSE_PNG=target/browser/license.png ARTEFACTS=target/browser node infra/browser/flow.mjs
