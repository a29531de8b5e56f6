"""Compression sweep (issue 21): does the decoder read its soft tokens when each carries less?

One arm per soft-token count per chunk (`--arms 4,16,32`: 32x, 8x, 4x compression of a 128-token chunk).
Every arm starts from the run's latest decoder and encoder trunk (after `train.py import --keep-encoder`:
the shipped bundle's); the pooling queries and the adapter are new. The encoder pools as many vectors as the
arm has soft tokens and the adapter maps each vector to one soft token: mapping 4 vectors to 32 soft tokens
would keep the bottleneck at 4 x 192 numbers in every arm, so the arms would not differ in what the soft
tokens can carry. Objective: E2LLM reconstruction alone (the decoder regenerates the whole chunk from its
own soft tokens); encoder, queries, adapter and decoder all train. Same data and batch per arm, and the same
budget: `--steps` each, or with `--minutes M` M minutes of training wall time each (held-out evaluation not
counted; the learning rate then decays over the time budget, not over steps).

Every `--eval-every` steps: held-out reconstruction token accuracy (teacher forced) with the chunk's own soft
tokens and with another chunk's (shuffled control); at the end also with none (the same prompt without
the soft tokens), with 95% bootstrap intervals over chunks. Rows go to work/<run>/sweep.jsonl; each arm
checkpoints to work/<run>/sweep-<N>.pt and resumes from it; a finished arm is skipped.
"""

from __future__ import annotations

import dataclasses
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from batches import TokCache, assemble, encode_chunks
from common import Clock, MetricLog, device, load_ckpt, save_ckpt
from data import Example, load_files, reconstruction_example
from loop import amp, lr_at, lr_at_fraction, optimize
from model import Adapter, AdapterConfig, Decoder, Encoder, config_dict
from runs import data_dir, latest_modules, load_tokenizer, run_dir

# Peak rates: the new parameters (pooling queries, adapter) fast; the pretrained encoder trunk and decoder
# slower (the eighth session's align run that first made the decoder read: encoder 2e-4, decoder 3e-4).
LR_NEW, LR_ENCODER, LR_DECODER = 1e-3, 2e-4, 3e-4


def parse_arms(spec: str) -> list[int]:
    try:
        arms = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        arms = []
    if not arms or any(n < 1 for n in arms):
        raise SystemExit(f"sweep: --arms wants soft-token counts per chunk like 4,16,32; got {spec!r}")
    return arms


def arm_modules(base_dec: Decoder, base_enc: Encoder, base_ad: Adapter, n: int, seed: int) -> tuple[Decoder, Encoder, Adapter]:
    """The arm's modules: the base decoder and encoder trunk as they are, n new pooling queries, a new adapter."""
    torch.manual_seed(seed)
    dec = Decoder(base_dec.cfg)
    dec.load_state_dict(base_dec.state_dict())
    enc = Encoder(dataclasses.replace(base_enc.cfg, vectors_per_chunk=n))
    trunk = {k: v for k, v in base_enc.state_dict().items() if k != "queries"}
    missing, unexpected = enc.load_state_dict(trunk, strict=False)
    assert missing == ["queries"] and not unexpected, (missing, unexpected)
    ad = Adapter(
        AdapterConfig(
            in_size=base_enc.cfg.hidden_size,
            vectors_per_chunk=n,
            out_size=base_dec.cfg.hidden_size,
            soft_tokens_per_chunk=n,
            hidden_size=base_ad.cfg.hidden_size,
        )
    )
    return dec, enc, ad


def without_soft(ex: Example) -> Example:
    """The no-context row: the same prompt (file header, request) with the soft tokens left out."""
    return dataclasses.replace(ex, segments=[s for s in ex.segments if s[0] != "soft"], chunk_texts=[])


def chunk_soft(enc: Encoder, ad: Adapter, toks: TokCache, exs: list[Example], dev) -> torch.Tensor:
    """Soft tokens [N, k, H] of the examples' chunks (one chunk per reconstruction example)."""
    return ad(encode_chunks(enc, toks, [ex.chunk_texts[0] for ex in exs], dev, enc.cfg.max_tokens))


