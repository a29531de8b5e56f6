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
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from common import CHAT_TEMPLATE as CHAT
from common import WORK_DIR, Clock, MetricLog, device, encode_untrusted, load_ckpt, save_ckpt, set_threads
from model import Adapter, AdapterConfig, Decoder, DecoderConfig, Encoder, EncoderConfig, config_dict

RECIPE_VERSION = "0.1.0"
STAGES = ["lm", "copy", "contrast", "align", "instruct", "export", "import"]
# "imported": a bundle's weights (train.py import), below every trained stage. The pure-text control run
# ("textctl") is never exported.
MODEL_STAGES = ["imported", "lm", "contrast", "align", "instruct"]


def amp(a):
    """bf16 autocast for training steps (~1.7x faster on this CPU with avx512_bf16; also right for CUDA).
    Evaluation and export stay float32."""
    return torch.autocast(device().type, dtype=torch.bfloat16, enabled=a.bf16)


def answer_loss(dec: Decoder, embeds: torch.Tensor, tg: torch.Tensor, ft: torch.Tensor | None = None, file_weight: float = 0.0,
                pointer: tuple[int, int, list, str] | None = None):
    """Cross-entropy on the answer positions only: the tied 8192-way output projection is computed just
    where there is a target (a few % of positions), which makes instruct/align steps ~1.4x cheaper.
    With `ft`, plus the file-binding objective on the same forward pass (file_loss). With
    pointer = (layer, head, spans, query), returns (loss, pointer_loss's result) from the same forward pass."""
    probe = None
    if pointer is not None:
        probe = (pointer[0], pointer[1], pointer_queries(pointer[2], pointer[3], embeds.device))
    out = dec(embeds, return_hidden=True, probe=probe)
    h, logp = out if probe is not None else (out, None)
    m = tg != -100
    logits = dec.logits(h[m])
    loss = F.cross_entropy(logits.float(), tg[m])
    if ft is not None and file_weight and bool((ft != -100).any()):
        loss = loss + file_weight * file_loss(dec, h, ft)
    return loss if pointer is None else (loss, pointer_loss(logp, pointer[2]))


