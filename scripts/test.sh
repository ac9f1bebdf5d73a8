#!/usr/bin/env bash
# The whole test suite: unit and CLI tests, including the tests against real OPA.
# `PERMIT_OPA` points at an OPA binary; without it, scripts/provision-opa.sh builds one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PERMIT_OPA:-}" ]; then
  PERMIT_OPA=$(scripts/provision-opa.sh | tail -n 1)
  export PERMIT_OPA
fi
export PERMIT_REQUIRE_OPA=1
cargo test --release --all-targets "$@"
