#!/usr/bin/env bash
# Offline checks of the SAM template and its cross-references to the workspace:
#   1. cfn-lint template.yaml              (CloudFormation schema and best practices)
#   2. sam validate --lint                 (SAM CLI's cfn-lint run, with SAM-aware rules)
#   3. sam validate --region us-east-1     (runs the SAM transform: catches what cfn-lint misses)
#   4. infra/check_workspace.py            (template <-> functions/*/Cargo.toml <-> events/, and
#                                           the transformed template's CORS)
# Needs no AWS account and no network except PyPI on the first run, which creates
#   .venv-test  with cfn-lint      (shared with other test tooling, e.g. moto)
#   .venv-sam   with aws-sam-cli   (own venv: its many pinned dependencies stay out of the test
#                                   venv; it also brings cfn-lint and the SAM translator)
# Later runs only run the checks. Usage: bash infra/check-template.sh (from any directory).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export SAM_CLI_TELEMETRY=0
export PIP_DISABLE_PIP_VERSION_CHECK=1

# ---- tools (installed only when missing)

# Another script may be creating .venv-test at the same time (with moto); `venv` on an existing
# directory keeps what is there, and pip installs into it.
source infra/pip_install.sh
if [[ ! -x .venv-test/bin/cfn-lint ]]; then
    echo "setup: installing cfn-lint into .venv-test"
    pip_install .venv-test cfn-lint
fi
if [[ ! -x .venv-sam/bin/sam ]]; then
    echo "setup: creating .venv-sam with aws-sam-cli (about a minute)"
    pip_install .venv-sam aws-sam-cli
fi

# ---- checks

failed=()
check() {
    local name=$1
    shift
    echo "== ${name}"
    if "$@"; then
        echo "PASS ${name}"
    else
        echo "FAIL ${name}"
        failed+=("${name}")
    fi
}

# The SAM tools must never reach a real account: no credentials, profiles or instance metadata
# from the caller's environment. The transform runs locally; dummy keys keep botocore from
# looking for real ones.
offline() {
    env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE \
        AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=us-east-1 \
        "$@"
}

check "cfn-lint template.yaml" .venv-test/bin/cfn-lint template.yaml
check "sam validate --lint" offline .venv-sam/bin/sam validate --template-file template.yaml --lint
check "sam validate (SAM transform)" offline .venv-sam/bin/sam validate --template-file template.yaml --region us-east-1
# Under .venv-sam: aws-sam-cli brings both cfn-lint's loader and the SAM translator, so the
# cross-check can also inspect the transformed template.
check "workspace cross-check" offline .venv-sam/bin/python infra/check_workspace.py --require-transform

if ((${#failed[@]})); then
    echo "check-template: ${#failed[@]} check(s) failed: ${failed[*]}" >&2
    exit 1
fi
echo "check-template: all checks passed"
