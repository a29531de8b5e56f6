"""The recipe with Hugging Face models: a transformers encoder (e.g. GTE/BGE, any AutoModel) and causal LM
(e.g. Qwen2.5-Coder, any AutoModelForCausalLM) from local directories, LoRA on the decoder via peft.

Trains learned-query pooling + the adapter (and decoder LoRA) by E2LLM reconstruction on the recipe's chunks,
then exports a bundle by the same contract as the built-in model (encoder.onnx, adapter.onnx,
decoder.onnx with inputs_embeds + KV cache, embeddings.bin, manifest.json). Runs on CUDA when present.

  python hf.py --encoder DIR --decoder DIR --data DATA_DIR --out BUNDLE_DIR [--steps N] [--lora-rank 8]
  python hf.py --tiny-test OUT     # tiny random BertConfig + Qwen2Config saved to a temp dir, then the above
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import device, set_threads
from model import Adapter, AdapterConfig, RMSNorm, attend


class HFEncoder(nn.Module):
    """AutoModel encoder + k learned queries pooling its last hidden states -> chunk_vectors [B,k,d]."""

    def __init__(self, model, vectors: int, max_tokens: int):
        super().__init__()
        self.model = model
        d = model.config.hidden_size
        self.queries = nn.Parameter(torch.randn(vectors, d) * 0.02)
        self.pool_k = nn.Linear(d, d, bias=False)
        self.pool_v = nn.Linear(d, d, bias=False)
        self.out_norm = RMSNorm(d)
        self.hidden_size, self.vectors, self.max_tokens = d, vectors, max_tokens

    def forward(self, input_ids, attention_mask):
        h = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        B = h.shape[0]
        q = self.queries[None].expand(B, -1, -1)
        keep = attention_mask.bool()[:, None, None, :]
        pooled = attend(q[:, None], self.pool_k(h)[:, None], self.pool_v(h)[:, None], keep)[:, 0]
        return self.out_norm(pooled + q)


class DecoderCfg:
    def __init__(self, c, max_positions: int):
        self.hidden_size = c.hidden_size
        self.num_layers = c.num_hidden_layers
        self.num_heads = c.num_attention_heads
        self.num_kv_heads = getattr(c, "num_key_value_heads", None) or c.num_attention_heads
        self.head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        self.vocab_size = c.vocab_size
        self.max_positions = max_positions


class HFDecoder(nn.Module):
    """Causal LM behind the built-in decoder's interface (`embed`, `__call__(inputs_embeds) -> logits`)."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm
        base = lm.get_base_model() if hasattr(lm, "get_base_model") else lm
        self.cfg = DecoderCfg(base.config, getattr(base.config, "max_position_embeddings", 2048))

    @property
    def embed(self):
        return self.lm.get_input_embeddings()

    def forward(self, inputs_embeds):
        return self.lm(inputs_embeds=inputs_embeds, use_cache=False).logits