def file_loss(dec: Decoder, h: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
    """File binding: at a chunk's k soft-token positions the decoder predicts the first k tokens of its file's
    path (the nearest preceding file header). Lookup from soft tokens is two hops - the chunk that matches
    the question, then the header of that chunk's file - and it fails for files whose header is past the
    first 128 positions (diagnose.py). Nothing is ever generated at soft positions, so their outputs are
    free to carry this dense signal (every chunk of every example). Measured: binding 0.12 -> 0.86 in 640
    steps, lookup did not follow (README, "A fourth session"); an option, off by default."""
    m = ft != -100
    return F.cross_entropy(dec.logits(h[m]).float(), ft[m])


def pointer_queries(spans, query: str, dev) -> torch.Tensor:
    """The pointer objective's query position per row: 'last' the last prompt position (the one that
    predicts the answer), 'name' the asked name's last token in the question (one hop: the name itself
    matches the chunk; a later layer then carries the match to the answer)."""
    return torch.tensor([sp[3] if query == "name" else max(sp[0] - 1, 0) for sp in spans], device=dev)


def pointer_loss(logp: torch.Tensor, spans) -> tuple[torch.Tensor | None, float]:
    """Pointer objective: from the query position (pointer_queries), one decoder head (--pointer-layer/--pointer-head)
    should attend to the soft tokens of the chunk that answers a "where" question. Soft-token lookup has to
    match the question's name against the chunks' soft tokens; the answer loss alone never taught it (the
    shuffled-soft control scores the same as the real soft tokens, for every bundle so far), so the match
    is supervised directly: -log of the head's attention mass on the answer chunk. logp: that head's
    attention log-probabilities [B, T] (Decoder.forward's probe). Returns (loss or None when no row has an
    answer chunk in soft tokens, share of those rows whose attention argmax lands on it)."""
    rows = [i for i, sp in enumerate(spans) if sp[2]]
    if not rows:
        return None, float("nan")
    mass = torch.stack([torch.logsumexp(logp[i, spans[i][2]], 0) for i in rows])
    hit = float(np.mean([int(logp[i].argmax()) in spans[i][2] for i in rows]))
    return -mass.mean(), hit


def names_loss(dec: Decoder, toks: "TokCache", examples, soft: torch.Tensor, offsets: list[int]) -> torch.Tensor | None:
    """Bag-of-names objective: each chunk's first soft token should look, in the decoder's input embedding
    space, like the tokens of the names the chunk defines. Then the decoder can match "Where is X defined?"
    against soft tokens the way it matches X written as text (the pure-text control), instead of learning
    the encoder's space from scratch. Only the adapter learns from it (the embedding table is detached)."""
    rows, targets = [], []
    for ex, off in zip(examples, offsets):
        for j, names in enumerate(ex.chunk_names):
            ids = sorted({i for n in names for i in toks(" " + n)})
            if ids:
                rows.append(off + j)
                targets.append(ids)
    if not rows:
        return None
    # Cosine with a temperature: the direction is what attention matches; the scale is left to the task loss.
    sims = F.normalize(soft[rows, 0].float(), dim=-1) @ F.normalize(dec.embed.weight.detach().float(), dim=-1).T
    logp = F.log_softmax(sims / 0.05, dim=-1)
    return torch.stack([-logp[r, t].mean() for r, t in enumerate(targets)]).mean()


def copy_rows(ids: np.ndarray, rng: random.Random, n: int, span: int, dev, gap: int = 0, lead: int = 0) -> torch.Tensor:
    """n rows of [`lead` tokens of other code][code span A][`gap` tokens of other code][A again], drawn from
    the token stream `ids`."""
    def piece(k: int) -> list[np.ndarray]:
        if not k:
            return []
        s1 = rng.randrange(len(ids) - k)
        return [ids[s1:s1 + k].astype(np.int64)]
    rows = []
    for _ in range(n):
        s0 = rng.randrange(len(ids) - span)
        a = ids[s0:s0 + span].astype(np.int64)
        rows.append(np.concatenate([*piece(lead), a, *piece(gap), a]))
    return torch.tensor(np.stack(rows), device=dev)


def copy_logits(dec: Decoder, x: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and targets of copy rows from position `start` (the repeat's first token) on."""
    h = dec(dec.embed(x[:, :-1]), return_hidden=True)[:, start:]
    return dec.logits(h), x[:, start + 1:]


def copy_loss(dec: Decoder, ids: np.ndarray, rng: random.Random, n: int, dev, span: int = 32, gap: int = 64, lead: int = 0) -> torch.Tensor:
    """Induction practice with a dense loss: [lead][span A][gap of other code][A again], loss on the second
    A's tokens after its first. Copying from context is what every task needs and what the sparse answer
    loss alone did not teach in the time available. `lead` moves the pattern to later positions: copy
    practice at 128 tokens taught copying from the first 128 positions only (see --copy-lead)."""
    logits, tgt = copy_logits(dec, copy_rows(ids, rng, n, span, dev, gap, lead), lead + span + gap)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1))


def copy_accuracy(dec: Decoder, ids: np.ndarray, dev, lead: int, n: int = 32) -> float:
    """Held-out copy token accuracy with the pattern (span 32, gap 64) starting at position `lead`."""
    logits, tgt = copy_logits(dec, copy_rows(ids, random.Random(5), n, 32, dev, 64, lead), lead + 32 + 64)
    return round(float((logits.argmax(-1) == tgt).float().mean()), 4)


def log_and_save(a, log: "MetricLog", stage: str, step: int, total: int, clock: "Clock", loss: torch.Tensor, evaluate,
                 path: Path, state, extra=None, eval_every: int = 5) -> None:
    """Every --log-every steps (and the last): a metrics row, held-out metrics every `eval_every` rows, and a
    checkpoint. `state` and `extra` are callables, evaluated only when a row is written."""
    if step % a.log_every != 0 and step != total:
        return
    row = {"stage": stage, "step": step, "wall_s": round(clock.elapsed(), 1), "train_loss": round(loss.item(), 4), **(extra() if extra else {})}
    if step % (a.log_every * eval_every) == 0 or step == total:
        row.update(evaluate())
    log.write(row)
    save_ckpt(path, {**state(), "step": step, "wall_s": clock.elapsed()})


def finish_stage(log: "MetricLog", stage: str, step: int, clock: "Clock", evaluate, path: Path, state, leg: "Leg") -> None:
    """The stage's final checkpoint (recording the leg as finished) and a closing metrics row."""
    save_ckpt(path, {**state(), **leg.record(finished=True), "step": step, "wall_s": clock.elapsed()})
    log.write({"stage": stage, "step": step, "wall_s": round(clock.elapsed(), 1), "event": "stop", **evaluate()})


# Arguments that say how fast or where a leg runs, not what it trains: changing them does not make a new leg.
_LEG_IGNORES = {"threads", "log_every", "data", "out"}
# Options added after checkpoints began recording legs: left out of the key at their defaults, so that a
# checkpoint written before them still recognises its finished legs (else a rerun would extend them).
_LEG_KEY_SINCE = {"task_mix": "where:5,what:1,params:1,defines:1,summary:1,complete:1", "decoder_lr": 0.0, "contrast_weight": 0.0, "bundle": "", "drop_template_docs": False, "recon_by_repo": False, "focus_frac": 0.0,
                   "prose_files": 0, "keep_encoder": False, "recap_chunks": 0}


def leg_key(a) -> str:
    return json.dumps({k: v for k, v in sorted(vars(a).items())
                       if k not in _LEG_IGNORES and not (k in _LEG_KEY_SINCE and v == _LEG_KEY_SINCE[k])}, sort_keys=True)


class Leg:
    """One run of a stage with given arguments. train.sh runs instruct as three legs into one checkpoint, and
    rerunning train.sh must continue where it stopped: the checkpoint records the leg in progress (and where
    its --minutes began on the stage clock) and the legs that finished. So an interrupted leg resumes within
    what is left of its own time cap, and a finished leg (by steps or by minutes) is skipped; asking for more
    (a larger --steps or --minutes) is a new leg."""

    def __init__(self, a, ck: dict | None, clock: "Clock"):
        self.key = leg_key(a)
        self.done: list[str] = list(ck.get("legs_done", [])) if ck else []
        cur = ck.get("leg") if ck else None
        same = bool(cur and cur.get("key") == self.key)
        self.start_s = cur["start_s"] if same else clock.elapsed()
        # the step the leg began at (for schedules over the leg rather than the stage: --prose-files)
        self.start_step = cur.get("start_step", ck["step"]) if same else (ck["step"] if ck else 0)
        self.deadline = self.start_s + a.minutes * 60 if a.minutes else float("inf")

    def record(self, finished: bool = False) -> dict:
        return {"legs_done": self.done + ([self.key] if finished and self.key not in self.done else []),
                "leg": {"key": self.key, "start_s": self.start_s, "start_step": self.start_step}}


def leg_finished(a, path: Path) -> bool:
    """Whether this stage's checkpoint says this exact leg already finished (then the stage does nothing)."""
    ck = load_ckpt(path)
    if ck and leg_key(a) in ck.get("legs_done", []):
        print(f"{a.stage_name}: this leg finished earlier (step {ck['step']}, {ck['wall_s'] / 60:.1f} min on the stage clock); "
              "nothing to do (a larger --steps or --minutes continues it)", flush=True)
        return True
    return False


def optimize(opt: torch.optim.Optimizer, loss: torch.Tensor, params, clip: float = 1.0) -> None:
    """One optimiser step with gradient clipping (every stage)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()


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


def model_configs(smoke: bool, run: str | None = None) -> tuple[DecoderConfig, EncoderConfig, AdapterConfig]:
    """The model sizes. A run that imported a bundle's encoder as it is (`import --keep-encoder`) records the
    encoder's shape in its `model.json`: an older bundle's encoder has no retrieval query."""
    rq = True
    if run is not None and (run_dir(run) / "model.json").exists():
        rq = bool(json.loads((run_dir(run) / "model.json").read_text())["retrieval_query"])
    if smoke:  # tiny: every stage in seconds on CPU
        dec = DecoderConfig(hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1, ffn_size=128, max_positions=1024)
        enc = EncoderConfig(hidden_size=64, num_layers=1, num_heads=2, ffn_size=128, max_tokens=64, vectors_per_chunk=2, retrieval_query=rq)
        ad = AdapterConfig(in_size=64, vectors_per_chunk=2, out_size=64, soft_tokens_per_chunk=2, hidden_size=128)
        return dec, enc, ad
    return DecoderConfig(), EncoderConfig(retrieval_query=rq), AdapterConfig()


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

    leg = Leg(a, ck, clock)
    state = lambda: {"decoder": dec.state_dict(), "opt": opt.state_dict(), "config": config_dict(dec_cfg), **leg.record()}
    tokens_since, t_since = 0, clock.elapsed()
    while step < total and clock.elapsed() < leg.deadline:
        starts = rng.integers(0, len(train_ids) - seq - 1, batch)
        x = torch.tensor(np.stack([train_ids[s:s + seq + 1] for s in starts]).astype(np.int64), device=dev)
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
            row = {"stage": "lm", "step": step, "wall_s": round(now, 1), "train_loss": round(loss.item(), 4),
                   "tok_per_s": round(tokens_since / max(1e-9, now - t_since), 1)}
            tokens_since, t_since = 0, now
            if step % (a.log_every * 4) == 0 or step == total:
                row.update(evaluate())
            log.write(row)
            save_ckpt(rd / "lm.pt", {**state(), "step": step, "wall_s": clock.elapsed()})
    finish_stage(log, "lm", step, clock, evaluate, rd / "lm.pt", state, leg)


# ---------------------------------------------------------------- copy practice (decoder)

def stage_copy(a) -> None:
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
    step, clock = 0, Clock()
    if ck:
        dec.load_state_dict(ck["decoder"]); opt.load_state_dict(ck["opt"]); step = ck["step"]; clock = Clock(ck["wall_s"])
    else:
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


# ---------------------------------------------------------------- shared E2LLM plumbing

def data_dir(a) -> Path:
    return Path(a.data) if a.data else WORK_DIR / ("data-smoke" if a.smoke else "data")


# Template pieces of the prompt layout: a segment is a whole template string (trusted), or a template's
# fixed prefix followed by filled-in text, or plain repository/user text (untrusted).
_PURE_TEMPLATES = {t for t in CHAT.values() if "{" not in t}
_TEMPLATE_PREFIXES = sorted({t.split("{")[0] for t in CHAT.values() if "{" in t and t.split("{")[0]}, key=len, reverse=True)


class TokCache:
    """Segment text -> ids as the runtime's prompt builder encodes it: template text keeps its special tokens,
    everything filled in (paths, code, questions, answers) is encoded by common.encode_untrusted, so a file
    containing `<|im_end|>` trains as ordinary text, exactly as it is served."""

    def __init__(self, tok: Tokenizer):
        self.tok, self.cache = tok, {}

    def __call__(self, s: str) -> list[int]:
        ids = self.cache.get(s)
        if ids is None:
            if s in _PURE_TEMPLATES:
                ids = self.tok.encode(s, add_special_tokens=False).ids
            else:
                prefix = next((p for p in _TEMPLATE_PREFIXES if s.startswith(p)), "")
                ids = (self.tok.encode(prefix, add_special_tokens=False).ids if prefix else []) + encode_untrusted(self.tok, s[len(prefix):])
            if len(self.cache) < 200_000:
                self.cache[s] = ids
        return ids

    def untrusted(self, s: str) -> list[int]:
        """Repository text as the runtime encodes it (common.encode_untrusted: special-token strings stay text)."""
        key = ("u", s)
        ids = self.cache.get(key)
        if ids is None:
            ids = encode_untrusted(self.tok, s)
            if len(self.cache) < 200_000:
                self.cache[key] = ids
        return ids


def encode_chunks(enc: Encoder, toks: TokCache, texts: list[str], dev, max_tokens: int) -> torch.Tensor:
    ids = [toks.untrusted(t)[:max_tokens] or [0] for t in texts]  # chunk text is repository text: no special tokens
    L = max(len(i) for i in ids)
    x = torch.zeros(len(ids), L, dtype=torch.long)
    m = torch.zeros(len(ids), L, dtype=torch.long)
    for r, i in enumerate(ids):
        x[r, :len(i)] = torch.tensor(i)
        m[r, :len(i)] = 1
    return enc(x.to(dev), m.to(dev))


_FILE_PREFIX = CHAT["fileHeader"].split("{")[0]


def assemble(examples, toks: TokCache, dec: Decoder, soft: torch.Tensor | None, offsets: list[int], max_answer: int, dev,
             file_targets: bool = False):
    """Prompt-layout embeddings for a batch: returns embeds [B,L,H], targets [B,L] (-100 = no loss), answer spans
    (answer start, answer length, the answer chunk's soft positions and the position of the asked name's
    last token: see pointer_loss);
    and [B,L] targets of the file-binding objective (see file_loss) when file_targets, else None."""
    eot = toks(CHAT["endOfTurn"])
    rows, targets, spans, binds = [], [], [], []
    for ex, off in zip(examples, offsets):
        parts, n, answered, bound, pointed, name_at = [], 0, [], [], [], 0
        path_ids: list[int] = []
        in_context = False
        for kind, val in ex.segments:
            if kind == "text":
                ids = toks(val)
                parts.append(dec.embed(torch.tensor(ids, device=dev)))
                if val == CHAT["contextStart"] or val == CHAT["contextEnd"]:
                    in_context = val == CHAT["contextStart"]
                elif val.startswith(_FILE_PREFIX):  # this file's path: what its chunks' soft positions should name
                    path_ids = toks.untrusted(val[len(_FILE_PREFIX):].removesuffix("\n"))
                elif "def" in ex.meta and val == CHAT["user"].replace("{content}", ex.meta.get("request", "")):
                    # the last token of the asked name in the question (the pointer objective's other query position)
                    req, name = ex.meta["request"], ex.meta["def"]["name"]
                    if name in req:
                        name_at = n + len(toks(CHAT["user"].replace("{content}", req[:req.index(name) + len(name)]))) - 1
                n += len(ids)
            elif kind == "answer":  # an earlier turn's answer: supervised like the final one
                ids = toks(val)[:32] + eot
                parts.append(dec.embed(torch.tensor(ids, device=dev)))
                answered.append((n, ids))
                n += len(ids)
            else:
                parts.append(soft[off + val])
                if val == ex.meta.get("def_chunk") and not ex.meta.get("hybrid"):
                    pointed = list(range(n, n + soft.shape[1]))
                if file_targets and in_context:
                    bound += [(n + j, t) for j, t in enumerate(path_ids[:soft.shape[1]])]
                n += soft.shape[1]
        ans = toks(ex.answer)[:max_answer] + eot
        parts.append(dec.embed(torch.tensor(ans, device=dev)))
        rows.append(torch.cat(parts))
        tgt = torch.full((n + len(ans),), -100, dtype=torch.long)
        tgt[n - 1:n - 1 + len(ans)] = torch.tensor(ans)
        for start, ids in answered:
            tgt[start - 1:start - 1 + len(ids)] = torch.tensor(ids)
        targets.append(tgt)
        spans.append((n, len(ans), pointed, name_at or n - 1))
        binds.append(bound)
    L = max(r.shape[0] for r in rows)
    H = rows[0].shape[1]
    embeds = torch.zeros(len(rows), L, H, device=dev)
    tg = torch.full((len(rows), L), -100, dtype=torch.long)
    for i, (r, t) in enumerate(zip(rows, targets)):
        embeds[i, :r.shape[0]] = r
        tg[i, :t.shape[0]] = t
    if not file_targets:
        return embeds, tg.to(dev), spans, None
    ft = torch.full((len(rows), L), -100, dtype=torch.long)
    for i, bound in enumerate(binds):
        for pos, t in bound:
            ft[i, pos] = t
    return embeds, tg.to(dev), spans, ft.to(dev)


def batch_soft(examples, enc, ad, toks, dev, max_tokens, grad: bool, cache: dict | None = None):
    texts, offsets = [], []
    for ex in examples:
        offsets.append(len(texts))
        texts += ex.chunk_texts
    if not texts:
        return None, offsets
    vec = encode_chunks(enc, toks, texts, dev, max_tokens) if grad else cached_vectors(enc, toks, texts, dev, max_tokens, cache)
    return ad(vec), offsets


def cached_vectors(enc, toks, texts: list[str], dev, max_tokens: int, cache: dict | None = None) -> torch.Tensor:
    """Encoder vectors [N, k, H] of texts without gradients, each distinct text encoded once (batches of
    64) and kept in `cache` (text -> vectors) for the next call."""
    cache = {} if cache is None else cache
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    with torch.no_grad():
        for i in range(0, len(missing), 64):
            part = missing[i:i + 64]
            for t, row in zip(part, encode_chunks(enc, toks, part, dev, max_tokens)):
                cache[t] = row
    return torch.stack([cache[t] for t in texts])


class Ranker:
    """The encoder's ranking of an example's chunks by the request, as the runtime ranks them: cosine between
    retrieval vectors, the request encoded as the runtime's queryVector does. `chunks` is the retrieved
    row's (and --retrieved-frac's) top k; `files` is --rank-files' order(request, files, labels) for
    build_example: each file scored by its best chunk, most relevant first (the decoder reads early headers
    far better than late ones: results/diagnose-step1757.txt)."""

    def __init__(self, enc: Encoder, toks: TokCache, dev, cache: dict):
        self.enc, self.toks, self.dev, self.cache = enc, toks, dev, cache
        self._query: tuple[str, torch.Tensor] | None = None  # the last request's retrieval vector

    def query(self, request: str) -> torch.Tensor:
        """The request's retrieval vector, encoded once for the file order and the recap of one example (the
        encoder is fixed while a Ranker lives, as its chunk-vector cache assumes too)."""
        if self._query is None or self._query[0] != request:
            enc = self.enc
            with torch.no_grad():
                self._query = (request, enc.retrieval(encode_chunks(enc, self.toks, [request], self.dev, enc.cfg.max_tokens))[0])
        return self._query[1]

    def chunks(self, request: str, files, labels=None) -> list[tuple]:
        """[(file, chunk)] best first; chunk text relabelled as the soft tokens see it when labels are given."""
        from data import relabel_chunk_text
        cands = [(f, c) for f in files for c in f.chunks]
        if not cands:
            return []
        texts = [relabel_chunk_text(c["text"], f.path, labels[f.path]) if labels else c["text"] for f, c in cands]
        enc, toks, dev = self.enc, self.toks, self.dev
        vecs = cached_vectors(enc, toks, texts, dev, enc.cfg.max_tokens, self.cache)
        with torch.no_grad():
            sims = enc.retrieval(vecs.float()) @ self.query(request).float()
        return [cands[i] for i in sims.argsort(descending=True, stable=True).tolist()]

    def files(self, request: str, files, labels):
        seen: dict[str, object] = {}
        for f, _ in self.chunks(request, files, labels):
            seen.setdefault(f.path, f)
        return list(seen.values()) + [f for f in files if f.path not in seen]  # files without chunks last


def greedy_answers(examples, toks, dec, soft, offsets, dev, max_new: int, stop_ids: set[int]) -> list[str]:
    """Greedy decoding with the KV-cache path (the one decoder.onnx runs) for held-out accuracy."""
    outs = []
    cfg = dec.cfg
    for ex, off in zip(examples, offsets):
        embeds, _, spans, _ = assemble([ex], toks, dec, soft, [off], 0, dev)
        x = embeds[:, :spans[0][0]]
        T = x.shape[1]
        past = [torch.zeros(1, cfg.num_kv_heads, 0, cfg.head_dim, device=dev) for _ in range(2 * cfg.num_layers)]
        logits, past = dec.forward_with_past(x, torch.ones(1, T, dtype=torch.long, device=dev),
                                             torch.arange(T, device=dev)[None], past)
        ids = []
        for _ in range(max_new):
            nxt = int(logits[0, -1].argmax())
            if nxt in stop_ids:
                break
            ids.append(nxt)
            P = past[0].shape[2]
            logits, past = dec.forward_with_past(dec.embed(torch.tensor([[nxt]], device=dev)), torch.ones(1, P + 1, dtype=torch.long, device=dev),
                                                 torch.tensor([[P]], device=dev), past)
        outs.append(toks.tok.decode(ids))
    return outs


def stage_state(rd: Path, stage: str, a, dev):
    """Modules for a stage: its own checkpoint if resuming, else the latest earlier stage's."""
    dec, enc, ad, _ = latest_modules(a, upto="instruct" if stage == "textctl" else stage)
    ck = load_ckpt(rd / f"{stage}.pt")
    return dec.to(dev), enc.to(dev), ad.to(dev), ck