@torch.no_grad()
def reconstruction_counts(dec, enc, ad, toks, exs: list[Example], target: int, dev, rows=("own", "shuffled")) -> dict[str, np.ndarray]:
    """Per chunk: [correct, counted] target tokens (teacher forced) for each row. own: the chunk's soft tokens;
    shuffled: the next chunk's (each chunk gets another chunk's soft tokens); none: no soft tokens."""
    dec.eval()
    enc.eval()
    ad.eval()
    soft = torch.cat([chunk_soft(enc, ad, toks, exs[i : i + 64], dev) for i in range(0, len(exs), 64)])
    shuffled = torch.roll(soft, 1, 0)
    out = {}
    for row in rows:
        counts = []
        for i in range(0, len(exs), 16):
            part = exs[i : i + 16]
            if row == "none":
                embeds, tg, _, _ = assemble([without_soft(ex) for ex in part], toks, dec, None, [0] * len(part), target, dev)
            else:
                embeds, tg, _, _ = assemble(part, toks, dec, soft if row == "own" else shuffled, list(range(i, i + len(part))), target, dev)
            m = tg != -100
            hit = (dec(embeds).argmax(-1) == tg) & m
            counts.append(torch.stack([hit.sum(1), m.sum(1)], 1).cpu().numpy())
        out[row] = np.concatenate(counts)
    dec.train()
    enc.train()
    ad.train()
    return out


def accuracy(c: np.ndarray) -> float:
    return float(c[:, 0].sum() / max(1, c[:, 1].sum()))


