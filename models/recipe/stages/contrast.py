"""Stage contrast: the encoder learns to rank chunks by name, InfoNCE between a definition's name (+ doc) and its chunk."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from batches import TokCache, encode_chunks
from common import MetricLog, device
from loop import Leg, amp, finish_stage, leg_finished, log_and_save, lr_at, optimize, resume
from runs import data_dir, load_tokenizer, run_dir, stage_state


def contrast_pairs(repos, rng: random.Random, with_doc: bool = True) -> list[tuple[str, str]]:
    from data import def_chunk, good_name

    pairs = []
    for files in repos.values():
        for f in files:
            for d in f.defs:
                c = def_chunk(f, d) if good_name(d) else None
                if c is None:
                    continue
                q = d["name"]
                if with_doc and d["doc"] and rng.random() < 0.5:
                    q += " " + d["doc"]
                pairs.append((q, c["text"]))
    return pairs


def contrast_eval_set(held, n_chunks: int, seed: int = 7):
    """Fixed held-out retrieval set: name queries against a pool of held-out chunks."""
    from data import def_chunk, good_name

    rng = random.Random(seed)
    chunks, queries = [], []
    for files in held.values():
        for f in files:
            for c in f.chunks:
                chunks.append(c["text"])
            for d in f.defs:
                c = def_chunk(f, d) if good_name(d) else None
                if c is not None:
                    queries.append((d["name"], c["text"]))
    rng.shuffle(chunks)
    pool = chunks[:n_chunks]
    pool_set = set(pool)
    qs = [q for q in queries if q[1] in pool_set]
    rng.shuffle(qs)
    return pool, qs[:200]


def retrieval_metrics(enc, toks, pool: list[str], queries: list[tuple[str, str]], dev) -> dict:
    """Held-out name -> chunk retrieval by the vectors the runtime ranks with (top-1, top-5 among the pool)."""
    enc.eval()
    with torch.no_grad():
        P = torch.cat([enc.retrieval(encode_chunks(enc, toks, pool[i : i + 64], dev, enc.cfg.max_tokens)) for i in range(0, len(pool), 64)])
        Q = enc.retrieval(encode_chunks(enc, toks, [q for q, _ in queries], dev, 32))
        gold = torch.tensor([pool.index(t) for _, t in queries], device=dev)
        rank = (Q @ P.T).argsort(-1, descending=True)
        top1 = (rank[:, 0] == gold).float().mean().item()
        top5 = (rank[:, :5] == gold[:, None]).any(-1).float().mean().item()
    enc.train()
    return {"heldout_retrieval_top1": round(top1, 4), "heldout_retrieval_top5": round(top5, 4), "pool": len(pool)}


def contrastive_loss(enc, toks, pairs: list[tuple[str, str]], dev, autocast) -> torch.Tensor:
    """InfoNCE both ways between name (+ doc) queries and their chunks, the batch's other chunks as negatives."""
    with autocast:
        q = enc.retrieval(encode_chunks(enc, toks, [x for x, _ in pairs], dev, 32).float())
        k = enc.retrieval(encode_chunks(enc, toks, [y for _, y in pairs], dev, enc.cfg.max_tokens).float())
    logits = q @ k.T / 0.05
    labels = torch.arange(len(pairs), device=dev)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def run(a) -> None:
    from data import load_files

    rd = run_dir(a.run)
    if leg_finished(a, rd / f"{a.stage_name}.pt"):
        return
    dev = device()
    tok = load_tokenizer(a.run)
    toks = TokCache(tok)
    dd = data_dir(a)
    train, held = load_files(dd / "train.jsonl"), load_files(dd / "heldout.jsonl")
    rng = random.Random(5)
    pairs = contrast_pairs(train, rng)
    pool, queries = contrast_eval_set(held, 64 if a.smoke else 400)
    _, enc, _, ck = stage_state(rd, "contrast", a, dev)
    opt = torch.optim.AdamW(enc.parameters(), lr=1e-3, weight_decay=0.01)
    step, clock = resume(ck, opt, encoder=enc)
    log = MetricLog(rd / "metrics.jsonl")
    total = a.steps or (10 if a.smoke else 600)
    batch = 8 if a.smoke else 48
    print(f"contrast: {len(pairs)} training pairs, eval {len(queries)} queries over {len(pool)} held-out chunks", flush=True)

    def evaluate() -> dict:
        return retrieval_metrics(enc, toks, pool, queries, dev)

    if step == 0 and not a.smoke:
        log.write({"stage": "contrast", "step": 0, "wall_s": 0.0, **evaluate()})
    leg = Leg(a, ck, clock)
    prng = random.Random(11 + step)
    state = lambda: {"encoder": enc.state_dict(), "opt": opt.state_dict(), **leg.record()}
    while step < total and clock.elapsed() < leg.deadline:
        bt = prng.sample(pairs, batch)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, 1e-3, 20)
        loss = contrastive_loss(enc, toks, bt, dev, amp(a))
        optimize(opt, loss, enc.parameters())
        step += 1
        log_and_save(a, log, "contrast", step, total, clock, loss, evaluate, rd / "contrast.pt", state)
    finish_stage(log, "contrast", step, clock, evaluate, rd / "contrast.pt", state, leg)