# ---------------------------------------------------------------- stage 2: encoder contrastive

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
        P = torch.cat([enc.retrieval(encode_chunks(enc, toks, pool[i:i + 64], dev, enc.cfg.max_tokens)) for i in range(0, len(pool), 64)])
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


def stage_contrast(a) -> None:
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
    step, clock = 0, Clock()
    if ck:
        enc.load_state_dict(ck["encoder"]); opt.load_state_dict(ck["opt"]); step = ck["step"]; clock = Clock(ck["wall_s"])
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


# ---------------------------------------------------------------- stage 3: alignment by reconstruction

def stage_align(a) -> None:
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
        enc.load_state_dict(ck["encoder"]); ad.load_state_dict(ck["adapter"])
        try:
            opt.load_state_dict(ck["opt"])
        except ValueError:  # a leg with --decoder-lr after one without: the groups differ
            print("align: optimiser state not reused (this leg trains other parameters)", flush=True)
        if "decoder" in ck:
            dec.load_state_dict(ck["decoder"])
        step = ck["step"]; clock = Clock(ck["wall_s"])
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
        enc.eval(); ad.eval()
        with torch.no_grad():
            # The control: each chunk's code regenerated from another chunk's soft tokens. What the decoder
            # gets right from its own code model alone, both rows share; the difference is read from the soft tokens.
            correct = {"own": 0, "shuffled": 0}
            count = 0
            for i in range(0, len(held_eval), 16):
                exs = held_eval[i:i + 16]
                soft, offs = batch_soft(exs, enc, ad, toks, dev, enc.cfg.max_tokens, grad=True)
                perm = torch.roll(torch.arange(soft.shape[0], device=soft.device), 1)  # one chunk per example
                for key, s in (("own", soft), ("shuffled", soft[perm])):
                    embeds, tg, _, _ = assemble(exs, toks, dec, s, offs, target, dev)
                    m = tg != -100
                    correct[key] += (dec(embeds).argmax(-1)[m] == tg[m]).sum().item()
                count += m.sum().item()
        enc.train(); ad.train()
        retrieval = retrieval_metrics(enc, toks, *retrieval_set, dev) if retrieval_set else {}
        return {"heldout_recon_token_acc": round(correct["own"] / count, 4),
                "heldout_recon_token_acc_shuffled": round(correct["shuffled"] / count, 4), **retrieval}

    if step == 0 and not a.smoke:
        log.write({"stage": "align", "step": 0, "wall_s": 0.0, **evaluate()})
    leg = Leg(a, ck, clock)
    rng = random.Random(17 + step)
    # The decoder is saved only when this stage trains it (then the later stages start from it).
    state = lambda: {"encoder": enc.state_dict(), "adapter": ad.state_dict(), "opt": opt.state_dict(),
                     **({"decoder": dec.state_dict()} if a.decoder_lr > 0 else {}), **leg.record()}
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


