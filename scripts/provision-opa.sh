#!/usr/bin/env bash
# Provides a real OPA 1.x binary and prints its path on the last line.
# Uses $PERMIT_OPA or `opa` on PATH when they run; otherwise builds OPA from Debian's Go source
# packages (nothing installed system-wide) and caches it at ~/.cache/opa/opa.
# Fails loudly: tests that claim OPA compatibility must not pass without a real OPA.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for cand in "${PERMIT_OPA:-}" "$(command -v opa || true)" "$HOME/.cache/opa/opa"; do
  if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" version >/dev/null 2>&1; then
    echo "$cand"; exit 0
  fi
done
echo "provision-opa: no OPA found; building it from Debian's source packages (~2 minutes)" >&2
if ! out=$("$here/build-opa.sh" "$HOME/.cache/opa/opa"); then
  echo "provision-opa: FAILED to build OPA; tests against real OPA cannot run" >&2
  exit 1
fi
echo "$out" | tail -n 1
