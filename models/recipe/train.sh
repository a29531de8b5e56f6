#!/usr/bin/env bash
# npm run train [-- --smoke] [-- --out DIR] [-- --run NAME]
# Full: tokenizer -> corpus prep (the product's walker and chunker) -> the legs of configs/default.toml (lm, copy,
#       contrast, align, textctl, instruct x3, export to models/default or --out) -> plot -> Node parity and
#       generation check. Every leg resumes from its checkpoint in work/<run>/, so rerunning continues where it stopped.
# Smoke: configs/smoke.toml, a tiny model and a few steps per leg, into a temporary run and bundle (CI).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
smoke=0; out=""; run="default"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --out) out="$(realpath -m "$2")"; shift ;;  # absolute: the stages run from the recipe folder
    --run) run="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
bash "$here/setup_env.sh"
py="$here/.venv/bin/python"
cd "$here"
if [ "$smoke" = 1 ]; then
  run="smoke-$$"
  work="$here/work/$run"
  data="$here/work/data-$run"
  out="${out:-$work/bundle}"
  trap 'rm -rf "$work" "$data"' EXIT
  mkdir -p "$work"
  "$py" tokenizer_train.py --vocab 8192 --max-chars 1500000 --out "$work/tokenizer.json"
  node --import tsx prep/build.ts --out "$data" --tokenizer "$work/tokenizer.json" --max-tokens 64 --max-files-per-repo 4 \
    --repos py-html,py-re,py-dbm,py-concurrent,npm-fs-extra,py-json,py-tomllib,npm-semver
  "$py" train.py run configs/smoke.toml --run "$run" --smoke --data "$data" --threads 2 --log-every 5 --out "$out"
  node --import tsx checks/check-bundle.ts "$out" --tokens 8
  exit 0
fi
work="$here/work/$run"
out="${out:-$here/../default}"
mkdir -p "$work"
[ -f "$work/tokenizer.json" ] || "$py" tokenizer_train.py --vocab 8192 --out "$work/tokenizer.json"
[ -f "$here/work/data/heldout.jsonl" ] || node --import tsx prep/build.ts --out "$here/work/data" --tokenizer "$work/tokenizer.json" --max-tokens 128
"$py" train.py run configs/default.toml --run "$run" --data "$here/work/data" --out "$out" --threads "${E2CODE_TRAIN_THREADS:-2}"
"$py" plot.py --run "$run"
node --import tsx checks/check-bundle.ts "$out" --tokens 16