# ---------------------------------------------------------------- stage 4: instruction tuning

def curriculum(step: int, total: int) -> int:
    """Files per example: 2-4 early, growing to many."""
    frac = step / max(1, total)
    return [2, 3, 4, 5, 6, 8][min(5, int(frac * 6))]


def prose_files(step: int, start: int, total: int, most: int) -> int:
    """--prose-files: files per "what"/summary example, 1 at the leg's start growing evenly to `most` by its
    last step (a leg stopped by its time cap ends earlier on the way)."""
    frac = (step - start) / max(1, total - start)
    return max(1, min(most, 1 + int(frac * most)))


def task_mix(spec: str) -> list[str]:
    """--task-mix "where:5,summary:1,...": the tasks instruct draws from, each repeated by its weight."""
    from data import TASKS
    out = []
    for part in spec.split(","):
        name, _, weight = part.strip().partition(":")
        if name not in TASKS or not weight.isdigit():
            raise SystemExit(f"instruct: --task-mix wants task:weight pairs (integer weights) over {', '.join(TASKS)}; got {part!r}")
        out += [name] * int(weight)
    if not out:
        raise SystemExit("instruct: --task-mix has no task with a positive weight")
    return out


def heldout_instruct_set(held, n: int, soft_per_chunk: int, text_mode: str, hybrid_prob: float, n_files: int, seed: int, task_mix, order=None,
                         rank=None, recap_chunks: int = 0):
    from data import build_example
    rng = random.Random(seed)
    out = []
    names = sorted(held)
    tries = 0
    seen = set()
    while len(out) < n and tries < n * 20:
        tries += 1
        task = rng.choice(task_mix)
        repo = rng.choice(names)
        ex = build_example(rng, held[repo], n_files=n_files, max_positions=512, soft_per_chunk=soft_per_chunk,
                           task=task, relabel=False, text_mode=text_mode, hybrid_prob=hybrid_prob, order=order,
                           rank=rank, recap_chunks=recap_chunks)
        # Distinct questions, as the product's eval (questions.ts buildQuestions): a small repository drawn as
        # often as a large one would otherwise repeat its few questions (tomllib's one documented function
        # was 21 of 120 "what" questions), and a few answers would decide the score.
        if ex is not None and (repo, ex.meta["request"], ex.answer) not in seen:
            seen.add((repo, ex.meta["request"], ex.answer))
            out.append(ex)
    return out


