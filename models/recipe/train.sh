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
  out="${out:-$work/bundle}"
  trap 'rm -rf "$work" "$here/work/data-$run"' EXIT
  mkdir -p "$work"
  "$py" tokenizer_train.py --vocab 8192 --max-chars 1500000 --out "$work/tokenizer.json"
  node --import tsx "$here/prep/build.ts" --out "$here/work/data-$run" --tokenizer "$work/tokenizer.json" --max-tokens 64 --max-files-per-repo 4 \
    --repos py-html,py-re,py-dbm,py-concurrent,npm-fs-extra,py-json,py-tomllib,npm-semver
  common=(--run "$run" --smoke --data "$here/work/data-$run" --threads 2 --log-every 5)
  "$py" train.py lm "${common[@]}"
  "$py" train.py lm "${common[@]}"  # a rerun skips a leg that finished by its steps (the smoke test asserts it)
  # copy stops at its time cap, and a rerun must not extend it (--minutes is the leg's, across resumes)
  "$py" train.py copy "${common[@]}" --init-from lm --lr 1e-3 --steps 100000 --minutes 0.01
  "$py" train.py copy "${common[@]}" --init-from lm --lr 1e-3 --steps 100000 --minutes 0.01
  "$py" train.py contrast "${common[@]}"
  "$py" train.py align "${common[@]}" --freeze-encoder
  # the alignment options the full run does not use yet (README: "A seventh session"): encoder and decoder trained
  "$py" train.py align "${common[@]}" --contrast-weight 0.5 --decoder-lr 1e-4 --steps 12
  "$py" train.py instruct "${common[@]}" --text-control --init-from copy --extra-questions 2
  "$py" train.py instruct "${common[@]}" --init-from textctl --text-frac 0.5 --extra-questions 2 --extra-names 4 \
    --recon-frac 0.2 --names-weight 0.5 --copy-mix 2 --lm-mix 2 --file-weight 0.3 --copy-lead 64 --lm-len 96 --steps 4
  "$py" train.py instruct "${common[@]}" --rank-files --rank-noise 0.3 --extra-questions 0 --extra-names 0 --text-frac 0.5 --retrieved-frac 0.3 --pointer-weight 0.5 --pointer-layer 1 --pointer-from name --copy-mix 2 --steps 8
  "$py" train.py instruct "${common[@]}" --rank-files --extra-questions 0 --extra-names 0 --text-frac 0.3 --recon-frac 0.2 \
    --task-mix where:1,what:1,summary:2 --drop-template-docs --recon-by-repo --focus-frac 0.5 --prose-files 3 --recap-chunks 1 --steps 10
  "$py" train.py export "${common[@]}" --out "$out"
  node --import tsx "$root/test/recipe/check-bundle.ts" "$out" --tokens 8
  exit 0
fi
work="$here/work/$run"
out="${out:-$root/models/default}"
mkdir -p "$work"
# The default bundle's encoder ranks by the mean of its pooled vectors: it was trained before the encoder's
# retrieval query (README: "An eighth session"), which runs without this file get.
[ -f "$work/model.json" ] || echo '{"retrieval_query": false}' > "$work/model.json"
[ -f "$work/tokenizer.json" ] || "$py" tokenizer_train.py --vocab 8192 --out "$work/tokenizer.json"
[ -f "$here/work/data/heldout.jsonl" ] || node --import tsx "$here/prep/build.ts" --out "$here/work/data" --tokenizer "$work/tokenizer.json" --max-tokens 128
threads="${E2CODE_TRAIN_THREADS:-2}"
# The stages in order (see README "Default bundle" for what was actually run for the committed bundle).
data=(--data "$here/work/data")
"$py" train.py lm --run "$run" --steps 600 --minutes 45 --threads "$threads"
"$py" train.py copy --run "$run" --init-from lm --lr 1e-3 --batch 32 --steps 1200 --minutes 8 --threads "$threads"
"$py" train.py contrast --run "$run" --steps 2500 --minutes 20 --threads "$threads" "${data[@]}"
"$py" train.py align --run "$run" --freeze-encoder --steps 1500 --minutes 12 --threads "$threads" "${data[@]}"
"$py" train.py instruct --run "$run" --text-control --init-from copy --lr 1e-3 --batch 16 --extra-questions 4 --max-positions 448 \
  --steps 1500 --minutes 20 --threads "$threads" "${data[@]}"
"$py" train.py instruct --run "$run" --init-from textctl --lr 1e-3 --batch 16 --max-positions 448 --text-frac 0.5 --extra-questions 3 \
  --extra-names 8 --recon-frac 0.15 --names-weight 0.5 --copy-mix 4 --lm-mix 4 --log-every 20 --steps 2000 --minutes 90 \
  --threads "$threads" "${data[@]}"
# Then the files in order of relevance to the question (the runtime places them so: manifest
# decoder.contextOrder), one answered question per context, and some retrieved-row examples (README: "A fifth session").
"$py" train.py instruct --run "$run" --lr 1e-3 --batch 16 --max-positions 448 --text-frac 0.3 --extra-questions 0 --extra-names 0 \
  --recon-frac 0.1 --names-weight 0.5 --copy-mix 4 --lm-mix 4 --rank-files --retrieved-frac 0.15 --log-every 20 --steps 3000 \
  --minutes 60 --threads "$threads" "${data[@]}"
# Then weighted to summaries and explanations (module and function docstrings), with more reconstruction:
# after the lookup legs, summaries from soft tokens scored below no context (README: "A seventh session").
"$py" train.py instruct --run "$run" --lr 1e-3 --batch 16 --max-positions 448 --text-frac 0.3 --extra-questions 0 --extra-names 0 \
  --recon-frac 0.2 --names-weight 0.5 --copy-mix 4 --lm-mix 4 --rank-files --retrieved-frac 0.15 --log-every 20 \
  --task-mix where:3,what:2,params:1,defines:1,summary:4,complete:1 --steps 3100 --minutes 45 --threads "$threads" "${data[@]}"
"$py" train.py export --run "$run" --out "$out" --context-positions 448
"$py" plot.py --run "$run"
node --import tsx "$root/test/recipe/check-bundle.ts" "$out" --tokens 16
