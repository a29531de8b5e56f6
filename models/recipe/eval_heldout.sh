#!/usr/bin/env bash
# npm run eval:heldout [-- --json] [-- --bundle DIR] ...: `e2code eval` (through the product runtime) on every
# held-out repository of corpus.json, the source of the README's evaluation table.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mapfile -t dirs < <(cd "$here" && python3 -c 'import corpus as c; k=c.load_corpus(); print("\n".join(str(c.repo_dir(k, r)) for r in k["heldout"]))')
args=()
for d in "${dirs[@]}"; do args+=(--repo "$d"); done
cd "$root"
exec node --import tsx src/cli/main.ts eval "${args[@]}" "$@"
