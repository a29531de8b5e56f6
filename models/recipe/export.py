"""Export trained weights to a model bundle by the contract of src/core/bundle/manifest.ts.

TorchScript ONNX exporter, opset 17, dynamo=False. Writes encoder.onnx, adapter.onnx, decoder.onnx
(inputs_embeds + KV cache, HF/Optimum names), embeddings.bin (raw little-endian float32 [V,H]),
tokenizer.json, manifest.json and parity.json (fixed inputs and PyTorch's outputs, for the Node parity test).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from common import CHAT_TEMPLATE, SPECIAL_TOKENS

OPSET = 17


class _DecoderWithPast(nn.Module):
    def __init__(self, dec, num_layers: int):
        super().__init__()
        self.dec, self.n = dec, num_layers

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        logits, presents = self.dec.forward_with_past(inputs_embeds, attention_mask, position_ids, list(past))
        return (logits, *presents)


class _HFDecoderWithPast(nn.Module):
    """A transformers causal LM behind the same signature (legacy tuple cache in, tuple out)."""

    def __init__(self, lm, num_layers: int):
        super().__init__()
        self.lm, self.n = lm, num_layers

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        from transformers import DynamicCache

        cache = DynamicCache()
        for i in range(self.n):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.lm(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
            return_dict=True,
        )
        pkv = out.past_key_values
        presents = []
        for i in range(self.n):
            layer = pkv.layers[i] if hasattr(pkv, "layers") else None
            if layer is not None:
                presents += [layer.keys, layer.values]
            else:
                presents += [pkv.key_cache[i], pkv.value_cache[i]]
        return (out.logits, *presents)


def decoder_io(
    first_input: str,
    first_arg: torch.Tensor,
    *,
    num_layers: int,
    num_kv: int,
    head_dim: int,
    axis_names: tuple[str, str, str, str] = ("batch", "seq", "past", "total"),
    P: int = 2,
):
    """Decoder-with-past I/O (Optimum convention): names, dynamic axes and example args for export.
    first_input is inputs_embeds (the bundle) or input_ids (the transformers.js export); axis_names are
    (batch, sequence, past, total) in the convention the consumer expects."""
    b, seq, past_ax, total = axis_names
    B, T = first_arg.shape[:2]
    names_in = [first_input, "attention_mask", "position_ids"]
    names_out = ["logits"]
    axes = {first_input: {0: b, 1: seq}, "attention_mask": {0: b, 1: total}, "position_ids": {0: b, 1: seq}, "logits": {0: b, 1: seq}}
    past = []
    for i in range(num_layers):
        for kv in ("key", "value"):
            past.append(torch.randn(B, num_kv, P, head_dim))
            names_in.append(f"past_key_values.{i}.{kv}")
            names_out.append(f"present.{i}.{kv}")
            axes[f"past_key_values.{i}.{kv}"] = {0: b, 2: past_ax}
            axes[f"present.{i}.{kv}"] = {0: b, 2: total}
    args = (first_arg, torch.ones(B, P + T, dtype=torch.long), torch.arange(P, P + T).unsqueeze(0), *past)
    return names_in, names_out, axes, args


def export_decoder(module: nn.Module, path: Path, *, num_layers: int, num_kv: int, head_dim: int, hidden: int) -> None:
    names_in, names_out, axes, args = decoder_io(
        "inputs_embeds", torch.randn(1, 3, hidden), num_layers=num_layers, num_kv=num_kv, head_dim=head_dim
    )
    _export(module, args, path, names_in, names_out, axes)


def _export(module, args, path: Path, names_in, names_out, axes) -> None:
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=names_in,
            output_names=names_out,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )


def export_encoder(module: nn.Module, path: Path, vocab: int) -> None:
    ids = torch.randint(0, vocab, (2, 7))
    mask = torch.ones(2, 7, dtype=torch.long)
    _export(
        module,
        (ids, mask),
        path,
        ["input_ids", "attention_mask"],
        ["chunk_vectors"],
        {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "chunk_vectors": {0: "batch"}},
    )


def export_adapter(module: nn.Module, path: Path, vectors: int, enc_hidden: int) -> None:
    _export(
        module,
        (torch.randn(3, vectors, enc_hidden),),
        path,
        ["chunk_vectors"],
        ["soft_tokens"],
        {"chunk_vectors": {0: "chunks"}, "soft_tokens": {0: "chunks"}},
    )


def json_safe(x):
    """The training record with NaN/inf metrics as null: JSON has no NaN, and the runtime's JSON.parse would
    refuse the whole manifest over one undefined metric."""
    if isinstance(x, float) and not np.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def bundle_id(out: Path, files: list[str]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update((out / f).read_bytes())
    return h.hexdigest()[:16]


def write_bundle(
    out: Path,
    *,
    name: str,
    encoder: nn.Module,
    adapter: nn.Module,
    decoder_module: nn.Module,
    embed_weight: torch.Tensor,
    tokenizer_path: Path,
    enc_info: dict,
    dec_info: dict,
    soft_tokens_per_chunk: int,
    training: dict,
    parity_inputs: dict | None = None,
    capabilities: list[str] | None = None,
) -> dict:
    """enc_info: vocab, hiddenSize, vectorsPerChunk (every pooled vector the encoder outputs), maxTokens, and
    optionally retrieval ("mean": rank by the mean of the pooled vectors; "last": by the last one alone,
    which the adapter does not read). dec_info: hiddenSize, numLayers,
    numKeyValueHeads, headDim, vocabSize, maxPositions."""
    out.mkdir(parents=True, exist_ok=True)
    export_encoder(encoder, out / "encoder.onnx", enc_info["vocab"])
    export_adapter(adapter, out / "adapter.onnx", enc_info["vectorsPerChunk"], enc_info["hiddenSize"])
    export_decoder(
        decoder_module,
        out / "decoder.onnx",
        num_layers=dec_info["numLayers"],
        num_kv=dec_info["numKeyValueHeads"],
        head_dim=dec_info["headDim"],
        hidden=dec_info["hiddenSize"],
    )
    embed_weight.detach().cpu().to(torch.float32).numpy().astype("<f4").tofile(out / "embeddings.bin")
    if tokenizer_path.resolve() != (out / "tokenizer.json").resolve():
        shutil.copyfile(tokenizer_path, out / "tokenizer.json")
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    eos_ids = [tok.token_to_id(SPECIAL_TOKENS["endOfTurn"]), tok.token_to_id(SPECIAL_TOKENS["eos"])]
    files = ["encoder.onnx", "adapter.onnx", "decoder.onnx", "embeddings.bin", "tokenizer.json"]
    manifest = {
        "formatVersion": 1,
        "name": name,
        "id": f"{name}-{bundle_id(out, files)}",
        "encoder": {
            "file": "encoder.onnx",
            "tokenizer": "tokenizer.json",
            "maxTokens": enc_info["maxTokens"],
            "hiddenSize": enc_info["hiddenSize"],
            "vectorsPerChunk": enc_info["vectorsPerChunk"],
            "retrieval": enc_info.get("retrieval", "mean"),
        },
        "adapter": {"file": "adapter.onnx", "softTokensPerChunk": soft_tokens_per_chunk},
        "decoder": {
            "file": "decoder.onnx",
            "tokenizer": "tokenizer.json",
            **{k: dec_info[k] for k in ("hiddenSize", "numLayers", "numKeyValueHeads", "headDim", "vocabSize", "maxPositions")},
            **({"contextPositions": dec_info["contextPositions"]} if dec_info.get("contextPositions") else {}),
            **({"contextOrder": dec_info["contextOrder"]} if dec_info.get("contextOrder") else {}),
            **({"recapChunks": dec_info["recapChunks"]} if dec_info.get("recapChunks") else {}),
            "embeddings": {"file": "embeddings.bin", "dtype": "float32"},
        },
        "chatTemplate": CHAT_TEMPLATE,
        "specialTokens": SPECIAL_TOKENS,
        "eosTokenIds": eos_ids,
        **({"capabilities": capabilities} if capabilities is not None else {}),
        "training": training,
    }
    (out / "manifest.json").write_text(json.dumps(json_safe(manifest), indent=2, allow_nan=False) + "\n")
    if parity_inputs is not None:
        write_parity(out, encoder, adapter, decoder_module, embed_weight, parity_inputs, dec_info)
    return manifest


@torch.no_grad()
def write_parity(out: Path, encoder, adapter, decoder_module, embed_weight, inp: dict, dec_info: dict) -> None:
    """Fixed inputs and PyTorch outputs; test/recipe/parity.ts replays them through onnxruntime-node."""
    ids = torch.tensor(inp["encoder_input_ids"], dtype=torch.long)
    mask = torch.tensor(inp["encoder_attention_mask"], dtype=torch.long)
    vec = encoder(ids, mask)
    soft = adapter(vec)
    prompt = torch.tensor(inp["decoder_input_ids"], dtype=torch.long)
    emb = embed_weight[prompt][None]
    # Soft tokens of every chunk first, then the text tokens: exercises inputs_embeds with both kinds.
    embeds = torch.cat([soft.reshape(1, -1, soft.shape[-1]), emb], dim=1)
    T = embeds.shape[1]
    past = [torch.zeros(1, dec_info["numKeyValueHeads"], 0, dec_info["headDim"]) for _ in range(2 * dec_info["numLayers"])]
    outs = decoder_module(embeds, torch.ones(1, T, dtype=torch.long), torch.arange(T)[None], *past)
    logits = outs[0]
    # One cached step on top: the greedy next token.
    nxt = int(logits[0, -1].argmax())
    outs2 = decoder_module(embed_weight[[nxt]][None], torch.ones(1, T + 1, dtype=torch.long), torch.tensor([[T]]), *outs[1:])
    parity = {
        **inp,
        "chunk_vectors": vec.flatten().tolist(),
        "chunk_vectors_shape": list(vec.shape),
        "soft_tokens": soft.flatten().tolist(),
        "soft_tokens_shape": list(soft.shape),
        "prefill_last_logits": logits[0, -1].tolist(),
        "prefill_logits_max_over_positions": logits[0].max(-1).values.tolist(),
        "next_token": nxt,
        "step_logits": outs2[0][0, -1].tolist(),
    }
    (out / "parity.json").write_text(json.dumps(parity))


# ---------------------------------------------------------------- bundle -> weights (continue training from a bundle)


def _consumers(graph) -> dict[str, tuple[int, str, int]]:
    """Initializer name -> (index among the nodes that read initializers, op type, input slot) of the first
    node that reads it: the same in two exports of one architecture, whatever names the exporter gave the
    initializers, and whatever nodes without weights came in between (the adapter now slices its input to
    the first vectors, a node that bundles exported before the retrieval query do not have)."""
    inits = {i.name for i in graph.initializer}
    key: dict[str, tuple[int, str, int]] = {}
    n = 0
    for node in graph.node:
        reads = [j for j, name in enumerate(node.input) if name in inits]
        if not reads:
            continue
        for j in reads:
            if node.input[j] not in key:
                key[node.input[j]] = (n, node.op_type, j)
        n += 1
    return key


def _param_holding(params: dict[str, nn.Parameter], taken: set[str], t: torch.Tensor) -> tuple[str, bool] | None:
    """(name, transposed) of the parameter not yet taken whose values `t` holds, as they are or, for a
    Linear weight stored as the MatMul's [in, out], transposed; None for a constant."""
    for n, p in params.items():
        if n in taken or p.numel() != t.numel():
            continue
        if torch.equal(p.reshape(t.shape), t):
            return n, False
        if t.dim() == 2 and p.dim() == 2 and torch.equal(p.T, t):
            return n, True
    return None


