"""Export the default bundle's decoder in the layout transformers.js loads from a local directory.

For the side-by-side decode bench (bench/decode-compare.bench.ts, issue 4): the SAME weights as
models/default/decoder.onnx, but with the Optimum decoder-with-past I/O transformers.js expects
(input_ids, attention_mask, position_ids, past_key_values.{i}.key|value -> logits, present.{i}.key|value),
plus config.json (model_type "llama"), generation_config.json, tokenizer.json, tokenizer_config.json.

The checkpoint is the one the bundle's manifest names (training.modules.decoder: stage + step), and is
checked against the bundle's embeddings.bin bit for bit. The logits of the export are then compared with
the bundle's decoder.onnx on the same tokens (onnxruntime); the max abs diff is printed and written to
parity.json in the output directory. The output is a build artefact: write it under work/ (gitignored).

Usage: python export_transformersjs.py [--out DIR] [--bundle models/default]
"""

from __future__ import annotations

import argparse
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from export import decoder_io
from model import Decoder, DecoderConfig

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OPSET = 17


class _IdsDecoderWithPast(nn.Module):
    """input_ids -> embeddings with the decoder's own (tied) table -> the bundle's KV forward."""

    def __init__(self, dec: Decoder):
        super().__init__()
        self.dec = dec

    def forward(self, input_ids, attention_mask, position_ids, *past):
        logits, presents = self.dec.forward_with_past(self.dec.embed(input_ids), attention_mask, position_ids, list(past))
        return (logits, *presents)


def find_checkpoint(bundle: Path, manifest: dict) -> tuple[Path, dict]:
    rec = manifest["training"]["modules"]["decoder"]
    run = manifest["training"].get("run", "default")
    rd = HERE / "work" / run
    stage, step = rec["stage"], rec["step"]
    emb = np.fromfile(bundle / manifest["decoder"]["embeddings"]["file"], dtype="<f4")
    for cand in (rd / f"{stage}.pt", rd / f"{stage}-step{step}.pt"):
        if not cand.exists():
            continue
        ck = torch.load(cand, map_location="cpu", weights_only=False)
        if "decoder" not in ck or ck.get("step") != step:
            continue
        w = ck["decoder"]["embed.weight"].numpy().astype("<f4").ravel()
        if w.shape == emb.shape and np.array_equal(w, emb):
            return cand, ck
    raise SystemExit(f"no checkpoint in {rd} matches the bundle's decoder ({stage} step {step}, embeddings.bin)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default=str(ROOT / "models" / "default"))
    ap.add_argument("--out", default=str(HERE / "work" / "transformersjs" / "default"))
    a = ap.parse_args()
    bundle, out = Path(a.bundle), Path(a.out)
    manifest = json.loads((bundle / "manifest.json").read_text())
    cfg = DecoderConfig(**manifest["training"]["configs"]["decoder"])
    ckpt, ck = find_checkpoint(bundle, manifest)
    dec = Decoder(cfg)
    dec.load_state_dict(ck["decoder"])
    dec.eval()
    print(f"checkpoint: {ckpt.relative_to(ROOT)} (step {ck['step']})")

    (out / "onnx").mkdir(parents=True, exist_ok=True)
    tok = json.loads((bundle / manifest["decoder"]["tokenizer"]).read_text())
    ids_of = {t["content"]: t["id"] for t in tok["added_tokens"]}
    eos_ids = list(manifest["eosTokenIds"])
    sp = manifest["specialTokens"]
    bos_id = ids_of[sp["eos"]]  # the model has no BOS of its own; transformers wants an id
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.ffn_size,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads,
        "num_hidden_layers": cfg.num_layers,
        "head_dim": cfg.head_dim,
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.max_positions,
        "rms_norm_eps": 1e-6,
        "rope_theta": cfg.rope_theta,
        "hidden_act": "silu",
        "tie_word_embeddings": True,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": bos_id,
        "eos_token_id": eos_ids,
        "pad_token_id": ids_of[sp["pad"]],
        "torch_dtype": "float32",
        "use_cache": True,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": bos_id, "eos_token_id": eos_ids, "pad_token_id": ids_of[sp["pad"]], "do_sample": False}, indent=2)
        + "\n"
    )
    shutil.copyfile(bundle / manifest["decoder"]["tokenizer"], out / "tokenizer.json")
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "model_max_length": cfg.max_positions,
                "bos_token": sp["eos"],
                "eos_token": sp["eos"],
                "pad_token": sp["pad"],
                "unk_token": None,
                "add_bos_token": False,
                "add_eos_token": False,
                "clean_up_tokenization_spaces": False,
            },
            indent=2,
        )
        + "\n"
    )

    # Export: same exporter and settings as export.py (TorchScript, opset 17).
    L, KV, HD = cfg.num_layers, cfg.num_kv_heads, cfg.head_dim
    names_in, names_out, axes, args = decoder_io(
        "input_ids",
        torch.randint(0, cfg.vocab_size, (1, 3)),
        num_layers=L,
        num_kv=KV,
        head_dim=HD,
        axis_names=("batch_size", "sequence_length", "past_sequence_length", "total_sequence_length"),
    )
    model_path = out / "onnx" / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _IdsDecoderWithPast(dec),
            args,
            str(model_path),
            input_names=names_in,
            output_names=names_out,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )

    # Parity: this export against the bundle's decoder.onnx (embeddings from embeddings.bin), same tokens,
    # a prefill of 24 tokens then 4 single-token steps with the cache.
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    mine = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
    ref = ort.InferenceSession(str(bundle / manifest["decoder"]["file"]), so, providers=["CPUExecutionProvider"])
    table = np.fromfile(bundle / manifest["decoder"]["embeddings"]["file"], dtype="<f4").reshape(cfg.vocab_size, cfg.hidden_size)
    rng = np.random.default_rng(0)
    ids = rng.integers(7, cfg.vocab_size, size=(1, 28)).astype(np.int64)
    empty = {f"past_key_values.{i}.{kv}": np.zeros((1, KV, 0, HD), np.float32) for i in range(L) for kv in ("key", "value")}
    past_m, past_r, max_diff, pos = dict(empty), dict(empty), 0.0, 0
    for lo, hi in ((0, 24), (24, 25), (25, 26), (26, 27), (27, 28)):
        chunk = ids[:, lo:hi]
        common = {"attention_mask": np.ones((1, hi), np.int64), "position_ids": np.arange(lo, hi, dtype=np.int64)[None]}
        om = mine.run(None, {"input_ids": chunk, **common, **past_m})
        orf = ref.run(None, {"inputs_embeds": table[chunk], **common, **past_r})
        max_diff = max(max_diff, float(np.abs(om[0] - orf[0]).max()))
        names = [f"past_key_values.{i}.{kv}" for i in range(L) for kv in ("key", "value")]
        past_m = dict(zip(names, om[1:]))
        past_r = dict(zip(names, orf[1:]))
        pos = hi
    parity = {
        "bundleId": manifest["id"],
        "checkpoint": str(ckpt.relative_to(ROOT)),
        "step": ck["step"],
        "tokens": pos,
        "maxAbsLogitDiffVsBundle": max_diff,
    }
    (out / "parity.json").write_text(json.dumps(parity, indent=2) + "\n")
    print(f"wrote {out}; max abs logit diff vs bundle decoder.onnx over {pos} tokens: {max_diff:.3g}")
    if max_diff > 1e-3:
        raise SystemExit(f"parity failed: max abs diff {max_diff}")


if __name__ == "__main__":
    main()
