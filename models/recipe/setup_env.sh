#!/usr/bin/env bash
# Idempotent: creates models/recipe/.venv and installs the pinned requirements from the machine's local
# wheel indexes. Fast (a stamp check) when the requirements have not changed since the last install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  for cand in python3.11 /root/.pyenv/versions/3.11.7/bin/python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1; then py="$cand"; break; fi
  done
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple --find-links /opt/wheels \
  -r "$req"
echo "$want" > "$stamp"
