"""Where held-out lookup fails: probes of a run's latest checkpoints (no training, a minute on 2 threads).

    .venv/bin/python diagnose.py --run default [--n 200] [--mode soft|names] [--task where|what] [--data DIR]

- retrieval: ranking a question's chunks by the encoder's retrieval vectors, is a chunk of the right file
  first? (the bare name as query, and the whole question) - what the encoder already knows;
- lookup: the decoder's greedy "where" answers on the recipe's held-out set (4 files), by the index of the
  answer's file in the prompt and by the position of its header, with the confusion (gold file, answered file);
- answer chunk: ranking the question's chunks by the whole question, is the defining chunk first? in the
  encoder's space, in the soft tokens' space, and the first soft token against the name's token embeddings
  (what the bag-of-names objective trains); and each decoder head's attention mass on that chunk's soft
  tokens (what the pointer objective trains); with --task what, the same two rankings for "what does X do"
  questions, and nothing after them;
- copy: held-out copy token accuracy with the copy pattern starting at position 0, 100, 200, 300.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batches as B  # noqa: E402
from common import CHAT_TEMPLATE, set_threads  # noqa: E402
from losses import pointer_queries  # noqa: E402
from runs import run_dir  # noqa: E402


def bucket(rows, key, edges):
    out = {}
    for lo, hi in zip(edges, edges[1:]):
        sel = [r["ok"] for r in rows if lo <= r[key] < hi]
        if sel:
            out[f"{lo}-{hi}"] = (len(sel), round(float(np.mean(sel)), 3))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="default")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--mode", default="soft", choices=["soft", "names"])
    ap.add_argument("--task", default="where", choices=["where", "what"])
    ap.add_argument("--data", default="")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    set_threads(a.threads)
    a.smoke = False
    dev = torch.device("cpu")
    tok, toks, held, dec, enc, ad, _ = B.probe_state(a)
    exs = B.heldout_instruct_set(held, a.n, ad.cfg.soft_tokens_per_chunk, a.mode, 0.0, 4, 21, [a.task])

    with torch.no_grad():
        # retrieval by the encoder alone
        hits = {"name": [], "question": []}
        for ex in exs:
            owner = [f.path for f in ex.meta["files"] for _ in f.chunks]
            texts = [c["text"] for f in ex.meta["files"] for c in f.chunks]
            P = enc.retrieval(B.encode_chunks(enc, toks, texts, dev, enc.cfg.max_tokens))
            for kind, q in (("name", ex.meta["def"]["name"]), ("question", ex.meta["request"])):
                Q = enc.retrieval(B.encode_chunks(enc, toks, [q], dev, 32))
                hits[kind].append(owner[int((Q @ P.T)[0].argmax())] == ex.meta["file"])
        print({"retrieval_top1_file": {k: round(float(np.mean(v)), 3) for k, v in hits.items()}})

        # the same at the level of the answer's chunk (the one that defines the name), by the whole question:
        # in the encoder's retrieval space, and in the adapter's output (the soft tokens the decoder sees)
        ranks = {"encoder": [], "soft_tokens": [], "first_soft_token_vs_name_embeddings": []}
        E = F.normalize(dec.embed.weight.float(), dim=-1)
        cache: dict = {}  # the chunks' vectors, encoded once here and reused for the soft tokens below
        for ex in exs:
            if "def_chunk" not in ex.meta:
                continue
            V = B.cached_vectors(enc, toks, ex.chunk_texts, dev, enc.cfg.max_tokens, cache)
            Q = B.encode_chunks(enc, toks, [ex.meta["request"]], dev, enc.cfg.max_tokens)
            S, SQ = ad(V), ad(Q)
            name_ids = toks(" " + ex.meta["def"]["name"])
            for kind, sims in (
                ("encoder", enc.retrieval(V) @ enc.retrieval(Q)[0]),
                ("soft_tokens", F.normalize(S.flatten(1), dim=-1) @ F.normalize(SQ.flatten(1), dim=-1)[0]),
                ("first_soft_token_vs_name_embeddings", F.normalize(S[:, 0], dim=-1) @ E[name_ids].mean(0)),
            ):
                ranks[kind].append(sims.argsort(descending=True).tolist().index(ex.meta["def_chunk"]))
        print(
            {
                "answer_chunk_by_question": {
                    k: {f"top{n}": round(float(np.mean([r < n for r in v])), 3) for n in (1, 2, 3, 4)} for k, v in ranks.items()
                },
                "chunks_per_question": round(float(np.mean([len(ex.chunk_texts) for ex in exs])), 1),
                "answer_chunk_index_median": float(np.median([ex.meta["def_chunk"] for ex in exs if "def_chunk" in ex.meta])),
            }
        )
        if a.task != "where":
            return

        # the decoder's lookup, broken down by where the answer's file sits
        soft, offs = B.batch_soft(exs, enc, ad, toks, dev, enc.cfg.max_tokens, grad=False, cache=cache)
        stop = {toks(CHAT_TEMPLATE["endOfTurn"])[0], tok.token_to_id("<|endoftext|>")}
        preds = B.greedy_answers(exs, toks, dec, soft, offs, dev, 24, stop)
        rows, confusion = [], collections.Counter()
        for ex, p in zip(exs, preds):
            labels = [ex.meta["labels"][f.path] for f in ex.meta["files"]]
            gold = labels.index(ex.meta["labels"][ex.meta["file"]])
            pos, header = 0, {}
            for kind, val in ex.segments:
                if kind == "soft":
                    pos += ad.cfg.soft_tokens_per_chunk
                    continue
                if val.startswith(B._FILE_PREFIX):
                    header[val[len(B._FILE_PREFIX) :].removesuffix("\n")] = pos
                pos += len(toks(val))
            ok = p.strip() == ex.answer.strip()
            rows.append({"ok": ok, "file_index": gold, "header_pos": header[labels[gold]], "files": len(labels)})
            if len(labels) == 4:
                confusion[(gold, labels.index(p.strip()) if p.strip() in labels else -1)] += 1
        print(
            {
                "lookup": round(float(np.mean([r["ok"] for r in rows])), 3),
                "mode": a.mode,
                "n": len(rows),
                "by_file_index": bucket(rows, "file_index", [0, 1, 2, 3, 4, 9]),
                "by_header_position": bucket(rows, "header_pos", [0, 128, 256, 384, 2048]),
                "four_files_gold_vs_answered": sorted(confusion.items()),
            }
        )

        # does any decoder head attend to the answer chunk's soft tokens (the pointer objective's target), from
        # the last prompt position or from the asked name? mean attention mass per (layer, head); uniform ~ 4/positions
        embeds, _, spans, _ = B.assemble(exs, toks, dec, soft, offs, 0, dev)
        rows_with = [i for i, sp in enumerate(spans) if sp[2]]
        for query in ("last", "name"):
            qpos = pointer_queries(spans, query, dev)
            mass = {}
            for layer in range(dec.cfg.num_layers):
                for head in range(dec.cfg.num_heads):
                    _, logp = dec(embeds, return_hidden=True, probe=(layer, head, qpos))
                    mass[f"L{layer}H{head}"] = round(float(np.mean([float(logp[i, spans[i][2]].exp().sum()) for i in rows_with])), 3)
            print(
                {
                    "answer_chunk_attention_mass_from": query,
                    "uniform": round(float(np.mean([4 / spans[i][0] for i in rows_with])), 3),
                    **mass,
                }
            )

        ids = B.lm_stream(tok, "heldout", run_dir(a.run) / "lm_heldout.npy", False)  # built (and cached) if the run lacks it
        print({"copy_token_acc_by_start": {lead: B.copy_accuracy(dec, ids, dev, lead) for lead in (0, 100, 200, 300)}})


if __name__ == "__main__":
    main()
