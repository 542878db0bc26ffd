# Sourced by the test scripts: `pip_install VENV PACKAGE...` creates the venv when missing and
# installs into it, trying three times (a package registry that drops a download mid-stream
# fails pip at once; it does not retry that itself).
pip_install() {
  local venv="$1"; shift
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  local attempt
  for attempt in 1 2 3; do
    "$venv/bin/pip" install -q --disable-pip-version-check --timeout 60 "$@" && return 0
    echo "pip install into $venv failed (attempt $attempt of 3)" >&2
    sleep $((attempt * 10))
  done
  return 1
}