def tiny_models(tmp: Path, vocab: int) -> tuple[Path, Path]:
    """Randomly initialised tiny BERT and Qwen2 (hidden 32) saved as local model directories."""
    from transformers import AutoModel, AutoModelForCausalLM, BertConfig, Qwen2Config

    enc_dir, dec_dir = tmp / "tiny-bert", tmp / "tiny-qwen2"
    bert = BertConfig(
        vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=256
    )
    qwen = Qwen2Config(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    AutoModel.from_config(bert).save_pretrained(enc_dir)
    AutoModelForCausalLM.from_config(qwen).save_pretrained(dec_dir)
    return enc_dir, dec_dir


def run(a) -> dict:
    from peft import LoraConfig, get_peft_model
    from tokenizers import Tokenizer
    from transformers import AutoModel, AutoModelForCausalLM

    from data import load_files, reconstruction_example
    from export import _HFDecoderWithPast, write_bundle
    from batches import TokCache, assemble, batch_soft

    dev = device()
    t0 = time.time()
    tok_path = Path(a.tokenizer) if a.tokenizer else Path(a.decoder) / "tokenizer.json"
    toks = TokCache(Tokenizer.from_file(str(tok_path)))
    enc = HFEncoder(AutoModel.from_pretrained(a.encoder, attn_implementation="eager"), a.vectors, a.max_tokens).to(dev)
    lm = AutoModelForCausalLM.from_pretrained(a.decoder, attn_implementation="eager")
    lora = LoraConfig(r=a.lora_rank, lora_alpha=2 * a.lora_rank, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
    lm = get_peft_model(lm, lora).to(dev)
    dec = HFDecoder(lm)
    ad = Adapter(
        AdapterConfig(
            in_size=enc.hidden_size,
            vectors_per_chunk=a.vectors,
            out_size=dec.cfg.hidden_size,
            soft_tokens_per_chunk=a.soft_tokens,
            hidden_size=4 * dec.cfg.hidden_size,
        )
    ).to(dev)
    # The pretrained encoder body stays frozen (its representations are the point of using it); pooling,
    # adapter and the decoder's LoRA are trained, as in E2LLM.
    for p in enc.model.parameters():
        p.requires_grad_(False)
    params = [p for p in list(enc.parameters()) + list(ad.parameters()) + list(lm.parameters()) if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr)
    train = load_files(Path(a.data) / "train.jsonl") if (Path(a.data) / "train.jsonl").exists() else {}
    held = load_files(Path(a.data) / "heldout.jsonl")
    items = [(f, c) for files in (train or held).values() for f in files for c in f.chunks]
    rng = random.Random(0)
    losses = []
    for step in range(a.steps):
        exs = [reconstruction_example(rng, f, c, 16) for f, c in rng.sample(items, min(a.batch, len(items)))]
        soft, offs = batch_soft(exs, enc, ad, toks, dev, a.max_tokens, grad=True)
        embeds, tg, _, _ = assemble(exs, toks, dec, soft, offs, 16, dev)
        logits = dec(embeds)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(round(loss.item(), 4))
    merged = lm.merge_and_unload().eval().to("cpu")
    enc, ad = enc.eval().to("cpu"), ad.eval().to("cpu")
    c = dec.cfg
    out = Path(a.out)
    sample_ids = toks("def add(a, b):\n    return a + b\n")[: a.max_tokens]
    manifest = write_bundle(
        out,
        name=a.name,
        encoder=enc,
        adapter=ad,
        decoder_module=_HFDecoderWithPast(merged, c.num_layers),
        embed_weight=merged.get_input_embeddings().weight,
        tokenizer_path=tok_path,
        enc_info={
            "vocab": enc.model.config.vocab_size,
            "hiddenSize": enc.hidden_size,
            "vectorsPerChunk": enc.vectors,
            "maxTokens": a.max_tokens,
        },
        dec_info={
            "hiddenSize": c.hidden_size,
            "numLayers": c.num_layers,
            "numKeyValueHeads": c.num_kv_heads,
            "headDim": c.head_dim,
            "vocabSize": c.vocab_size,
            "maxPositions": c.max_positions,
        },
        soft_tokens_per_chunk=a.soft_tokens,
        training={
            "recipe": "models/recipe/hf.py",
            "encoder": str(a.encoder),
            "decoder": str(a.decoder),
            "lora_rank": a.lora_rank,
            "steps": a.steps,
            "losses": losses,
            "wall_s": round(time.time() - t0, 1),
            "device": str(dev),
        },
        parity_inputs={
            "encoder_input_ids": [sample_ids],
            "encoder_attention_mask": [[1] * len(sample_ids)],
            "decoder_input_ids": toks("<|im_start|>user\nWhere is add defined?<|im_end|>\n<|im_start|>assistant\n"),
        },
    )
    return {"bundle": str(out), "id": manifest["id"], "losses": losses}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder")
    ap.add_argument("--decoder")
    ap.add_argument("--tokenizer", default="")
    ap.add_argument("--data", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--name", default="hf")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--vectors", type=int, default=2)
    ap.add_argument("--soft-tokens", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tiny-test", default="", help="OUT dir: tiny random HF models, a few steps, export there")
    a = ap.parse_args()
    set_threads(a.threads)
    if a.tiny_test:
        tmp = Path(tempfile.mkdtemp(prefix="e2code-hf-"))
        try:
            from tokenizers import Tokenizer

            vocab = Tokenizer.from_file(a.tokenizer).get_vocab_size()
            a.encoder, a.decoder = map(str, tiny_models(tmp, vocab))
            a.out, a.steps, a.batch, a.max_tokens = a.tiny_test, min(a.steps, 4), 4, 64
            print(json.dumps(run(a)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    print(json.dumps(run(a)))


if __name__ == "__main__":
    main()
