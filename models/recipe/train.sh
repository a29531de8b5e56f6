#!/usr/bin/env bash
# npm run train [-- --smoke] [-- --out DIR]
# Full: tokenizer -> corpus prep (product walker/chunker) -> lm -> contrast -> align -> textctl (pure-text control)
#       -> instruct -> export to models/default (or --out) -> Node parity + generation check. Every stage
#       resumes from its checkpoint in models/recipe/work/<run>/, so rerunning continues where it stopped.
# Smoke: the same path with a tiny model and a few steps per stage, into a temporary run and bundle (CI).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
smoke=0; out=""; run="default"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --out) out="$2"; shift ;;
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
  out="${out:-$work/bundle}"
  trap 'rm -rf "$work" "$here/work/data-$run"' EXIT
  mkdir -p "$work"
  "$py" tokenizer_train.py --vocab 8192 --max-chars 1500000 --out "$work/tokenizer.json"
  node --import tsx "$here/prep/build.ts" --out "$here/work/data-$run" --tokenizer "$work/tokenizer.json" --max-tokens 64 --max-files-per-repo 4 \
    --repos py-html,py-re,py-dbm,py-concurrent,npm-fs-extra,py-json,py-tomllib,npm-semver
  common=(--run "$run" --smoke --data "$here/work/data-$run" --threads 2 --log-every 5)
  for stage in lm contrast align; do "$py" train.py $stage "${common[@]}"; done
  "$py" train.py instruct "${common[@]}" --text-control
  "$py" train.py instruct "${common[@]}" --init-from textctl --text-frac 0.3 --recon-frac 0.2 --lm-mix 2 --names-weight 0.5
  "$py" train.py export "${common[@]}" --out "$out"
  node --import tsx "$root/test/recipe/check-bundle.ts" "$out" --tokens 8
  exit 0
fi
work="$here/work/$run"
out="${out:-$root/models/default}"
mkdir -p "$work"
[ -f "$work/tokenizer.json" ] || "$py" tokenizer_train.py --vocab 8192 --out "$work/tokenizer.json"
[ -f "$here/work/data/heldout.jsonl" ] || node --import tsx "$here/prep/build.ts" --out "$here/work/data" --tokenizer "$work/tokenizer.json" --max-tokens 128
threads="${E2CODE_TRAIN_THREADS:-2}"
"$py" train.py lm --run "$run" --steps 600 --minutes 45 --threads "$threads"
"$py" train.py contrast --run "$run" --steps 600 --minutes 12 --threads "$threads"
"$py" train.py align --run "$run" --steps 800 --minutes 20 --threads "$threads"
"$py" train.py instruct --run "$run" --text-control --steps 300 --minutes 10 --threads "$threads"
"$py" train.py instruct --run "$run" --steps 700 --minutes 35 --threads "$threads"
"$py" train.py export --run "$run" --out "$out"
"$py" plot.py --run "$run"
node --import tsx "$root/test/recipe/check-bundle.ts" "$out" --tokens 16
