"""Stage copy: dense induction practice for the decoder, [code span A][A again] with the loss on every position."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from batches import copy_logits, copy_rows, lm_stream
from common import MetricLog, device, load_ckpt
from loop import Leg, amp, finish_stage, leg_finished, log_and_save, lr_at, optimize, resume
from model import Decoder
from runs import load_tokenizer, model_configs, run_dir


def run(a) -> None:
    """Dense induction practice for the decoder: [code span A][A again], loss on every position. Every
    task copies from context (a path from a header, a doc line from a text chunk); with the sparse
    answer loss alone the small decoder had not learned to copy. Starts from --init-from's decoder
    (e.g. instruct) and writes copy.pt, which `instruct --decoder-from copy` continues from."""
    rd = run_dir(a.run)
    if leg_finished(a, rd / f"{a.stage_name}.pt"):
        return
    dev = device()
    tok = load_tokenizer(a.run)
    ids = lm_stream(tok, "train", rd / "lm_train.npy", a.smoke)
    held_ids = lm_stream(tok, "heldout", rd / "lm_heldout.npy", a.smoke)
    dec_cfg, _, _ = model_configs(a.smoke)
    dec = Decoder(dec_cfg).to(dev)
    ck = load_ckpt(rd / "copy.pt")
    opt = torch.optim.AdamW(dec.parameters(), lr=a.lr, weight_decay=0.0)
    step, clock = resume(ck, opt, decoder=dec)
    if not ck:
        dec.load_state_dict(load_ckpt(rd / f"{a.init_from or 'lm'}.pt")["decoder"])
    span = 16 if a.smoke else 64
    batch = 4 if a.smoke else a.batch
    total = a.steps or (5 if a.smoke else 1000)
    log = MetricLog(rd / "metrics.jsonl")

    held = copy_rows(held_ids, random.Random(5), 8 if a.smoke else 64, span, dev)
    state = lambda: {"decoder": dec.state_dict(), "opt": opt.state_dict(), **leg.record()}

    def evaluate() -> dict:
        dec.eval()
        with torch.no_grad():
            logits, tgt = copy_logits(dec, held, span)
            acc = (logits.argmax(-1) == tgt).float().mean().item()
        dec.train()
        return {"heldout_copy_token_acc": round(acc, 4)}

    if step == 0:
        log.write({"stage": "copy", "step": 0, "wall_s": 0.0, **evaluate()})
    leg = Leg(a, ck, clock)
    rng = random.Random(77 + step)
    while step < total and clock.elapsed() < leg.deadline:
        x = copy_rows(ids, rng, batch, span, dev)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, a.lr, 20)
        with amp(a):
            logits = dec(dec.embed(x[:, :-1]))
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        optimize(opt, loss, dec.parameters())
        step += 1
        log_and_save(a, log, "copy", step, total, clock, loss, evaluate, rd / "copy.pt", state)
    finish_stage(log, "copy", step, clock, evaluate, rd / "copy.pt", state, leg)
