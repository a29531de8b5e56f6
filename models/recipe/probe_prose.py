"""Does the decoder read prose from soft tokens? Held-out "what" and summary questions (distinct), with the
files as soft tokens (best first, as the runtime places them, then the run's recap), with another question's
soft tokens (shuffled control), and with no context: ROUGE-L of each row and paired 95% bootstrap intervals.
No training; about a minute per --files value on 2 threads.

    .venv/bin/python probe_prose.py --run r14 --data work/data2 --files 1 4

With --files 1 the context is the asked file alone (the reading half of the task); with 4 it is the
product evaluation's setting (lookup and reading together).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batches as B  # noqa: E402
from common import CHAT_TEMPLATE, set_threads  # noqa: E402
from runs import recap_chunks  # noqa: E402
from data import variant  # noqa: E402


def ci95(d: np.ndarray) -> list[float]:
    rng = np.random.default_rng(0)
    boots = [rng.choice(d, len(d)).mean() for _ in range(2000)]
    return [round(float(np.percentile(boots, 2.5)), 4), round(float(np.percentile(boots, 97.5)), 4)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--data", default="")
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--files", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    set_threads(a.threads)
    a.smoke = False
    dev = torch.device("cpu")
    tok, toks, held, dec, enc, ad, record = B.probe_state(a)
    stop = {toks(CHAT_TEMPLATE["endOfTurn"])[0], tok.token_to_id("<|endoftext|>")}
    cache: dict = {}
    ranker = B.Ranker(enc, toks, dev, cache)
    order = ranker.files
    recap = {"rank": ranker.chunks, "recap_chunks": recap_chunks(a.run)}  # as the run trained (--recap-chunks)
    out: dict = {"run": a.run, "decoder": record["decoder"]}
    with torch.no_grad():
        for nf in a.files:
            for task in ("what", "summary"):
                exs = B.heldout_instruct_set(held, a.n, ad.cfg.soft_tokens_per_chunk, "soft", 0.0, nf, 41, [task], order, **recap)
                soft, offs = B.batch_soft(exs, enc, ad, toks, dev, enc.cfg.max_tokens, grad=False, cache=cache)
                rows = {
                    "soft": B.greedy_answers(exs, toks, dec, soft, offs, dev, 24, stop),
                    "shuffled": B.greedy_answers(exs, toks, dec, B.shuffled_soft(soft), offs, dev, 24, stop),
                    "none": B.greedy_answers([variant(e, "none") for e in exs], toks, dec, None, [0] * len(exs), dev, 24, stop),
                }
                sc = {k: np.array([B.score(task, p, e.answer) for e, p in zip(exs, preds)]) for k, preds in rows.items()}
                res = {"n": len(exs), **{k: round(float(v.mean()), 4) for k, v in sc.items()}}
                for other in ("none", "shuffled"):
                    d = sc["soft"] - sc[other]
                    res[f"soft_minus_{other}"] = {"diff": round(float(d.mean()), 4), "ci95": ci95(d)}
                out[f"{task}_files{nf}"] = res
                print(json.dumps({f"{task}_files{nf}": res}), flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
