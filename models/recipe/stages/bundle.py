"""export: a run's latest modules -> a bundle (models/default by the default run); import: a bundle's weights -> a run's starting point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from common import save_ckpt
from model import Adapter, Decoder, Encoder, config_dict
from runs import MODEL_STAGES, context_order, context_positions, latest_modules, load_tokenizer, model_configs, recap_chunks, run_dir

RECIPE_VERSION = "0.1.0"  # the manifest's training.recipeVersion


def export(a) -> None:
    from export import _DecoderWithPast, write_bundle

    rd = run_dir(a.run)
    dec, enc, ad, record = latest_modules(a)
    tok = load_tokenizer(a.run)
    metrics = [json.loads(l) for l in (rd / "metrics.jsonl").read_text().splitlines()] if (rd / "metrics.jsonl").exists() else []
    summary = json.loads((rd / "summary.json").read_text()) if (rd / "summary.json").exists() else {}
    training = {
        "recipe": "models/recipe (train.py)",
        "recipeVersion": RECIPE_VERSION,
        "run": a.run,
        "smoke": a.smoke,
        "modules": record,
        "configs": {"decoder": config_dict(dec.cfg), "encoder": config_dict(enc.cfg), "adapter": config_dict(ad.cfg)},
        "data": "models/recipe/corpus.json (train split); held-out split used for every metric",
        "stageWallSeconds": {s: max([m["wall_s"] for m in metrics if m.get("stage") == s], default=0) for s in MODEL_STAGES + ["textctl"]},
        "stageSteps": {s: max([m["step"] for m in metrics if m.get("stage") == s], default=0) for s in MODEL_STAGES + ["textctl"]},
        "lmTokensPerSecond": round(
            float(np.mean([m["tok_per_s"] for m in metrics if m.get("stage") == "lm" and "tok_per_s" in m] or [0])), 1
        ),
        "machine": "2 shared CPU cores (load 5-10 from other work during training), torch 2.13+cpu, bf16 autocast",
        "lastMetrics": {
            s: next((m for m in reversed(metrics) if m.get("stage") == s and any(k.startswith("heldout") for k in m)), None)
            for s in MODEL_STAGES + ["textctl"]
        },
        **summary,
    }
    sample = 'def add(a, b):\n    """Return the sum."""\n    return a + b\n'
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
        out,
        name="default",
        encoder=enc.eval(),
        adapter=ad.eval(),
        decoder_module=_DecoderWithPast(dec.eval(), dec.cfg.num_layers),
        embed_weight=dec.embed.weight,
        tokenizer_path=rd / "tokenizer.json",
        enc_info={
            "vocab": enc.cfg.vocab_size,
            "hiddenSize": enc.cfg.hidden_size,
            "vectorsPerChunk": enc.outputs,
            "retrieval": enc.retrieval_mode,
            "maxTokens": enc.cfg.max_tokens,
        },
        dec_info={
            "hiddenSize": dec.cfg.hidden_size,
            "numLayers": dec.cfg.num_layers,
            "numKeyValueHeads": dec.cfg.num_kv_heads,
            "headDim": dec.cfg.head_dim,
            "vocabSize": dec.cfg.vocab_size,
            "maxPositions": dec.cfg.max_positions,
            **({"contextPositions": cp} if (cp := a.context_positions or context_positions(a.run)) else {}),
            "contextOrder": context_order(a.run),
            **({"recapChunks": recap_chunks(a.run)} if recap_chunks(a.run) else {}),
        },
        soft_tokens_per_chunk=ad.cfg.soft_tokens_per_chunk,
        training=training,
        parity_inputs=parity_inputs,
        capabilities=capabilities_from((training.get("lastMetrics") or {}).get("instruct") or {}),
    )
    size = sum(f.stat().st_size for f in out.iterdir() if f.name != "parity.json")
    print(f"bundle {manifest['id']} -> {out} ({size / 1e6:.1f} MB)")


# What the product shows from a bundle (manifest `capabilities`) is decided here, from the run's held-out
# instruct metrics: prose only when it beats the same decoder given another chunk's soft tokens by a margin
# and reaches a floor of ROUGE-L. The recipe has no evaluation of written code, so it never claims 'generate'.
LOCATE_MIN = 0.5  # held-out "where" path accuracy with the defining chunk as text
PROSE_MIN = 0.3  # held-out ROUGE-L
PROSE_OVER_SHUFFLED = 0.05


def capabilities_from(metrics: dict) -> list[str]:
    caps = []
    if metrics.get("heldout_where_hybrid_path", metrics.get("heldout_where_soft_path", 0.0)) >= LOCATE_MIN:
        caps.append("locate")
    for task, cap in (("what", "explain"), ("summary", "summarize")):
        own, shuffled = metrics.get(f"heldout_{task}"), metrics.get(f"heldout_{task}_shuffled")
        if own is not None and shuffled is not None and own >= PROSE_MIN and own - shuffled >= PROSE_OVER_SHUFFLED:
            caps.append(cap)
    return caps


def import_bundle(a) -> None:
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
    n = import_onnx_weights(
        wrapped,
        bundle / manifest["decoder"]["file"],
        lambda m, p: export_decoder(
            m, p, num_layers=dec_cfg.num_layers, num_kv=dec_cfg.num_kv_heads, head_dim=dec_cfg.head_dim, hidden=dec_cfg.hidden_size
        ),
    )
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
        diff = float(
            np.abs(
                sess.run(["logits"], feeds)[0]
                - wrapped.eval()(x, torch.ones(1, 5, dtype=torch.long), torch.arange(5)[None], *past)[0].numpy()
            ).max()
        )
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
        kept = (
            f"decoder only (the bundle's encoder has {enc_m['vectorsPerChunk']} vectors ranked by "
            f"{enc_m.get('retrieval', 'mean')}; this run's has {enc.outputs}, ranked by {enc.retrieval_mode})"
        )
    save_ckpt(rd / "imported.pt", state)
    print(
        f"import: {manifest['id']} -> {rd / 'imported.pt'}: {kept}; {n} decoder tensors, logits within {diff:.1e} of decoder.onnx",
        flush=True,
    )
