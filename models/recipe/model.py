"""The built-in E2LLM model: bidirectional encoder with learned-query pooling, adapter MLP, Llama-style decoder.

One file, nanoGPT style. The decoder's `forward_with_past` is exactly what decoder.onnx computes (Hugging
Face/Optimum decoder-with-past convention); `forward` is the fast training path (SDPA, causal, no cache)
and gives the same logits for unpadded input (checked by the parity test).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG_INF = -1e9  # finite so that a fully masked row (a padding query) stays NaN-free


@dataclass
class DecoderConfig:
    vocab_size: int = 8192
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    ffn_size: int = 704
    max_positions: int = 2048
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass
class EncoderConfig:
    vocab_size: int = 8192
    hidden_size: int = 192
    num_layers: int = 2
    num_heads: int = 4
    ffn_size: int = 512
    max_tokens: int = 128
    vectors_per_chunk: int = 4  # learned pooling queries whose vectors the adapter turns into soft tokens
    # One more query whose vector is only the runtime's ranking vector (bundle manifest encoder.retrieval
    # "last"), so that alignment can train the soft-token vectors without moving retrieval. Off: chunks
    # are ranked by the mean of the soft-token vectors (encoder.retrieval "mean").
    retrieval_query: bool = False
    rope_theta: float = 10000.0


@dataclass
class AdapterConfig:
    in_size: int = 192
    vectors_per_chunk: int = 4
    out_size: int = 256
    soft_tokens_per_chunk: int = 4
    hidden_size: int = 1024


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=position_ids.device) / head_dim))
    freqs = position_ids.to(torch.float32)[..., None] * inv_freq  # [B,T,hd/2]
    emb = torch.cat([freqs, freqs], dim=-1)  # HF layout: rotate_half over two halves
    return emb.cos()[:, None], emb.sin()[:, None]  # [B,1,T,hd]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """Plain softmax attention (exports to MatMul/Softmax). allowed: bool [B,1,Tq,Tk] or None."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if allowed is not None:
        scores = scores.masked_fill(~allowed, NEG_INF)
    return scores.softmax(-1) @ v


def head_log_attention(q: torch.Tensor, k: torch.Tensor, head: int, qpos: torch.Tensor) -> torch.Tensor:
    """One head's causal attention log-probabilities at one query position per row: [B, T]."""
    rows = torch.arange(q.shape[0], device=q.device)
    qh = q[rows, head, qpos].float()  # [B, hd]
    scores = torch.einsum("bd,btd->bt", qh, k[:, head].float()) / math.sqrt(q.shape[-1])
    later = torch.arange(k.shape[2], device=q.device)[None, :] > qpos[:, None]
    return scores.masked_fill(later, NEG_INF).log_softmax(-1)


