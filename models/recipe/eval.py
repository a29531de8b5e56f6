"""Evaluation rows on held-out repositories with the same decoder for every row (the recipe-side version of
`e2code eval`): no context / truncated text / top-k retrieved text / soft tokens / hybrid, per task.
Metrics: where -> exact path:line and path; what/summary -> ROUGE-L; params/defines/complete -> exact
match (+ edit similarity for complete); decoder positions used. Also reconstruction token accuracy.

  python eval.py --run default [--n 40] [--out FILE]   (default work/<run>/eval.json)
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from common import CHAT_TEMPLATE as CHAT
from common import set_threads
from data import build_example, load_files, variant
from batches import Ranker, TokCache, assemble, batch_soft, greedy_answers, rouge_l
from runs import context_order, data_dir, latest_modules, load_tokenizer, run_dir

ROWS = ["none", "truncated", "retrieved", "soft", "hybrid"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="default")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--topk", type=int, default=2)
    ap.add_argument("--tasks", default="where,what,params,complete")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="", help="where the rows go (default work/<run>/eval.json)")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--data", default="")
    a = ap.parse_args()
    set_threads(a.threads)
    t0 = time.time()
    dev = torch.device("cpu")
    tok = load_tokenizer(a.run)
    toks = TokCache(tok)
    dec, enc, ad, record = latest_modules(a)
    dec.eval()
    enc.eval()
    ad.eval()
    held = load_files(data_dir(a) / "heldout.jsonl")
    stop = {toks(CHAT["endOfTurn"])[0], tok.token_to_id("<|endoftext|>")}
    results: dict = {"run": a.run, "modules": record, "files_per_question": a.files, "topk": a.topk, "tasks": {}}
    cache: dict = {}
    # Files in the order the run trained with (relevance: the encoder's ranking, best first, as the product places them).
    ranker = Ranker(enc, toks, dev, cache)
    results["context_order"] = context_order(a.run)
    order = ranker.files if results["context_order"] == "relevance" else None
    for task in a.tasks.split(","):
        rng = random.Random(sum(map(ord, task)))
        exs = []
        names = sorted(held)
        while len(exs) < a.n:
            ex = build_example(
                rng,
                held[rng.choice(names)],
                n_files=a.files,
                max_positions=512,
                soft_per_chunk=ad.cfg.soft_tokens_per_chunk,
                task=task,
                relabel=False,
                text_mode="soft",
                hybrid_prob=0.0,
                order=order,
            )
            if ex is not None:
                exs.append(ex)
        rows = {}
        for mode in ROWS:
            vs = []
            for ex in exs:
                ranked = None
                if mode == "retrieved":
                    ranked = ranker.chunks(ex.meta["request"], ex.meta["files"])[: a.topk]
                vs.append(variant(ex, mode, ranked_chunks=ranked, max_text_positions=400, count_tokens=lambda s: len(toks(s))))
            with torch.no_grad():
                soft, offs = batch_soft(vs, enc, ad, toks, dev, enc.cfg.max_tokens, grad=False, cache=cache)
                preds = greedy_answers(vs, toks, dec, soft, offs, dev, 24, stop)
                positions = [assemble([v], toks, dec, soft, [o], 0, dev)[2][0][0] for v, o in zip(vs, offs)]
            em = [float(p.strip() == v.answer.strip()) for p, v in zip(preds, vs)]
            row = {"exact": round(float(np.mean(em)), 4), "positions_mean": round(float(np.mean(positions)), 1)}
            if task == "where":
                row["path"] = round(float(np.mean([p.strip().split(":")[0] == v.answer.split(":")[0] for p, v in zip(preds, vs)])), 4)
            if task in ("what", "summary"):
                row["rougeL"] = round(float(np.mean([rouge_l(p, v.answer) for p, v in zip(preds, vs)])), 4)
            if task == "complete":
                row["edit_sim"] = round(
                    float(np.mean([difflib.SequenceMatcher(None, p.strip(), v.answer.strip()).ratio() for p, v in zip(preds, vs)])), 4
                )
            row["examples"] = [[vs[i].meta["request"][:80], preds[i][:80], vs[i].answer[:80]] for i in range(min(3, len(vs)))]
            rows[mode] = row
            print(json.dumps({"task": task, "row": mode, **{k: v for k, v in row.items() if k != "examples"}}), flush=True)
        results["tasks"][task] = {"n": len(exs), "rows": rows}
    results["wall_s"] = round(time.time() - t0, 1)
    out = Path(a.out) if a.out else run_dir(a.run) / "eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