def gap_interval(a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0) -> list[float]:
    """95% bootstrap interval (resampling chunks, paired) of accuracy(a) - accuracy(b)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (n_boot, len(a)))
    gaps = a[idx, 0].sum(1) / a[idx, 1].sum(1) - b[idx, 0].sum(1) / b[idx, 1].sum(1)
    return [round(float(np.percentile(gaps, 2.5)), 4), round(float(np.percentile(gaps, 97.5)), 4)]


def run_arm(a, n: int, base, toks, train_items, held_periodic, held_final, log: MetricLog, target: int) -> None:
    rd = run_dir(a.run)
    path = rd / f"sweep-{n}.pt"
    ck = load_ckpt(path)
    if ck and ck.get("finished"):
        print(f"sweep: arm {n} finished earlier (step {ck['step']}); skipped", flush=True)
        return
    dev = device()
    dec, enc, ad = (m.to(dev) for m in arm_modules(*base, n, seed=1000 + n))
    trunk = [p for k, p in enc.named_parameters() if k != "queries"]
    opt = torch.optim.AdamW(
        [
            {"params": [enc.queries, *ad.parameters()], "lr": LR_NEW},
            {"params": trunk, "lr": LR_ENCODER},
            {"params": dec.parameters(), "lr": LR_DECODER},
        ],
        weight_decay=0.0,
    )
    peaks = [g["lr"] for g in opt.param_groups]
    step, clock, eval_s, cpu0 = 0, Clock(), 0.0, time.process_time()
    if ck:
        dec.load_state_dict(ck["decoder"])
        enc.load_state_dict(ck["encoder"])
        ad.load_state_dict(ck["adapter"])
        opt.load_state_dict(ck["opt"])
        step, clock, eval_s, cpu0 = ck["step"], Clock(ck["wall_s"]), ck["eval_s"], time.process_time() - ck["cpu_s"]
    total = a.steps
    budget_s = a.minutes * 60 if a.minutes else 0.0
    params = [p for g in opt.param_groups for p in g["params"]]
    state = lambda: {
        "decoder": dec.state_dict(),
        "encoder": enc.state_dict(),
        "adapter": ad.state_dict(),
        "opt": opt.state_dict(),
        "configs": {"decoder": config_dict(dec.cfg), "encoder": config_dict(enc.cfg), "adapter": config_dict(ad.cfg)},
    }
    row0 = {"arm": n, "compression": round(enc.cfg.max_tokens / n, 2), "batch": a.batch}
    row0 |= {"budget_min": a.minutes} if budget_s else {"total_steps": total}
    train_s = lambda: clock.elapsed() - eval_s

    def more() -> bool:
        return train_s() < budget_s if budget_s else step < total

    def lr(peak: float) -> float:
        return lr_at_fraction(step, train_s() / budget_s, peak, 20) if budget_s else lr_at(step, total, peak, 20)

    def evaluate(final: bool) -> dict:
        nonlocal eval_s
        t = Clock()
        exs = held_final if final else held_periodic
        c = reconstruction_counts(dec, enc, ad, toks, exs, target, dev, ("own", "shuffled", "none") if final else ("own", "shuffled"))
        res = {"own": round(accuracy(c["own"]), 4), "shuffled": round(accuracy(c["shuffled"]), 4), "chunks": len(exs)}
        res["gap"] = round(res["own"] - res["shuffled"], 4)
        if final:
            res |= {
                "none": round(accuracy(c["none"]), 4),
                "gap_ci95": gap_interval(c["own"], c["shuffled"]),
                "own_minus_none": round(res["own"] - accuracy(c["none"]), 4),
                "own_minus_none_ci95": gap_interval(c["own"], c["none"]),
            }
        eval_s += t.elapsed()
        return res

    if step == 0:
        log.write({**row0, "step": 0, "wall_s": 0.0, **evaluate(final=False)})
    rng = random.Random(17 + step)
    goal = f"{a.minutes:g} minutes of training" if budget_s else f"{total} steps"
    print(f"sweep: arm {n} soft tokens per chunk from step {step}, for {goal}", flush=True)
    while more():
        exs = [reconstruction_example(rng, f, c, target) for f, c in rng.sample(train_items, a.batch)]
        for g, peak in zip(opt.param_groups, peaks):
            g["lr"] = lr(peak)
        with amp(a):
            soft = chunk_soft(enc, ad, toks, exs, dev)
            embeds, tg, _, _ = assemble(exs, toks, dec, soft, list(range(len(exs))), target, dev)
            h = dec(embeds, return_hidden=True)
            m = tg != -100
            loss = F.cross_entropy(dec.logits(h[m]).float(), tg[m])
        optimize(opt, loss, params)
        step += 1
        if step % a.eval_every == 0 and more():
            res = evaluate(final=False)
            log.write(
                {
                    **row0,
                    "step": step,
                    "wall_s": round(clock.elapsed(), 1),
                    "eval_s": round(eval_s, 1),
                    "cpu_s": round(time.process_time() - cpu0, 1),
                    "train_loss": round(loss.item(), 4),
                    **res,
                }
            )
            save_ckpt(path, {**state(), "step": step, "wall_s": clock.elapsed(), "eval_s": eval_s, "cpu_s": time.process_time() - cpu0})
    res = evaluate(final=True)
    log.write(
        {
            **row0,
            "step": step,
            "wall_s": round(clock.elapsed(), 1),
            "eval_s": round(eval_s, 1),
            "cpu_s": round(time.process_time() - cpu0, 1),
            "event": "final",
            **res,
        }
    )
    save_ckpt(
        path, {**state(), "step": step, "wall_s": clock.elapsed(), "eval_s": eval_s, "cpu_s": time.process_time() - cpu0, "finished": True}
    )


def run(a) -> None:
    arms = parse_arms(a.arms)
    if a.steps < 1 or a.eval_every < 1:
        raise SystemExit("sweep: --steps and --eval-every must be positive")
    toks = TokCache(load_tokenizer(a.run))
    dd = data_dir(a)
    train, held = load_files(dd / "train.jsonl"), load_files(dd / "heldout.jsonl")
    base_dec, base_enc, base_ad, record = latest_modules(a)
    print(f"sweep: arms {arms} from {record}", flush=True)
    target = base_enc.cfg.max_tokens  # the whole chunk: the encoder reads at most this many tokens of it
    train_items = [(f, c) for files in train.values() for f in files for c in f.chunks]
    held_items = [(f, c) for files in held.values() for f in files for c in f.chunks]
    erng = random.Random(3)
    drawn = erng.sample(held_items, min(len(held_items), 8 if a.smoke else 256))
    held_final = [reconstruction_example(erng, f, c, target) for f, c in drawn]
    held_periodic = held_final[: 8 if a.smoke else 64]
    log = MetricLog(run_dir(a.run) / "sweep.jsonl")
    for n in arms:
        run_arm(a, n, (base_dec, base_enc, base_ad), toks, train_items, held_periodic, held_final, log, target)
