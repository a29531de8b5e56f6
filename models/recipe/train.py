"""E2LLM training recipe. Stages (each resumable from work/<run>/<stage>.pt, metrics in work/<run>/metrics.jsonl):

  lm        decoder language-model pretraining on code (no chunker needed)
  contrast  encoder contrastive: a chunk's pooled vectors <-> its defined names / doc comment
  align     adapter (+encoder) alignment by reconstruction: decoder regenerates a chunk from its soft tokens
  instruct  long-context instruction tuning (where is X defined, what does X do, ...) with a file-count curriculum

Usage: python train.py <stage> --run default [--minutes M] [--steps N] [--threads T]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from common import WORK_DIR, Clock, MetricLog, device, load_ckpt, save_ckpt, set_threads
from model import Adapter, AdapterConfig, Decoder, DecoderConfig, Encoder, EncoderConfig, config_dict

RECIPE_VERSION = "0.1.0"
STAGES = ["lm", "contrast", "align", "instruct", "export"]


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def run_dir(run: str) -> Path:
    d = WORK_DIR / run
    d.mkdir(parents=True, exist_ok=True)
    return d


def load_tokenizer(run: str) -> Tokenizer:
    return Tokenizer.from_file(str(run_dir(run) / "tokenizer.json"))


def ensure_tokenizer(run: str, smoke: bool) -> Tokenizer:
    path = run_dir(run) / "tokenizer.json"
    if not path.exists():
        from tokenizer_train import train_tokenizer
        train_tokenizer(8192, max_chars=2_000_000 if smoke else None).save(str(path))
    return Tokenizer.from_file(str(path))


def model_configs(smoke: bool) -> tuple[DecoderConfig, EncoderConfig, AdapterConfig]:
    if smoke:  # tiny: every stage in seconds on CPU
        dec = DecoderConfig(hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1, ffn_size=128, max_positions=1024)
        enc = EncoderConfig(hidden_size=64, num_layers=1, num_heads=2, ffn_size=128, max_tokens=64, vectors_per_chunk=2)
        ad = AdapterConfig(in_size=64, vectors_per_chunk=2, out_size=64, soft_tokens_per_chunk=2, hidden_size=128)
        return dec, enc, ad
    return DecoderConfig(), EncoderConfig(), AdapterConfig()


# ---------------------------------------------------------------- stage 1: decoder LM

def lm_stream(tok: Tokenizer, split: str, cache: Path, smoke: bool) -> np.ndarray:
    if cache.exists():
        return np.load(cache)
    from corpus import load_corpus, repo_dir, repo_files
    c = load_corpus()
    ids: list[int] = []
    eot = tok.token_to_id("<|endoftext|>")
    for repo in c[split]:
        base = repo_dir(c, repo)
        files = repo_files(c, repo)
        if smoke:
            files = files[:3]
        for p in files:
            header = "<|file|>" + str(p.relative_to(base)).replace("\\", "/") + "\n"
            ids += tok.encode(header).ids + tok.encode(p.read_text(encoding="utf-8")).ids + [eot]
    arr = np.array(ids, dtype=np.uint16)
    np.save(cache, arr)
    return arr


def stage_lm(a) -> None:
    rd = run_dir(a.run)
    tok = ensure_tokenizer(a.run, a.smoke)
    dec_cfg, _, _ = model_configs(a.smoke)
    dev = device()
    train_ids = lm_stream(tok, "train", rd / "lm_train.npy", a.smoke)
    held_ids = lm_stream(tok, "heldout", rd / "lm_heldout.npy", a.smoke)
    seq, batch = (64, 4) if a.smoke else (256, 16)
    total = a.steps or (20 if a.smoke else 1400)
    ck = load_ckpt(rd / "lm.pt")
    dec = Decoder(dec_cfg).to(dev)
    opt = torch.optim.AdamW(dec.parameters(), lr=1e-3, weight_decay=0.1, betas=(0.9, 0.95))
    step, clock = 0, Clock()
    if ck:
        dec.load_state_dict(ck["decoder"]); opt.load_state_dict(ck["opt"]); step = ck["step"]; clock = Clock(ck["wall_s"])
    log = MetricLog(rd / "metrics.jsonl")
    rng = np.random.default_rng(1234 + step)
    g = torch.Generator().manual_seed(99)
    held_starts = torch.randint(0, len(held_ids) - seq - 1, (8 if a.smoke else 48,), generator=g).tolist()
    held = torch.tensor(np.stack([held_ids[s:s + seq + 1] for s in held_starts]).astype(np.int64), device=dev)
    print(f"lm: train {len(train_ids)} tokens, decoder {sum(p.numel() for p in dec.parameters())} params", flush=True)

    def evaluate() -> dict:
        dec.eval()
        with torch.no_grad():
            losses, correct = [], 0
            for i in range(0, len(held), 16):
                x = held[i:i + 16]
                logits = dec(dec.embed(x[:, :-1]))
                losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)).item())
                correct += (logits.argmax(-1) == x[:, 1:]).sum().item()
        dec.train()
        return {"heldout_loss": float(np.mean(losses)), "heldout_token_acc": correct / held[:, 1:].numel()}

    deadline = clock.elapsed() + a.minutes * 60 if a.minutes else float("inf")
    tokens_since, t_since = 0, clock.elapsed()
    while step < total and clock.elapsed() < deadline:
        starts = rng.integers(0, len(train_ids) - seq - 1, batch)
        x = torch.tensor(np.stack([train_ids[s:s + seq + 1] for s in starts]).astype(np.int64), device=dev)
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step, total, 1e-3, 30)
        logits = dec(dec.embed(x[:, :-1]))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dec.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_since += batch * seq
        if step % a.log_every == 0 or step == total:
            now = clock.elapsed()
            row = {"stage": "lm", "step": step, "wall_s": round(now, 1), "train_loss": round(loss.item(), 4),
                   "tok_per_s": round(tokens_since / max(1e-9, now - t_since), 1)}
            tokens_since, t_since = 0, now
            if step % (a.log_every * 4) == 0 or step == total:
                row.update(evaluate())
            log.write(row)
            save_ckpt(rd / "lm.pt", {"decoder": dec.state_dict(), "opt": opt.state_dict(), "step": step,
                                      "wall_s": clock.elapsed(), "config": config_dict(dec_cfg)})
    save_ckpt(rd / "lm.pt", {"decoder": dec.state_dict(), "opt": opt.state_dict(), "step": step,
                              "wall_s": clock.elapsed(), "config": config_dict(dec_cfg)})
    log.write({"stage": "lm", "step": step, "wall_s": round(clock.elapsed(), 1), "event": "stop", **evaluate()})


# ---------------------------------------------------------------- export

def latest_modules(a) -> tuple[Decoder, Encoder, Adapter, dict]:
    """Decoder/encoder/adapter from the latest stage checkpoint that has each (fresh init otherwise)."""
    rd = run_dir(a.run)
    dec_cfg, enc_cfg, ad_cfg = model_configs(a.smoke)
    dec, enc, ad = Decoder(dec_cfg), Encoder(enc_cfg), Adapter(ad_cfg)
    record: dict = {}
    for name, module in (("decoder", dec), ("encoder", enc), ("adapter", ad)):
        for stage in reversed(STAGES[:-1]):
            ck = load_ckpt(rd / f"{stage}.pt")
            if ck and name in ck:
                module.load_state_dict(ck[name])
                record[name] = {"stage": stage, "step": ck["step"], "wall_s": round(ck["wall_s"], 1)}
                break
        else:
            record[name] = {"stage": None, "note": "untrained (random init)"}
    return dec, enc, ad, record


def stage_export(a) -> None:
    from export import _DecoderWithPast, write_bundle
    rd = run_dir(a.run)
    dec, enc, ad, record = latest_modules(a)
    tok = load_tokenizer(a.run)
    metrics = [json.loads(l) for l in (rd / "metrics.jsonl").read_text().splitlines()] if (rd / "metrics.jsonl").exists() else []
    summary = json.loads((rd / "summary.json").read_text()) if (rd / "summary.json").exists() else {}
    training = {"recipe": "models/recipe (train.py)", "recipeVersion": RECIPE_VERSION, "run": a.run, "smoke": a.smoke,
                "modules": record, "configs": {"decoder": config_dict(dec.cfg), "encoder": config_dict(enc.cfg),
                                                "adapter": config_dict(ad.cfg)},
                "data": "models/recipe/corpus.json (train split); held-out split used for every metric",
                "stageWallSeconds": {s: max([m["wall_s"] for m in metrics if m.get("stage") == s], default=0) for s in STAGES[:-1]},
                "lastMetrics": {s: next((m for m in reversed(metrics) if m.get("stage") == s and any(k.startswith("heldout") for k in m)), None)
                                for s in STAGES[:-1]},
                **summary}
    sample = "def add(a, b):\n    \"\"\"Return the sum.\"\"\"\n    return a + b\n"
    enc_ids = tok.encode(sample).ids[: enc.cfg.max_tokens]
    enc_ids2 = tok.encode("class Foo:\n    pass\n").ids
    L = max(len(enc_ids), len(enc_ids2))
    parity_inputs = {
        "encoder_input_ids": [enc_ids + [0] * (L - len(enc_ids)), enc_ids2 + [0] * (L - len(enc_ids2))],
        "encoder_attention_mask": [[1] * len(enc_ids) + [0] * (L - len(enc_ids)), [1] * len(enc_ids2) + [0] * (L - len(enc_ids2))],
        "decoder_input_ids": tok.encode("<|im_start|>user\nWhere is add defined?<|im_end|>\n<|im_start|>assistant\n").ids,
    }
    out = Path(a.out) if a.out else rd / "bundle"
    manifest = write_bundle(
        out, name=a.name, encoder=enc.eval(), adapter=ad.eval(), decoder_module=_DecoderWithPast(dec.eval(), dec.cfg.num_layers),
        embed_weight=dec.embed.weight, tokenizer_path=rd / "tokenizer.json",
        enc_info={"vocab": enc.cfg.vocab_size, "hiddenSize": enc.cfg.hidden_size, "vectorsPerChunk": enc.cfg.vectors_per_chunk,
                  "maxTokens": enc.cfg.max_tokens},
        dec_info={"hiddenSize": dec.cfg.hidden_size, "numLayers": dec.cfg.num_layers, "numKeyValueHeads": dec.cfg.num_kv_heads,
                  "headDim": dec.cfg.head_dim, "vocabSize": dec.cfg.vocab_size, "maxPositions": dec.cfg.max_positions},
        soft_tokens_per_chunk=ad.cfg.soft_tokens_per_chunk, training=training, parity_inputs=parity_inputs)
    size = sum(f.stat().st_size for f in out.iterdir() if f.name != "parity.json")
    print(f"bundle {manifest['id']} -> {out} ({size / 1e6:.1f} MB)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=STAGES)
    ap.add_argument("--run", default="default")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--out", default="")
    ap.add_argument("--name", default="default")
    a = ap.parse_args(argv)
    set_threads(a.threads)
    torch.manual_seed(0)
    random.seed(0)
    {"lm": stage_lm, "export": stage_export}[a.stage](a)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