def shuffled_soft(soft: torch.Tensor) -> torch.Tensor:
    """The shuffled-soft control: the chunks' soft tokens under a fixed permutation, so each chunk's place
    holds another chunk's tokens."""
    perm = torch.randperm(soft.shape[0], generator=torch.Generator().manual_seed(5))
    return soft[perm.to(soft.device)]


def score(task: str, pred: str, gold: str) -> float:
    pred, gold = pred.strip(), gold.strip()
    if task == "where":
        return float(pred == gold)
    if task in ("params", "defines", "complete"):
        return float(pred == gold)
    return rouge_l(pred, gold)


def rouge_l(a: str, b: str) -> float:
    x, y = a.split(), b.split()
    if not x or not y:
        return 0.0
    dp = [[0] * (len(y) + 1) for _ in range(len(x) + 1)]
    for i in range(len(x)):
        for j in range(len(y)):
            dp[i + 1][j + 1] = dp[i][j] + 1 if x[i] == y[j] else max(dp[i][j + 1], dp[i + 1][j])
    lcs = dp[-1][-1]
    p, r = lcs / len(x), lcs / len(y)
    return 0.0 if lcs == 0 else 2 * p * r / (p + r)


def drop_template_docs(repos) -> None:
    """Training only: a module doc that opens with the same three words as 3+ others of its repository is a
    template (distutils' 20 "Implements the Distutils '...' command", sympy's "This module contains ..."),
    not a summary of its file. The decoder learnt to recite them for any file, so they are not summary targets."""
    def opening(f) -> str:
        return " ".join(f.module_doc.split()[:3])
    for files in repos.values():
        counts = Counter(opening(f) for f in files if f.module_doc)
        for f in files:
            if f.module_doc and counts[opening(f)] >= 4:
                f.module_doc = ""


