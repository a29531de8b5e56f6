"""Examples -> decoder inputs, shared by the stages and the probes (eval.py, diagnose.py, probe_prose.py, hf.py).

The bundle's prompt layout as embeddings (assemble), chunks -> soft tokens (encode_chunks, batch_soft), the
encoder's ranking as the runtime ranks (Ranker), greedy decoding on the KV-cache path the bundle runs
(greedy_answers), the held-out question sets and their scores, and the code token streams.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from common import CHAT_TEMPLATE as CHAT
from common import encode_untrusted
from model import Decoder, Encoder
from runs import data_dir, latest_modules, load_tokenizer


def copy_rows(ids: np.ndarray, rng: random.Random, n: int, span: int, dev, gap: int = 0, lead: int = 0) -> torch.Tensor:
    """n rows of [`lead` tokens of other code][code span A][`gap` tokens of other code][A again], drawn from
    the token stream `ids`."""

    def piece(k: int) -> list[np.ndarray]:
        if not k:
            return []
        s1 = rng.randrange(len(ids) - k)
        return [ids[s1 : s1 + k].astype(np.int64)]

    rows = []
    for _ in range(n):
        s0 = rng.randrange(len(ids) - span)
        a = ids[s0 : s0 + span].astype(np.int64)
        rows.append(np.concatenate([*piece(lead), a, *piece(gap), a]))
    return torch.tensor(np.stack(rows), device=dev)


def copy_logits(dec: Decoder, x: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and targets of copy rows from position `start` (the repeat's first token) on."""
    h = dec(dec.embed(x[:, :-1]), return_hidden=True)[:, start:]
    return dec.logits(h), x[:, start + 1 :]


def copy_accuracy(dec: Decoder, ids: np.ndarray, dev, lead: int, n: int = 32) -> float:
    """Held-out copy token accuracy with the pattern (span 32, gap 64) starting at position `lead`."""
    logits, tgt = copy_logits(dec, copy_rows(ids, random.Random(5), n, 32, dev, 64, lead), lead + 32 + 64)
    return round(float((logits.argmax(-1) == tgt).float().mean()), 4)


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
                ids = (self.tok.encode(prefix, add_special_tokens=False).ids if prefix else []) + encode_untrusted(
                    self.tok, s[len(prefix) :]
                )
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
        x[r, : len(i)] = torch.tensor(i)
        m[r, : len(i)] = 1
    return enc(x.to(dev), m.to(dev))


_FILE_PREFIX = CHAT["fileHeader"].split("{")[0]


def assemble(
    examples, toks: TokCache, dec: Decoder, soft: torch.Tensor | None, offsets: list[int], max_answer: int, dev, file_targets: bool = False
):
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
                    path_ids = toks.untrusted(val[len(_FILE_PREFIX) :].removesuffix("\n"))
                elif "def" in ex.meta and val == CHAT["user"].replace("{content}", ex.meta.get("request", "")):
                    # the last token of the asked name in the question (the pointer objective's other query position)
                    req, name = ex.meta["request"], ex.meta["def"]["name"]
                    if name in req:
                        name_at = n + len(toks(CHAT["user"].replace("{content}", req[: req.index(name) + len(name)]))) - 1
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
                    bound += [(n + j, t) for j, t in enumerate(path_ids[: soft.shape[1]])]
                n += soft.shape[1]
        ans = toks(ex.answer)[:max_answer] + eot
        parts.append(dec.embed(torch.tensor(ans, device=dev)))
        rows.append(torch.cat(parts))
        tgt = torch.full((n + len(ans),), -100, dtype=torch.long)
        tgt[n - 1 : n - 1 + len(ans)] = torch.tensor(ans)
        for start, ids in answered:
            tgt[start - 1 : start - 1 + len(ids)] = torch.tensor(ids)
        targets.append(tgt)
        spans.append((n, len(ans), pointed, name_at or n - 1))
        binds.append(bound)
    L = max(r.shape[0] for r in rows)
    H = rows[0].shape[1]
    embeds = torch.zeros(len(rows), L, H, device=dev)
    tg = torch.full((len(rows), L), -100, dtype=torch.long)
    for i, (r, t) in enumerate(zip(rows, targets)):
        embeds[i, : r.shape[0]] = r
        tg[i, : t.shape[0]] = t
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
            part = missing[i : i + 64]
            for t, row in zip(part, encode_chunks(enc, toks, part, dev, max_tokens)):
                cache[t] = row
    return torch.stack([cache[t] for t in texts])


class Ranker:
    """The encoder's ranking of an example's chunks by the request, as the runtime ranks them: cosine between
    retrieval vectors, the request encoded as the runtime's queryVector does. `chunks` is the retrieved
    row's (and --retrieved-frac's) top k; `files` is --rank-files' order(request, files, labels) for
    build_example: each file scored by its best chunk, most relevant first (the decoder reads early headers
    far better than late ones: NOTEBOOK, "A fourth session")."""

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
        x = embeds[:, : spans[0][0]]
        T = x.shape[1]
        past = [torch.zeros(1, cfg.num_kv_heads, 0, cfg.head_dim, device=dev) for _ in range(2 * cfg.num_layers)]
        logits, past = dec.forward_with_past(x, torch.ones(1, T, dtype=torch.long, device=dev), torch.arange(T, device=dev)[None], past)
        ids = []
        for _ in range(max_new):
            nxt = int(logits[0, -1].argmax())
            if nxt in stop_ids:
                break
            ids.append(nxt)
            P = past[0].shape[2]
            logits, past = dec.forward_with_past(
                dec.embed(torch.tensor([[nxt]], device=dev)),
                torch.ones(1, P + 1, dtype=torch.long, device=dev),
                torch.tensor([[P]], device=dev),
                past,
            )
        outs.append(toks.tok.decode(ids))
    return outs


def heldout_instruct_set(
    held,
    n: int,
    soft_per_chunk: int,
    text_mode: str,
    hybrid_prob: float,
    n_files: int,
    seed: int,
    task_mix,
    order=None,
    rank=None,
    recap_chunks: int = 0,
):
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
        ex = build_example(
            rng,
            held[repo],
            n_files=n_files,
            max_positions=512,
            soft_per_chunk=soft_per_chunk,
            task=task,
            relabel=False,
            text_mode=text_mode,
            hybrid_prob=hybrid_prob,
            order=order,
            rank=rank,
            recap_chunks=recap_chunks,
        )
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


def probe_state(a):
    """For the probes (diagnose.py, probe_prose.py): a run's tokenizer (and its cache), the held-out files
    and the latest modules in eval mode."""
    from data import load_files

    tok = load_tokenizer(a.run)
    held = load_files(data_dir(a) / "heldout.jsonl")
    dec, enc, ad, record = latest_modules(a)
    dec.eval()
    enc.eval()
    ad.eval()
    return tok, TokCache(tok), held, dec, enc, ad, record
