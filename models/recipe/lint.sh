#!/usr/bin/env bash
# Formatting and lint of the recipe (ruff, pinned in requirements.txt, configured in ruff.toml); part of
# `npm run lint`. `--fix` formats and fixes instead of checking.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/setup_env.sh" >/dev/null
ruff="$here/.venv/bin/ruff"
cd "$here"
if [ "${1:-}" = --fix ]; then
  "$ruff" format . && "$ruff" check --fix .
else
  "$ruff" format --check . && "$ruff" check .
fi