def stage_instruct(a) -> None:
    """Long-context instruction tuning. Decoder fully tuned (it is small: LoRA would save nothing worth the
    capacity) with the adapter; the encoder is frozen so its vectors are computed once per chunk and cached."""
    from data import build_example, load_files, reconstruction_example, variant
    rd = run_dir(a.run)
    if leg_finished(a, rd / f"{a.stage_name}.pt"):
        return
    dev = device()
    tok = load_tokenizer(a.run)
    toks = TokCache(tok)
    dd = data_dir(a)
    train, held = load_files(dd / "train.jsonl"), load_files(dd / "heldout.jsonl")
    if a.drop_template_docs:
        drop_template_docs(train)
    # --recon-by-repo: reconstruction draws a repository as the questions do (weights below), then one of its
    # chunks; drawn from all chunks at once, the largest repository (with train_more, sympy: half of them)
    # takes most examples. Off by default: train.sh's legs drew from all chunks.
    repo_chunks = {n: [(f, c) for f in files for c in f.chunks] for n, files in train.items()}
    train_chunks = [fc for chunks in repo_chunks.values() for fc in chunks]  # the same order as before
    lm_ids = lm_stream(tok, "train", rd / "lm_train.npy", a.smoke) if (a.lm_mix or a.copy_mix) else None
    lm_held = lm_stream(tok, "heldout", rd / "lm_heldout.npy", a.smoke) if a.copy_mix else None
    import data as data_mod
    data_mod.PATH_POOL[:] = sorted({f.path for files in train.values() for f in files})
    dec, enc, ad, ck = stage_state(rd, a.stage_name, a, dev)
    for p in enc.parameters():
        p.requires_grad_(False)
    enc.eval()
    opt = torch.optim.AdamW([{"params": dec.parameters(), "lr": a.lr}, {"params": ad.parameters(), "lr": a.lr}], weight_decay=0.0)
    step, clock = 0, Clock()
    if ck:
        dec.load_state_dict(ck["decoder"]); ad.load_state_dict(ck["adapter"]); opt.load_state_dict(ck["opt"])
        step = ck["step"]; clock = Clock(ck["wall_s"])
    if ck and a.decoder_from:  # continue the run with a decoder trained elsewhere meanwhile (e.g. the copy stage)
        dec.load_state_dict(load_ckpt(rd / f"{a.decoder_from}.pt")["decoder"])
        print(f"{a.stage_name}: decoder from {a.decoder_from}", flush=True)
    elif a.init_from and not ck:  # e.g. start the soft-token run from the pure-text control's decoder, which has learned to copy
        init = load_ckpt(rd / f"{a.init_from}.pt")
        dec.load_state_dict(init["decoder"])
        print(f"{a.stage_name}: decoder initialised from {a.init_from} step {init['step']}", flush=True)
    log = MetricLog(rd / "metrics.jsonl")
    total = a.steps or (6 if a.smoke else 700)
    batch = 2 if a.smoke else a.batch
    if a.smoke:
        a.max_positions = 160
    if a.rank_files and (a.extra_questions or a.extra_names):
        # The order follows the example's final question; earlier answered questions about other names would
        # teach the decoder to ignore it (the runtime re-plans, and re-orders, for every turn).
        raise SystemExit("instruct: --rank-files orders the files by the final question; use it with --extra-questions 0 --extra-names 0")
    if a.pointer_weight and not (0 <= a.pointer_layer < dec.cfg.num_layers and 0 <= a.pointer_head < dec.cfg.num_heads):
        raise SystemExit(f"instruct: --pointer-layer/--pointer-head must name one of the decoder's {dec.cfg.num_layers} layers x {dec.cfg.num_heads} heads")
    spc = ad.cfg.soft_tokens_per_chunk
    text_mode = "names" if a.text_control else "soft"
    mix = task_mix(a.task_mix) if not a.text_control else ["where"]
    n_eval = 2 if a.smoke else 40
    cache: dict = {}
    ranker = Ranker(enc, toks, dev, cache)
    order = ranker.files if a.rank_files else None
    recap = {"rank": ranker.chunks, "recap_chunks": a.recap_chunks}
    evsets = {
        "where_soft": heldout_instruct_set(held, n_eval, spc, text_mode, 0.0, 4, 21, ["where"], order, **recap),
        "where_names": heldout_instruct_set(held, n_eval, spc, "names", 0.0, 4, 24, ["where"], order) if a.text_frac > 0 else [],
        "where_hybrid": heldout_instruct_set(held, n_eval, spc, text_mode, 1.0, 4, 22, ["where"], order, **recap) if not a.text_control else [],
        "mixed": heldout_instruct_set(held, n_eval, spc, text_mode, 0.5, 4, 23, mix, order, **recap) if not a.text_control else [],
        # module docstrings from soft tokens (ROUGE-L): the product eval's summary row has few questions
        "summary": heldout_instruct_set(held, n_eval, spc, text_mode, 0.0, 4, 25, ["summary"], order, **recap) if not a.text_control else [],
        "what": heldout_instruct_set(held, n_eval, spc, text_mode, 0.0, 4, 26, ["what"], order, **recap) if not a.text_control and "what" in mix else [],
        # the same questions as where_soft in drawn order: with --rank-files, lookup without the ranking's help
        "where_drawn": heldout_instruct_set(held, n_eval, spc, text_mode, 0.0, 4, 21, ["where"]) if a.rank_files else [],
    }
    stop_ids = {toks(CHAT["endOfTurn"])[0], tok.token_to_id("<|endoftext|>")}
    names = sorted(train)
    weights = [len(train[n]) ** 0.5 for n in names]

    def evaluate() -> dict:
        dec.eval(); ad.eval()
        res = {}
        with torch.no_grad():
            for key, exs in evsets.items():
                if not exs:
                    continue
                soft, offs = batch_soft(exs, enc, ad, toks, dev, enc.cfg.max_tokens, grad=False, cache=cache)
                preds = greedy_answers(exs, toks, dec, soft, offs, dev, 4 if a.smoke else 24, stop_ids)
                res[f"heldout_{key}"] = round(float(np.mean([score(e.task, p, e.answer) for e, p in zip(exs, preds)])), 4)
                if key.startswith("where"):  # the file part alone (the line number is the harder half)
                    res[f"heldout_{key}_path"] = round(float(np.mean([p.strip().split(":")[0] == e.answer.split(":")[0] for e, p in zip(exs, preds)])), 4)
                if key in ("where_soft", "where_drawn", "summary", "what") and not a.text_control:
                    # The control: every chunk gets another chunk's soft tokens (same order, same headers). An
                    # answer that reads the soft tokens falls under it; one from order or path names does not.
                    shuffled = greedy_answers(exs, toks, dec, shuffled_soft(soft), offs, dev, 4 if a.smoke else 24, stop_ids)
                    if key.startswith("where"):
                        res[f"heldout_{key}_shuffled_path"] = round(float(np.mean([p.strip().split(":")[0] == e.answer.split(":")[0] for e, p in zip(exs, shuffled)])), 4)
                    else:  # prose: ROUGE-L
                        res[f"heldout_{key}_shuffled"] = round(float(np.mean([score(e.task, p, e.answer) for e, p in zip(exs, shuffled)])), 4)
                if key in ("where_soft", "where_drawn") and a.pointer_weight:
                    embeds, _, spans, _ = assemble(exs, toks, dec, soft, offs, 0, dev)
                    qpos = pointer_queries(spans, a.pointer_from, dev)
                    _, logp = dec(embeds, return_hidden=True, probe=(a.pointer_layer, a.pointer_head, qpos))
                    res[f"heldout_{key}_pointer"] = round(pointer_loss(logp, spans)[1], 4)
                if key == "where_soft":
                    res["sample"] = [preds[0], exs[0].answer]
                    # file binding (file_loss): do soft positions name their file's path tokens? overall and
                    # for soft positions past 128, where lookup used to fail
                    embeds, _, _, ft = assemble(exs, toks, dec, soft, offs, 0, dev, file_targets=True)
                    m = ft != -100
                    if bool(m.any()):  # the pure-text control has no soft positions
                        hit = dec.logits(dec(embeds, return_hidden=True)[m]).argmax(-1) == ft[m]
                        late = m.nonzero()[:, 1] >= 128
                        res["heldout_file_binding"] = round(float(hit.float().mean()), 4)
                        res["heldout_file_binding_late"] = round(float(hit[late].float().mean()), 4) if bool(late.any()) else None
            if lm_held is not None:  # copying from the start vs from late in the context (see --copy-lead)
                res["heldout_copy_pos0"] = copy_accuracy(dec, lm_held, dev, 0, 4 if a.smoke else 32)
                res["heldout_copy_pos300"] = copy_accuracy(dec, lm_held, dev, 60 if a.smoke else 300, 4 if a.smoke else 32)
        dec.train(); ad.train()
        return res

    if not a.smoke:  # also on resume: a continued run may change the data (e.g. --rank-files), so its start is measured
        log.write({"stage": a.stage_name, "step": step, "wall_s": round(clock.elapsed(), 1), **evaluate()})
    leg = Leg(a, ck, clock)
    rng = random.Random(31 + step)
    # The file order the decoder is trained with travels in the checkpoint, so that export (manifest
    # decoder.contextOrder) and eval place files the same way.
    state = lambda: {"decoder": dec.state_dict(), "adapter": ad.state_dict(), "opt": opt.state_dict(),
                     "context_order": "relevance" if a.rank_files else "repository", "recap_chunks": a.recap_chunks, **leg.record()}
    while step < total and clock.elapsed() < leg.deadline:
        n_files = curriculum(step, total)
        exs = []
        while len(exs) < batch:
            if text_mode == "soft" and rng.random() < a.recon_frac:  # E2LLM trains reconstruction alongside the tasks
                f, c = rng.choice(repo_chunks[rng.choices(names, weights)[0]] if a.recon_by_repo else train_chunks)
                exs.append(reconstruction_example(rng, f, c, 32))
                continue
            if text_mode == "soft" and rng.random() < a.retrieved_frac:  # the retrieved row's layout: top-2 chunks as text
                ex = build_example(rng, train[rng.choices(names, weights)[0]], n_files=n_files, max_positions=a.max_positions,
                                   soft_per_chunk=spc, task=rng.choice(mix), relabel=True, text_mode="soft", hybrid_prob=0.0)
                if ex is not None:
                    exs.append(variant(ex, "retrieved", ranked_chunks=ranker.chunks(ex.meta["request"], ex.meta["files"], ex.meta["labels"])[:2]))
                continue
            names_ex = text_mode == "names" or rng.random() < a.text_frac  # pure-text copy examples mixed in
            task = "where" if names_ex else rng.choice(mix)
            # --focus-frac: "what" and summaries over the asked file alone. Lookup already finds the file; what
            # fails is writing its prose from the soft tokens, so some examples train that half without the search.
            focus = task in ("what", "summary") and rng.random() < a.focus_frac
            k = n_files
            if task in ("what", "summary") and a.prose_files:  # --prose-files: find-and-read grows from one file over the leg
                k = prose_files(step, leg.start_step, total, a.prose_files)
            ex = build_example(rng, train[rng.choices(names, weights)[0]], n_files=1 if focus else k, max_positions=a.max_positions, soft_per_chunk=spc,
                               task=task, relabel=True, text_mode="names" if names_ex else "soft",
                               hybrid_prob=0.5, extra_questions=a.extra_names if names_ex else a.extra_questions,
                               order=order if order is None or rng.random() >= a.rank_noise else None, **recap)
            if ex is not None:
                exs.append(ex)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, a.lr, 20)
        soft, offs = batch_soft(exs, enc, ad, toks, dev, enc.cfg.max_tokens, grad=False, cache=cache)
        if len(cache) > 100_000:
            cache.clear()
        with amp(a):
            embeds, tg, spans, ft = assemble(exs, toks, dec, soft, offs, 32, dev, file_targets=bool(a.file_weight))
            if a.pointer_weight:
                loss, (pl, _) = answer_loss(dec, embeds, tg, ft, a.file_weight, pointer=(a.pointer_layer, a.pointer_head, spans, a.pointer_from))
                if pl is not None:
                    loss = loss + a.pointer_weight * pl
            else:
                loss = answer_loss(dec, embeds, tg, ft, a.file_weight)
            nl = names_loss(dec, toks, exs, soft, offs) if a.names_weight and soft is not None else None
            if nl is not None:
                loss = loss + a.names_weight * nl
            if a.copy_mix:  # dense copy practice: a code span, other code, then the span again (loss on the repeat)
                lead = rng.randrange(a.copy_lead + 1) if a.copy_lead else 0  # anywhere in the context, not only its start
                loss = loss + copy_loss(dec, lm_ids, rng, a.copy_mix, dev, gap=rng.choice([16, 64, 128]) if a.copy_lead else 64, lead=lead)
            if a.lm_mix:  # keep (and keep improving) the decoder's code LM while it learns the tasks
                starts = rng.sample(range(len(lm_ids) - a.lm_len - 1), a.lm_mix)
                x = torch.tensor(np.stack([lm_ids[s0:s0 + a.lm_len + 1] for s0 in starts]).astype(np.int64), device=dev)
                lm_logits = dec(dec.embed(x[:, :-1]))
                loss = loss + 0.5 * F.cross_entropy(lm_logits.float().reshape(-1, lm_logits.shape[-1]), x[:, 1:].reshape(-1))
        optimize(opt, loss, list(dec.parameters()) + list(ad.parameters()))
        step += 1
        log_and_save(a, log, a.stage_name, step, total, clock, loss, evaluate, rd / f"{a.stage_name}.pt", state,
                     extra=lambda: {"files": n_files, "positions": embeds.shape[1]})
    finish_stage(log, a.stage_name, step, clock, evaluate, rd / f"{a.stage_name}.pt", state, leg)


