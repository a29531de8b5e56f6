#!/usr/bin/env bash
# The whole test suite, as README's test command runs it (`npm ci && npm test`) and CI runs it (.ci/run).
# Installs what it needs itself on a fresh machine: system packages (when root), the recipe's Python
# packages, the editor for integration tests. Each phase is an npm script; phases not yet defined are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh

has_script() { node -e "process.exit(require('./package.json').scripts['$1'] ? 0 : 1)"; }
phase() {
  local name=$1
  if has_script "$name"; then
    echo "=== $name"
    local t0=$SECONDS
    npm run --silent "$name"
    echo "=== $name: ok in $((SECONDS - t0)) s"
  fi
}

phase build
phase typecheck
phase lint
phase test:unit
phase test:recipe
phase test:integration
phase test:e2e
phase test:hardening
