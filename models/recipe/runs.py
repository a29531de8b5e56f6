"""A run's files: its work directory, tokenizer, data, model sizes and the latest weights of each module."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer

from common import WORK_DIR, load_ckpt
from model import Adapter, AdapterConfig, Decoder, DecoderConfig, Encoder, EncoderConfig


# "imported": a bundle's weights (train.py import), below every trained stage. The pure-text control run
# ("textctl") is never exported.
MODEL_STAGES = ["imported", "lm", "contrast", "align", "instruct"]


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


def data_dir(a) -> Path:
    return Path(a.data) if a.data else WORK_DIR / ("data-smoke" if a.smoke else "data")


def latest_modules(a, upto: str | None = None) -> tuple[Decoder, Encoder, Adapter, dict]:
    """Decoder/encoder/adapter from the latest stage checkpoint that has each (fresh init otherwise);
    with `upto`, only stages before that one count."""
    rd = run_dir(a.run)
    order = MODEL_STAGES if upto is None else MODEL_STAGES[: MODEL_STAGES.index(upto)]
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


def context_order(run: str) -> str:
    """The file order the run's instruct stage trained with last ('repository' unless --rank-files)."""
    ck = load_ckpt(run_dir(run) / "instruct.pt")
    return (ck or {}).get("context_order", "repository")


def recap_chunks(run: str) -> int:
    """How many of the encoder's best chunks the run's instruct stage repeated after the files last (--recap-chunks)."""
    ck = load_ckpt(run_dir(run) / "instruct.pt")
    return int((ck or {}).get("recap_chunks", 0))


def context_positions(run: str) -> int:
    """The context positions the run's instruct stage trained with last (0 for a checkpoint that predates the record)."""
    ck = load_ckpt(run_dir(run) / "instruct.pt")
    return int((ck or {}).get("context_positions", 0))


def stage_state(rd: Path, stage: str, a, dev):
    """Modules for a stage: its own checkpoint if resuming, else the latest earlier stage's."""
    dec, enc, ad, _ = latest_modules(a, upto="instruct" if stage == "textctl" else stage)
    ck = load_ckpt(rd / f"{stage}.pt")
    return dec.to(dev), enc.to(dev), ad.to(dev), ck