# ---------------------------------------------------------------- export

def latest_modules(a, upto: str | None = None) -> tuple[Decoder, Encoder, Adapter, dict]:
    """Decoder/encoder/adapter from the latest stage checkpoint that has each (fresh init otherwise);
    with `upto`, only stages before that one count."""
    rd = run_dir(a.run)
    order = MODEL_STAGES if upto is None else MODEL_STAGES[:MODEL_STAGES.index(upto)]
    dec_cfg, enc_cfg, ad_cfg = model_configs(a.smoke, a.run)
    dec, enc, ad = Decoder(dec_cfg), Encoder(enc_cfg), Adapter(ad_cfg)
    record: dict = {}
    for name, module in (("decoder", dec), ("encoder", enc), ("adapter", ad)):
        for stage in reversed(order):
            ck = load_ckpt(rd / f"{stage}.pt")
            if ck and name in ck:
                module.load_state_dict(ck[name])
                record[name] = {"stage": stage, "step": ck["step"], "wall_s": round(ck["wall_s"], 1)}
                break
        else:
            record[name] = {"stage": None, "note": "untrained (random init)"}
    return dec, enc, ad, record


def probe_state(a):
    """For the probes (diagnose.py, probe_prose.py): a run's tokenizer (and its cache), the held-out files
    and the latest modules in eval mode."""
    from data import load_files
    tok = load_tokenizer(a.run)
    held = load_files(data_dir(a) / "heldout.jsonl")
    dec, enc, ad, record = latest_modules(a)
    dec.eval(); enc.eval(); ad.eval()
    return tok, TokCache(tok), held, dec, enc, ad, record


def context_order(run: str) -> str:
    """The file order the run's instruct stage trained with last ('repository' unless --rank-files)."""
    ck = load_ckpt(run_dir(run) / "instruct.pt")
    return (ck or {}).get("context_order", "repository")


def recap_chunks(run: str) -> int:
    """How many of the encoder's best chunks the run's instruct stage repeated after the files last (--recap-chunks)."""
    ck = load_ckpt(run_dir(run) / "instruct.pt")
    return int((ck or {}).get("recap_chunks", 0))


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
                "stageWallSeconds": {s: max([m["wall_s"] for m in metrics if m.get("stage") == s], default=0) for s in MODEL_STAGES + ["textctl"]},
                "stageSteps": {s: max([m["step"] for m in metrics if m.get("stage") == s], default=0) for s in MODEL_STAGES + ["textctl"]},
                "lmTokensPerSecond": round(float(np.mean([m["tok_per_s"] for m in metrics if m.get("stage") == "lm" and "tok_per_s" in m] or [0])), 1),
                "machine": "2 shared CPU cores (load 5-10 from other work during training), torch 2.13+cpu, bf16 autocast",
                "lastMetrics": {s: next((m for m in reversed(metrics) if m.get("stage") == s and any(k.startswith("heldout") for k in m)), None)
                                for s in MODEL_STAGES + ["textctl"]},
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
        enc_info={"vocab": enc.cfg.vocab_size, "hiddenSize": enc.cfg.hidden_size, "vectorsPerChunk": enc.outputs,
                  "retrieval": enc.retrieval_mode,
                  "maxTokens": enc.cfg.max_tokens},
        dec_info={"hiddenSize": dec.cfg.hidden_size, "numLayers": dec.cfg.num_layers, "numKeyValueHeads": dec.cfg.num_kv_heads,
                  "headDim": dec.cfg.head_dim, "vocabSize": dec.cfg.vocab_size, "maxPositions": dec.cfg.max_positions,
                  "contextPositions": a.context_positions, "contextOrder": context_order(a.run),
                  **({"recapChunks": recap_chunks(a.run)} if recap_chunks(a.run) else {})},
        soft_tokens_per_chunk=ad.cfg.soft_tokens_per_chunk, training=training, parity_inputs=parity_inputs)
    size = sum(f.stat().st_size for f in out.iterdir() if f.name != "parity.json")
    print(f"bundle {manifest['id']} -> {out} ({size / 1e6:.1f} MB)")