@torch.no_grad()
def import_onnx_weights(module: nn.Module, onnx_path: Path, export_fn) -> int:
    """Load the weights of a bundle's ONNX file into `module`, which must have the architecture it was
    exported from. The exporter renames most weights (`onnx::MatMul_N`, stored transposed), so the module is
    exported as it is (`export_fn(module, path)`), each of its initializers is paired with the bundle's by
    the node that reads it, and the parameter behind it is found by name or, failing that, by value.
    Every parameter must be found; initializers that are no parameter (constants) must agree. Returns the
    number of parameters loaded."""
    import tempfile

    import onnx
    from onnx import numpy_helper

    # Distinct random values first (all overwritten below): the exporter merges equal initializers (e.g.
    # fresh RMSNorm weights, all ones) into one, which would change the graph; distinct values also make the
    # match by value unambiguous.
    gen = torch.Generator().manual_seed(0)
    for p in module.parameters():
        p.copy_(torch.randn(p.shape, generator=gen))
    with tempfile.TemporaryDirectory() as tmp:
        export_fn(module, Path(tmp) / "m.onnx")
        mine = onnx.load(str(Path(tmp) / "m.onnx"))
    theirs = onnx.load(str(onnx_path))
    mk, tk = _consumers(mine.graph), _consumers(theirs.graph)
    by_key = {v: k for k, v in tk.items()}
    their_arrays = {i.name: numpy_helper.to_array(i) for i in theirs.graph.initializer}
    params = dict(module.named_parameters())
    loaded: set[str] = set()
    for init in mine.graph.initializer:
        if init.name not in mk or mk[init.name] not in by_key:
            raise ValueError(f"{onnx_path.name}: no counterpart for {init.name}: not the architecture this run builds")
        value = numpy_helper.to_array(init)
        their = their_arrays[by_key[mk[init.name]]]
        if their.shape != value.shape:
            raise ValueError(f"{onnx_path.name}: {init.name} is {list(their.shape)}, this run's is {list(value.shape)}")
        match = (init.name, False) if init.name in params else _param_holding(params, loaded, torch.from_numpy(value.copy()))
        if match is None:
            if not np.array_equal(value, their):
                raise ValueError(f"{onnx_path.name}: constant {init.name} differs from this run's: not the same architecture")
            continue
        name, transposed = match
        p = params[name]
        src = torch.from_numpy(their.copy()).to(p.dtype)
        p.copy_(src.T if transposed else src.reshape(p.shape))
        loaded.add(name)
    missing = sorted(set(params) - loaded)
    if missing:
        raise ValueError(f"{onnx_path.name}: no weights found for {', '.join(missing[:5])}")
    return len(loaded)