class Attention(nn.Module):
    def __init__(self, d: int, n_heads: int, n_kv: int):
        super().__init__()
        self.n_heads, self.n_kv, self.hd = n_heads, n_kv, d // n_heads
        self.q = nn.Linear(d, n_heads * self.hd, bias=False)
        self.k = nn.Linear(d, n_kv * self.hd, bias=False)
        self.v = nn.Linear(d, n_kv * self.hd, bias=False)
        self.o = nn.Linear(n_heads * self.hd, d, bias=False)

    def project(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        B, T, _ = x.shape
        q = self.q(x).view(B, T, self.n_heads, self.hd).transpose(1, 2)
        k = self.k(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        v = self.v(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def expand_kv(self, t: torch.Tensor) -> torch.Tensor:
        rep = self.n_heads // self.n_kv
        return t if rep == 1 else t.repeat_interleave(rep, dim=1)

    def out(self, y: torch.Tensor) -> torch.Tensor:
        B, _, T, _ = y.shape
        return self.o(y.transpose(1, 2).reshape(B, T, self.n_heads * self.hd))


class SwiGLU(nn.Module):
    def __init__(self, d: int, ffn: int):
        super().__init__()
        self.gate = nn.Linear(d, ffn, bias=False)
        self.up = nn.Linear(d, ffn, bias=False)
        self.down = nn.Linear(ffn, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, d: int, n_heads: int, n_kv: int, ffn: int):
        super().__init__()
        self.attn_norm = RMSNorm(d)
        self.attn = Attention(d, n_heads, n_kv)
        self.mlp_norm = RMSNorm(d)
        self.mlp = SwiGLU(d, ffn)


class Decoder(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Block(cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.ffn_size) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size)
        self.apply(_init)
        for layer in self.layers:  # GPT-2 style scaled residual init
            nn.init.normal_(layer.attn.o.weight, std=0.02 / math.sqrt(2 * cfg.num_layers))
            nn.init.normal_(layer.mlp.down.weight, std=0.02 / math.sqrt(2 * cfg.num_layers))

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(self.norm(h), self.embed.weight)  # tied output projection

    def forward(self, inputs_embeds: torch.Tensor, return_hidden: bool = False, probe: tuple[int, int, torch.Tensor] | None = None):
        """Training path: causal attention from position 0, no cache. Right padding is harmless.
        probe = (layer, head, query positions [B]): also return that head's attention log-probabilities
        [B, T] at one query position per row (the pointer objective in train.py supervises them)."""
        B, T, _ = inputs_embeds.shape
        pos = torch.arange(T, device=inputs_embeds.device).expand(B, T)
        cos, sin = rope_cos_sin(pos, self.cfg.head_dim, self.cfg.rope_theta)
        h = inputs_embeds
        probed = None
        for i, layer in enumerate(self.layers):
            q, k, v = layer.attn.project(layer.attn_norm(h), cos, sin)
            if probe is not None and i == probe[0]:
                probed = head_log_attention(q, layer.attn.expand_kv(k), probe[1], probe[2])
            y = F.scaled_dot_product_attention(q, layer.attn.expand_kv(k), layer.attn.expand_kv(v), is_causal=True)
            h = h + layer.attn.out(y)
            h = h + layer.mlp(layer.mlp_norm(h))
        out = h if return_hidden else self.logits(h)
        return out if probe is None else (out, probed)

    def forward_with_past(self, inputs_embeds, attention_mask, position_ids, past: list[torch.Tensor]):
        """Export path. past = [k0, v0, k1, v1, ...] each [B, n_kv, P, hd]; returns logits and presents."""
        T = inputs_embeds.shape[1]
        P = past[0].shape[2]
        cos, sin = rope_cos_sin(position_ids, self.cfg.head_dim, self.cfg.rope_theta)
        q_idx = torch.arange(T, device=inputs_embeds.device) + P
        k_idx = torch.arange(P + T, device=inputs_embeds.device)
        causal = k_idx[None, :] <= q_idx[:, None]  # [T, P+T]
        allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]
        h = inputs_embeds
        presents: list[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            q, k, v = layer.attn.project(layer.attn_norm(h), cos, sin)
            k = torch.cat([past[2 * i], k], dim=2)
            v = torch.cat([past[2 * i + 1], v], dim=2)
            presents += [k, v]
            y = attend(q, layer.attn.expand_kv(k), layer.attn.expand_kv(v), allowed)
            h = h + layer.attn.out(y)
            h = h + layer.mlp(layer.mlp_norm(h))
        return self.logits(h), presents


class Encoder(nn.Module):
    """Bidirectional transformer; k learned queries attend over the final states (names are not averaged away)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_size
        self.embed = nn.Embedding(cfg.vocab_size, d)
        self.layers = nn.ModuleList(Block(d, cfg.num_heads, cfg.num_heads, cfg.ffn_size) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(d)
        self.queries = nn.Parameter(torch.randn(self.outputs, d) * 0.02)
        self.pool_k = nn.Linear(d, d, bias=False)
        self.pool_v = nn.Linear(d, d, bias=False)
        self.out_norm = RMSNorm(d)
        self.apply(_init)

    @property
    def outputs(self) -> int:
        """Pooled vectors per chunk: the adapter's, then the retrieval query's if any."""
        return self.cfg.vectors_per_chunk + int(self.cfg.retrieval_query)

    @property
    def retrieval_mode(self) -> str:
        """The bundle manifest's encoder.retrieval for this encoder."""
        return "last" if self.cfg.retrieval_query else "mean"

    def retrieval(self, v: torch.Tensor) -> torch.Tensor:
        """The unit vector the runtime ranks chunks by, from forward's [B, outputs, d]."""
        return F.normalize(v[:, -1] if self.cfg.retrieval_query else v.mean(1), dim=-1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        B, T = input_ids.shape
        pos = torch.arange(T, device=input_ids.device).expand(B, T)
        cos, sin = rope_cos_sin(pos, self.cfg.hidden_size // self.cfg.num_heads, self.cfg.rope_theta)
        keep = attention_mask.bool()[:, None, None, :]  # [B,1,1,T]
        h = self.embed(input_ids)
        for layer in self.layers:
            q, k, v = layer.attn.project(layer.attn_norm(h), cos, sin)
            h = h + layer.attn.out(attend(q, k, v, keep))
            h = h + layer.mlp(layer.mlp_norm(h))
        h = self.norm(h)
        # Learned-query pooling: [B, k, d]; one head over the full width.
        q = self.queries[None].expand(B, -1, -1)
        pooled = attend(q[:, None], self.pool_k(h)[:, None], self.pool_v(h)[:, None], keep)[:, 0]
        return self.out_norm(pooled + q)


class Adapter(nn.Module):
    """E2LLM adapter: a 2-layer MLP per chunk vector, each vector -> soft_tokens/vectors decoder embeddings."""

    def __init__(self, cfg: AdapterConfig):
        super().__init__()
        assert cfg.soft_tokens_per_chunk % cfg.vectors_per_chunk == 0
        self.cfg = cfg
        self.per_vector = cfg.soft_tokens_per_chunk // cfg.vectors_per_chunk
        self.fc1 = nn.Linear(cfg.in_size, cfg.hidden_size)
        self.fc2 = nn.Linear(cfg.hidden_size, cfg.out_size * self.per_vector)
        self.apply(_init)

    def forward(self, chunk_vectors: torch.Tensor) -> torch.Tensor:
        N = chunk_vectors.shape[0]
        # The first vectors_per_chunk: an encoder with a retrieval query appends its ranking vector, not read here.
        y = self.fc2(F.gelu(self.fc1(chunk_vectors[:, : self.cfg.vectors_per_chunk])))
        return y.reshape(N, self.cfg.soft_tokens_per_chunk, self.cfg.out_size)


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, std=0.02)


def config_dict(cfg) -> dict:
    return asdict(cfg)


def param_count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
