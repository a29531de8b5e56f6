"""E2LLM training recipe: runs one stage (a leg), or every leg of a config in order.

  python train.py run configs/default.toml [--run R] [--threads T] [--data DIR] [--out DIR]   (npm run train)
  python train.py <stage> --run R [--steps N] [--minutes M] [settings...]                       (one leg)

Stages (each in stages/, resumable from work/<run>/<stage>.pt, metrics in work/<run>/metrics.jsonl):
  lm        decoder language-model pretraining on code
  copy      decoder copy practice ([span][span again], loss on every position)
  contrast  encoder contrastive: a chunk's pooled vectors <-> its defined names / doc comment
  align     adapter (+encoder, +decoder) alignment by reconstruction: the decoder regenerates a chunk from its soft tokens
  instruct  long-context instruction tuning (where is X defined, what does X do, ...); --text-control: the pure-text control
  export    the run's latest modules -> a bundle;  import: a bundle's weights -> the run's starting point
  sweep     reconstruction at several soft-token counts per chunk (the compression sweep)

A leg is one run of a stage with given settings. Its checkpoint records the legs that finished, so rerunning a
config continues where it stopped and skips finished legs (see loop.Leg); a leg's key is its settings that
differ from their defaults (LEG_IGNORES aside: they say how fast or where a leg runs, not what it trains).
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import sys
import tomllib
from pathlib import Path

import torch

from common import set_threads

# stage -> (module in stages/, function)
STAGES = {
    "lm": ("lm", "run"),
    "copy": ("copy", "run"),
    "contrast": ("contrast", "run"),
    "align": ("align", "run"),
    "instruct": ("instruct", "run"),
    "export": ("bundle", "export"),
    "import": ("bundle", "import_bundle"),
    "sweep": ("sweep", "run"),
}
# Settings that say how fast or where a leg runs, not what it trains: changing them does not make a new leg.
LEG_IGNORES = {"threads", "log_every", "data", "out"}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="One leg of the E2LLM recipe (python train.py run CONFIG runs a config's legs).")
    ap.add_argument("stage", choices=sorted(STAGES))
    ap.add_argument("--run", default="default", help="the run's work directory: work/<run>")
    ap.add_argument("--smoke", action="store_true", help="tiny model and data: every stage in seconds (CI)")
    ap.add_argument("--steps", type=int, default=0, help="the stage's total steps (0: the stage's default)")
    ap.add_argument("--minutes", type=float, default=0, help="cap on this leg's time on the stage clock, across resumes")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=10, help="steps between metric rows and checkpoints")
    ap.add_argument("--data", default="", help="the prep/build.ts output (default work/data, or work/data-smoke)")
    ap.add_argument("--no-bf16", dest="bf16", action="store_false", help="train in float32 (for a CPU without avx512_bf16)")
    ap.add_argument("--batch", type=int, default=8, help="copy, instruct, sweep: examples per step")
    ap.add_argument("--lr", type=float, default=5e-4, help="copy, instruct: peak learning rate")
    ap.add_argument("--init-from", default="", help="copy, instruct: start the decoder from this stage's checkpoint (e.g. textctl)")
    # import / export
    ap.add_argument("--bundle", default="", help="import: the bundle directory whose weights the run continues from")
    ap.add_argument(
        "--keep-encoder",
        action="store_true",
        help="import: take the bundle's encoder and adapter whatever their shape (the run's encoder follows the bundle's: model.json)",
    )
    ap.add_argument("--out", default="", help="export: the bundle directory (default work/<run>/bundle)")
    ap.add_argument(
        "--context-positions",
        type=int,
        default=0,
        help="export: override the context positions (manifest decoder.contextPositions, the planner's default budget); default: what instruct trained with, read from its checkpoint",
    )
    # align
    ap.add_argument("--freeze-encoder", action="store_true", help="align: train the adapter only (keeps the contrastive encoder)")
    ap.add_argument("--decoder-lr", type=float, default=0.0, help="align: also train the decoder at this peak rate (default 0: frozen)")
    ap.add_argument(
        "--contrast-weight",
        type=float,
        default=0.0,
        help="align, encoder not frozen: weight of the contrastive loss kept alongside reconstruction",
    )
    # instruct: the examples
    ap.add_argument("--max-positions", type=int, default=384, help="instruct: decoder positions per example")
    ap.add_argument(
        "--text-control", action="store_true", help="instruct: pure-text control (names as text, no soft tokens; stage 'textctl')"
    )
    ap.add_argument(
        "--task-mix",
        default="where:5,what:1,params:1,defines:1,summary:1,complete:1",
        help="instruct: the tasks of the soft-token examples as task:weight pairs",
    )
    ap.add_argument(
        "--text-frac", type=float, default=0.0, help="instruct: fraction of pure-text copy examples mixed into the soft-token run"
    )
    ap.add_argument("--extra-questions", type=int, default=0, help="instruct: earlier answered 'where' turns per example")
    ap.add_argument(
        "--extra-names", type=int, default=0, help="instruct: the same for the pure-text copy examples (short: many turns are cheap)"
    )
    ap.add_argument("--recon-frac", type=float, default=0.0, help="instruct: fraction of reconstruction examples")
    ap.add_argument(
        "--recon-by-repo",
        action="store_true",
        help="instruct: reconstruction chunks drawn repository first, by the questions' weights (default: from all chunks)",
    )
    ap.add_argument(
        "--rank-files",
        action="store_true",
        help="instruct: files in order of relevance to the request (best first), as the runtime's planner places them "
        "(with --extra-questions 0 --extra-names 0)",
    )
    ap.add_argument(
        "--rank-noise",
        type=float,
        default=0.0,
        help="instruct, with --rank-files: fraction of training examples left in drawn order (held-out sets stay ranked)",
    )
    ap.add_argument(
        "--retrieved-frac",
        type=float,
        default=0.0,
        help="instruct: fraction of examples in the retrieved row's layout (the top-2 chunks as text, no soft tokens)",
    )
    ap.add_argument(
        "--recap-chunks",
        type=int,
        default=0,
        help="instruct: the encoder's N best chunks for the request repeated after the files, nearest the question "
        "(the runtime repeats them so: manifest decoder.recapChunks)",
    )
    ap.add_argument(
        "--drop-template-docs",
        action="store_true",
        help="instruct: templated module docs (3+ others in the repository open alike) are not summary targets",
    )
    ap.add_argument(
        "--prose-files",
        type=int,
        default=0,
        help="instruct: 'what' and summary examples over 1 file at the leg's start, growing to this many by its end (0: the curriculum)",
    )
    ap.add_argument(
        "--focus-frac",
        type=float,
        default=0.0,
        help="instruct: fraction of 'what' and summary examples whose context is the asked file alone",
    )
    # instruct: objectives mixed into each step
    ap.add_argument("--names-weight", type=float, default=0.0, help="instruct: weight of the bag-of-names objective on soft tokens")
    ap.add_argument("--copy-mix", type=int, default=0, help="instruct: copy-practice sequences (span, gap, span again) per step")
    ap.add_argument(
        "--copy-lead", type=int, default=0, help="instruct: copy practice starts at a random position up to this (0: the sequence start)"
    )
    ap.add_argument("--lm-mix", type=int, default=0, help="instruct: plain-code LM sequences added to each step")
    ap.add_argument("--lm-len", type=int, default=128, help="instruct: length of the --lm-mix sequences")
    ap.add_argument(
        "--file-weight",
        type=float,
        default=0.0,
        help="instruct: weight of the file-binding objective (soft positions predict their file's path)",
    )
    ap.add_argument(
        "--pointer-weight",
        type=float,
        default=0.0,
        help="instruct: weight of the pointer objective (a decoder head attends to the answer chunk's soft tokens)",
    )
    ap.add_argument("--pointer-layer", type=int, default=2, help="instruct: the pointer objective's decoder layer")
    ap.add_argument(
        "--pointer-from",
        default="last",
        choices=["last", "name"],
        help="instruct: the pointer objective's query position (losses.pointer_queries)",
    )
    # sweep
    ap.add_argument("--arms", default="4,16,32", help="sweep: soft tokens per chunk, one arm each")
    ap.add_argument("--eval-every", type=int, default=50, help="sweep: steps between held-out evaluations")
    return ap


def leg_key(a: argparse.Namespace, ap: argparse.ArgumentParser) -> str:
    """The leg's identity: its stage and the settings that differ from their defaults (LEG_IGNORES aside)."""
    return json.dumps(
        {k: v for k, v in sorted(vars(a).items()) if k == "stage" or (k not in LEG_IGNORES and v != ap.get_default(k))}, sort_keys=True
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = parser()
    a = ap.parse_args(argv)
    if a.stage == "instruct":
        from stages.instruct import task_mix

        task_mix(a.task_mix)  # a bad --task-mix fails here, before any data loads
    if a.stage == "sweep":
        from stages.sweep import parse_arms

        parse_arms(a.arms)
    if a.contrast_weight and a.freeze_encoder:
        raise SystemExit(
            "align: --contrast-weight keeps the retrieval space of an encoder that trains; it means nothing with --freeze-encoder"
        )
    a.leg_key = leg_key(a, ap)
    a.stage_name = "textctl" if (a.stage == "instruct" and a.text_control) else a.stage
    return a


def run_leg(a: argparse.Namespace) -> None:
    set_threads(a.threads)
    torch.manual_seed(0)
    random.seed(0)
    module, fn = STAGES[a.stage]
    getattr(importlib.import_module(f"stages.{module}"), fn)(a)


def config_argv(leg: dict, where: str) -> list[str]:
    """A config leg ({stage = "lm", steps = 600, freeze_encoder = true, ...}) as train.py arguments."""
    actions = {x.dest: x for x in parser()._actions}
    argv = [str(leg.get("stage", ""))]
    for key, value in leg.items():
        if key == "stage":
            continue
        action = actions.get(key)
        if action is None or not action.option_strings:
            raise SystemExit(f"{where}: unknown setting {key!r}")
        flag = action.option_strings[0]
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            if not isinstance(value, bool):
                raise SystemExit(f"{where}: {key} is true or false; got {value!r}")
            if value != action.default:
                argv.append(flag)
        else:
            argv += [flag, str(value)]
    return argv


def run_config(path: str, overrides: list[str]) -> None:
    """Every leg of a TOML config in order, each with the command line's settings (--run, --threads, --data,
    --out, --smoke...) added. A config's [model] table is written to the run's model.json (runs.model_configs)."""
    if not Path(path).is_file():
        raise SystemExit(f"train.py run: no config file {path}")
    try:
        config = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as e:
        raise SystemExit(f"{path}: not valid TOML: {e}") from None
    for i, leg in enumerate(config.get("legs", [])):
        if leg.get("stage") not in STAGES:
            raise SystemExit(f"{path}: leg {i + 1} needs a stage, one of {', '.join(sorted(STAGES))}; got {leg.get('stage')!r}")
    # every leg parsed before the first trains: a mistake in the last leg fails now, not hours later
    legs = [parse_args(config_argv(leg, f"{path}: leg {i + 1}") + overrides) for i, leg in enumerate(config.get("legs", []))]
    if not legs:
        raise SystemExit(f"{path}: no [[legs]]")
    if "model" in config:
        from runs import run_dir

        model_json = run_dir(legs[0].run) / "model.json"
        if not model_json.exists():
            model_json.write_text(json.dumps(config["model"]) + "\n")
        elif json.loads(model_json.read_text()) != config["model"]:
            raise SystemExit(
                f"{path}: [model] is {config['model']}, but run {legs[0].run} was built as {model_json.read_text().strip()} ({model_json})"
            )
    for a in legs:
        run_leg(a)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        if len(argv) < 2:
            raise SystemExit("usage: train.py run CONFIG.toml [--run R] [--threads T] [--data DIR] [--out DIR] [--smoke]")
        run_config(argv[1], argv[2:])
    else:
        run_leg(parse_args(argv))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
