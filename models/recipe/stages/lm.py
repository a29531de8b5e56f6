"""Stage lm: the decoder's language-model pretraining on the training split (file header + file text)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from batches import lm_stream
from common import MetricLog, device, load_ckpt, save_ckpt
from loop import Leg, amp, finish_stage, leg_finished, lr_at, optimize, resume
from model import Decoder, config_dict
from runs import ensure_tokenizer, model_configs, run_dir


def run(a) -> None:
    rd = run_dir(a.run)
    if leg_finished(a, rd / f"{a.stage_name}.pt"):
        return
    tok = ensure_tokenizer(a.run, a.smoke)
    dec_cfg, _, _ = model_configs(a.smoke)
    dev = device()
    train_ids = lm_stream(tok, "train", rd / "lm_train.npy", a.smoke)
    held_ids = lm_stream(tok, "heldout", rd / "lm_heldout.npy", a.smoke)
    seq, batch = (64, 4) if a.smoke else (256, 16)
    total = a.steps or (10 if a.smoke else 1400)
    ck = load_ckpt(rd / "lm.pt")
    dec = Decoder(dec_cfg).to(dev)
    opt = torch.optim.AdamW(dec.parameters(), lr=1e-3, weight_decay=0.1, betas=(0.9, 0.95))
    step, clock = resume(ck, opt, decoder=dec)
    log = MetricLog(rd / "metrics.jsonl")
    rng = np.random.default_rng(1234 + step)
    g = torch.Generator().manual_seed(99)
    held_starts = torch.randint(0, len(held_ids) - seq - 1, (8 if a.smoke else 48,), generator=g).tolist()
    held = torch.tensor(np.stack([held_ids[s : s + seq + 1] for s in held_starts]).astype(np.int64), device=dev)
    print(f"lm: train {len(train_ids)} tokens, decoder {sum(p.numel() for p in dec.parameters())} params", flush=True)

    def evaluate() -> dict:
        dec.eval()
        with torch.no_grad():
            losses, correct = [], 0
            for i in range(0, len(held), 16):
                x = held[i : i + 16]
                logits = dec(dec.embed(x[:, :-1]))
                losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)).item())
                correct += (logits.argmax(-1) == x[:, 1:]).sum().item()
        dec.train()
        return {"heldout_loss": float(np.mean(losses)), "heldout_token_acc": correct / held[:, 1:].numel()}

    leg = Leg(a, ck, clock)
    state = lambda: {"decoder": dec.state_dict(), "opt": opt.state_dict(), "config": config_dict(dec_cfg), **leg.record()}
    tokens_since, t_since = 0, clock.elapsed()
    while step < total and clock.elapsed() < leg.deadline:
        starts = rng.integers(0, len(train_ids) - seq - 1, batch)
        x = torch.tensor(np.stack([train_ids[s : s + seq + 1] for s in starts]).astype(np.int64), device=dev)
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step, total, 1e-3, 30)
        with amp(a):
            logits = dec(dec.embed(x[:, :-1]))
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        optimize(opt, loss, dec.parameters())
        step += 1
        tokens_since += batch * seq
        if step % a.log_every == 0 or step == total:
            now = clock.elapsed()
            row = {
                "stage": "lm",
                "step": step,
                "wall_s": round(now, 1),
                "train_loss": round(loss.item(), 4),
                "tok_per_s": round(tokens_since / max(1e-9, now - t_since), 1),
            }
            tokens_since, t_since = 0, now
            if step % (a.log_every * 4) == 0 or step == total:
                row.update(evaluate())
            log.write(row)
            save_ckpt(rd / "lm.pt", {**state(), "step": step, "wall_s": clock.elapsed()})
    finish_stage(log, "lm", step, clock, evaluate, rd / "lm.pt", state, leg)
