"""Stage align: E2LLM 'understanding', the decoder regenerates a chunk from its soft tokens (adapter, optionally encoder and decoder)."""

from __future__ import annotations

import random

import torch

from batches import TokCache, assemble, batch_soft
from common import CHAT_TEMPLATE as CHAT
from common import Clock, MetricLog, device
from loop import Leg, amp, finish_stage, leg_finished, log_and_save, lr_at, optimize
from losses import answer_loss
from runs import data_dir, load_tokenizer, run_dir, stage_state
from stages.contrast import contrast_eval_set, contrast_pairs, contrastive_loss, retrieval_metrics


def run(a) -> None:
    """Adapter (+ encoder at a lower rate) learn to make soft tokens the frozen decoder can read back.

    The decoder is frozen: it already models this code (stage 1), and freezing keeps that while the soft
    tokens move into its embedding space; it also makes the stage ~2x cheaper (no decoder optimiser state).
    """
    from data import load_files, reconstruction_example

    rd = run_dir(a.run)
    if leg_finished(a, rd / f"{a.stage_name}.pt"):
        return
    dev = device()
    toks = TokCache(load_tokenizer(a.run))
    dd = data_dir(a)
    train, held = load_files(dd / "train.jsonl"), load_files(dd / "heldout.jsonl")
    dec, enc, ad, ck = stage_state(rd, "align", a, dev)
    for p in dec.parameters():  # frozen unless --decoder-lr (E2LLM tunes the decoder too, with LoRA)
        p.requires_grad_(a.decoder_lr > 0)
    if a.freeze_encoder:  # keep the contrastive encoder's retrieval space; vectors are then computed once and cached
        for p in enc.parameters():
            p.requires_grad_(False)
    enc_lr = 0.0 if a.freeze_encoder else 2e-4
    groups = [{"params": ad.parameters(), "lr": 1e-3}, {"params": enc.parameters(), "lr": enc_lr}]
    if a.decoder_lr > 0:  # a third group only then: a checkpoint of a frozen-decoder run keeps its optimiser layout
        groups.append({"params": dec.parameters(), "lr": a.decoder_lr})
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    peaks = [g["lr"] for g in groups]
    vec_cache: dict | None = {} if a.freeze_encoder else None
    step, clock = 0, Clock()
    if ck:
        enc.load_state_dict(ck["encoder"])
        ad.load_state_dict(ck["adapter"])
        try:
            opt.load_state_dict(ck["opt"])
        except ValueError:  # a leg with --decoder-lr after one without: the groups differ
            print("align: optimiser state not reused (this leg trains other parameters)", flush=True)
        if "decoder" in ck:
            dec.load_state_dict(ck["decoder"])
        step = ck["step"]
        clock = Clock(ck["wall_s"])
    log = MetricLog(rd / "metrics.jsonl")
    total = a.steps or (10 if a.smoke else 800)
    batch, target = (4, 16) if a.smoke else (16, 48)
    train_items = [(f, c) for files in train.values() for f in files for c in f.chunks]
    held_items = [(f, c) for files in held.values() for f in files for c in f.chunks]
    erng = random.Random(3)
    held_eval = [reconstruction_example(erng, f, c, target) for f, c in erng.sample(held_items, min(len(held_items), 8 if a.smoke else 64))]
    eos = {toks(CHAT["endOfTurn"])[0]}
    pairs = contrast_pairs(train, random.Random(5)) if a.contrast_weight and not a.freeze_encoder else []
    # Training the encoder here moves the vectors the runtime also ranks by: retrieval is watched too.
    retrieval_set = None if a.freeze_encoder else contrast_eval_set(held, 64 if a.smoke else 400)

    def evaluate() -> dict:
        enc.eval()
        ad.eval()
        with torch.no_grad():
            # The control: each chunk's code regenerated from another chunk's soft tokens. What the decoder
            # gets right from its own code model alone, both rows share; the difference is read from the soft tokens.
            correct = {"own": 0, "shuffled": 0}
            count = 0
            for i in range(0, len(held_eval), 16):
                exs = held_eval[i : i + 16]
                soft, offs = batch_soft(exs, enc, ad, toks, dev, enc.cfg.max_tokens, grad=True)
                perm = torch.roll(torch.arange(soft.shape[0], device=soft.device), 1)  # one chunk per example
                for key, s in (("own", soft), ("shuffled", soft[perm])):
                    embeds, tg, _, _ = assemble(exs, toks, dec, s, offs, target, dev)
                    m = tg != -100
                    correct[key] += (dec(embeds).argmax(-1)[m] == tg[m]).sum().item()
                count += m.sum().item()
        enc.train()
        ad.train()
        retrieval = retrieval_metrics(enc, toks, *retrieval_set, dev) if retrieval_set else {}
        return {
            "heldout_recon_token_acc": round(correct["own"] / count, 4),
            "heldout_recon_token_acc_shuffled": round(correct["shuffled"] / count, 4),
            **retrieval,
        }

    if step == 0 and not a.smoke:
        log.write({"stage": "align", "step": 0, "wall_s": 0.0, **evaluate()})
    leg = Leg(a, ck, clock)
    rng = random.Random(17 + step)
    # The decoder is saved only when this stage trains it (then the later stages start from it).
    state = lambda: {
        "encoder": enc.state_dict(),
        "adapter": ad.state_dict(),
        "opt": opt.state_dict(),
        **({"decoder": dec.state_dict()} if a.decoder_lr > 0 else {}),
        **leg.record(),
    }
    dec.eval()  # no dropout anyway
    while step < total and clock.elapsed() < leg.deadline:
        exs = [reconstruction_example(rng, f, c, target) for f, c in rng.sample(train_items, batch)]
        for g, peak in zip(opt.param_groups, peaks):
            g["lr"] = lr_at(step, total, peak, 20)
        with amp(a):
            soft, offs = batch_soft(exs, enc, ad, toks, dev, enc.cfg.max_tokens, grad=not a.freeze_encoder, cache=vec_cache)
            embeds, tg, _, _ = assemble(exs, toks, dec, soft, offs, target, dev)
            loss = answer_loss(dec, embeds, tg)
        if pairs:  # keep the retrieval space the runtime ranks by while the encoder learns to carry the code
            loss = loss + a.contrast_weight * contrastive_loss(enc, toks, rng.sample(pairs, 32), dev, amp(a))
        optimize(opt, loss, [p for g in opt.param_groups for p in g["params"]])
        step += 1
        log_and_save(a, log, "align", step, total, clock, loss, evaluate, rd / "align.pt", state)
    finish_stage(log, "align", step, clock, evaluate, rd / "align.pt", state, leg)
    _ = eos
