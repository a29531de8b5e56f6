#!/usr/bin/env bash
# The whole test suite, as README's test command runs it (`npm ci && npm test`) and CI runs it (.ci/run).
# Installs what it needs itself on a fresh machine: system packages (when root), the recipe's Python
# packages, the editor for integration tests. Each phase is an npm script; phases not yet defined are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh

has_script() { node -e "process.exit(require('./package.json').scripts['$1'] ? 0 : 1)"; }
# Each phase has a time limit many times its usual length, so a hang fails the run with its name instead
# of eating CI's whole budget (`timeout` signals the phase's whole process group).
phase() {
  local name=$1 limit=$2
  if has_script "$name"; then
    echo "=== $name"
    local t0=$SECONDS rc=0
    timeout --kill-after=30 "$limit" npm run --silent "$name" || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      echo "=== $name: TIMED OUT after $limit s" >&2
      exit 1
    elif [ "$rc" -ne 0 ]; then
      echo "=== $name: failed (exit $rc) after $((SECONDS - t0)) s" >&2
      exit "$rc"
    fi
    echo "=== $name: ok in $((SECONDS - t0)) s"
  fi
}

phase build 300
phase typecheck 300
phase lint 900  # sets up the recipe venv for ruff on a fresh machine
phase test:unit 900
phase test:recipe 900
phase test:integration 1200
phase test:e2e 1200
phase test:hardening 1500