def stage_import(a) -> None:
    """Continue from a bundle: its decoder (and, when this run's encoder has the same outputs, its encoder and
    adapter) become the run's `imported` checkpoint, the weights later stages start from where the run has
    none of its own (e.g. align with the bundle's decoder frozen, instruct --init-from imported). The work
    directory does not outlive a session here; the committed bundle does."""
    import onnxruntime as ort
    from export import _DecoderWithPast, export_adapter, export_decoder, export_encoder, import_onnx_weights
    if not a.bundle:
        raise SystemExit("import: --bundle DIR is required")
    bundle = Path(a.bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    rd = run_dir(a.run)
    tokenizer = (bundle / manifest["decoder"]["tokenizer"]).read_bytes()
    if not (rd / "tokenizer.json").exists():
        (rd / "tokenizer.json").write_bytes(tokenizer)
    elif (rd / "tokenizer.json").read_bytes() != tokenizer:
        raise SystemExit(f"import: {bundle} has another tokenizer than run {a.run}")
    if a.keep_encoder:
        # --keep-encoder: the run continues the bundle as a whole, so its encoder takes the bundle's shape (an
        # older bundle ranks by the mean of its pooled vectors and has no retrieval query)
        if (rd / "contrast.pt").exists():
            raise SystemExit(f"import --keep-encoder: run {a.run} already trained an encoder of its own")
        (rd / "model.json").write_text(json.dumps({"retrieval_query": manifest["encoder"].get("retrieval", "mean") == "last"}) + "\n")
    dec_cfg, enc_cfg, ad_cfg = model_configs(a.smoke, a.run)
    dec, enc, ad = Decoder(dec_cfg), Encoder(enc_cfg), Adapter(ad_cfg)
    wrapped = _DecoderWithPast(dec, dec_cfg.num_layers)
    n = import_onnx_weights(wrapped, bundle / manifest["decoder"]["file"], lambda m, p: export_decoder(
        m, p, num_layers=dec_cfg.num_layers, num_kv=dec_cfg.num_kv_heads, head_dim=dec_cfg.head_dim, hidden=dec_cfg.hidden_size))
    table = np.fromfile(bundle / manifest["decoder"]["embeddings"]["file"], dtype="<f4").reshape(dec_cfg.vocab_size, dec_cfg.hidden_size)
    if not np.array_equal(table, dec.embed.weight.detach().numpy()):
        raise SystemExit("import: embeddings.bin is not the decoder's output projection (this recipe ties them)")
    # The proof: the imported module computes what the bundle's decoder.onnx computes.
    x = torch.randn(1, 5, dec_cfg.hidden_size)
    past = [torch.zeros(1, dec_cfg.num_kv_heads, 0, dec_cfg.head_dim) for _ in range(2 * dec_cfg.num_layers)]
    sess = ort.InferenceSession(str(bundle / manifest["decoder"]["file"]), providers=["CPUExecutionProvider"])
    feeds = {"inputs_embeds": x.numpy(), "attention_mask": np.ones((1, 5), np.int64), "position_ids": np.arange(5)[None]}
    feeds.update({f"past_key_values.{i // 2}.{'key' if i % 2 == 0 else 'value'}": p.numpy() for i, p in enumerate(past)})
    with torch.no_grad():
        diff = float(np.abs(sess.run(["logits"], feeds)[0] - wrapped.eval()(x, torch.ones(1, 5, dtype=torch.long), torch.arange(5)[None], *past)[0].numpy()).max())
    if diff > 1e-3:
        raise SystemExit(f"import: the imported decoder's logits differ from decoder.onnx's by {diff}")
    state = {"decoder": dec.state_dict(), "step": 0, "wall_s": 0.0, "bundle": manifest["id"]}
    enc_m = manifest["encoder"]
    if enc_m["vectorsPerChunk"] == enc.outputs and enc_m.get("retrieval", "mean") == enc.retrieval_mode:
        import_onnx_weights(enc, bundle / enc_m["file"], lambda m, p: export_encoder(m, p, enc_cfg.vocab_size))
        import_onnx_weights(ad, bundle / manifest["adapter"]["file"], lambda m, p: export_adapter(m, p, enc.outputs, enc_cfg.hidden_size))
        state |= {"encoder": enc.state_dict(), "adapter": ad.state_dict()}
        kept = "decoder, encoder and adapter"
    else:
        kept = (f"decoder only (the bundle's encoder has {enc_m['vectorsPerChunk']} vectors ranked by "
                f"{enc_m.get('retrieval', 'mean')}; this run's has {enc.outputs}, ranked by {enc.retrieval_mode})")
    save_ckpt(rd / "imported.pt", state)
    print(f"import: {manifest['id']} -> {rd / 'imported.pt'}: {kept}; {n} decoder tensors, logits within {diff:.1e} of decoder.onnx", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=STAGES)
    ap.add_argument("--run", default="default")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--bundle", default="", help="import: the bundle directory whose weights the run continues from")
    ap.add_argument("--keep-encoder", action="store_true", help="import: take the bundle's encoder and adapter whatever their shape (the run's encoder follows the bundle's: model.json)")
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--out", default="")
    ap.add_argument("--name", default="default")
    ap.add_argument("--data", default="")
    ap.add_argument("--no-bf16", dest="bf16", action="store_false", help="train in float32")
    ap.add_argument("--max-positions", type=int, default=384, help="instruct: decoder positions per example")
    ap.add_argument("--text-control", action="store_true", help="instruct: pure-text control (names as text, no soft tokens)")
    ap.add_argument("--text-frac", type=float, default=0.0, help="instruct: fraction of pure-text copy examples mixed into the soft-token run")
    ap.add_argument("--init-from", default="", help="instruct: initialise the decoder from this stage's checkpoint (e.g. textctl)")
    ap.add_argument("--lr", type=float, default=5e-4, help="instruct: peak learning rate")
    ap.add_argument("--context-positions", type=int, default=0, help="export: the context positions instruct trained with (manifest decoder.contextPositions: the planner's default budget)")
    ap.add_argument("--decoder-from", default="", help="instruct: on resume, take the decoder weights from this stage's checkpoint")
    ap.add_argument("--decoder-lr", type=float, default=0.0, help="align: also train the decoder at this peak rate (default 0: frozen)")
    ap.add_argument("--contrast-weight", type=float, default=0.0, help="align, encoder not frozen: weight of the contrastive loss kept alongside reconstruction")
    ap.add_argument("--freeze-encoder", action="store_true", help="align: train the adapter only (keeps the contrastive encoder)")
    ap.add_argument("--extra-questions", type=int, default=0, help="instruct: earlier answered 'where' turns per example")
    ap.add_argument("--extra-names", type=int, default=0, help="instruct: the same for the pure-text copy examples (short: many turns are cheap)")
    ap.add_argument("--names-weight", type=float, default=0.0, help="instruct: weight of the bag-of-names objective on soft tokens")
    ap.add_argument("--recon-frac", type=float, default=0.0, help="instruct: fraction of reconstruction examples")
    ap.add_argument("--copy-mix", type=int, default=0, help="instruct: copy-practice sequences (span, gap, span again) per step")
    ap.add_argument("--lm-mix", type=int, default=0, help="instruct: plain-code LM sequences (128 tokens) added to each step")
    ap.add_argument("--batch", type=int, default=8, help="instruct: examples per step")
    ap.add_argument("--lm-len", type=int, default=128, help="instruct: length of the --lm-mix sequences (as long as the contexts trains every position densely)")
    ap.add_argument("--copy-lead", type=int, default=0, help="instruct: copy practice starts at a random position up to this (default 0: the sequence start)")
    ap.add_argument("--rank-files", action="store_true", help="instruct: files in order of relevance to the request (best first), as the runtime's planner places them (with --extra-questions 0 --extra-names 0)")
    ap.add_argument("--rank-noise", type=float, default=0.0, help="instruct, with --rank-files: fraction of training examples left in drawn order, so that the first file is not always the best bet (held-out sets stay ranked)")
    ap.add_argument("--retrieved-frac", type=float, default=0.0, help="instruct: fraction of examples in the retrieved row's layout (the top-2 chunks as text, no soft tokens), so that the baseline row is one the decoder was trained for")
    ap.add_argument("--pointer-weight", type=float, default=0.0, help="instruct: weight of the pointer objective (a decoder head attends to the answer chunk's soft tokens)")
    ap.add_argument("--pointer-layer", type=int, default=2, help="instruct: the pointer objective's decoder layer")
    ap.add_argument("--pointer-from", default="last", choices=["last", "name"], help="instruct: the pointer objective's query position (see pointer_queries)")
    ap.add_argument("--pointer-head", type=int, default=0, help="instruct: the pointer objective's head in that layer")
    ap.add_argument("--task-mix", default=_LEG_KEY_SINCE["task_mix"], help="instruct: the tasks of the soft-token examples as task:weight pairs")
    ap.add_argument("--drop-template-docs", action="store_true", help="instruct: templated module docs (3+ others in the repository open alike) are not summary targets")
    ap.add_argument("--recon-by-repo", action="store_true", help="instruct: reconstruction chunks drawn repository first, by the questions' weights (default: from all chunks)")
    ap.add_argument("--prose-files", type=int, default=0, help="instruct: 'what' and summary examples over 1 file at the leg's start, growing to this many by its end (default 0: the stage's curriculum)")
    ap.add_argument("--recap-chunks", type=int, default=0, help="instruct: the encoder's N best chunks for the request repeated after the files, nearest the question (the runtime repeats them so: manifest decoder.recapChunks)")
    ap.add_argument("--focus-frac", type=float, default=0.0, help="instruct: fraction of 'what' and summary examples whose context is the asked file alone (reading prose from soft tokens, without the search)")
    ap.add_argument("--file-weight", type=float, default=0.0, help="instruct: weight of the file-binding objective (soft positions predict their file's path)")
    a = ap.parse_args(argv)
    task_mix(a.task_mix)  # a bad --task-mix fails here, before any data loads
    if a.contrast_weight and a.freeze_encoder:
        raise SystemExit("align: --contrast-weight keeps the retrieval space of an encoder that trains; it means nothing with --freeze-encoder")
    a.stage_name = "textctl" if (a.stage == "instruct" and a.text_control) else a.stage
    return a


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    set_threads(a.threads)
    torch.manual_seed(0)
    random.seed(0)
    {"lm": stage_lm, "copy": stage_copy, "contrast": stage_contrast, "align": stage_align, "instruct": stage_instruct, "export": stage_export,
     "import": stage_import}[a.stage](a)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
