"""Training objectives beyond plain next-token loss: answer-only loss, file binding, the pointer head, bag of
names, copy practice. Each says why it exists; the NOTEBOOK says which helped."""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F

from batches import TokCache, copy_logits, copy_rows
from model import Decoder


def answer_loss(
    dec: Decoder,
    embeds: torch.Tensor,
    tg: torch.Tensor,
    ft: torch.Tensor | None = None,
    file_weight: float = 0.0,
    pointer: tuple[int, int, list, str] | None = None,
):
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
    steps, lookup did not follow (NOTEBOOK, "A fourth session"); an option, off by default."""
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


def names_loss(dec: Decoder, toks: TokCache, examples, soft: torch.Tensor, offsets: list[int]) -> torch.Tensor | None:
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


def copy_loss(dec: Decoder, ids: np.ndarray, rng: random.Random, n: int, dev, span: int = 32, gap: int = 64, lead: int = 0) -> torch.Tensor:
    """Induction practice with a dense loss: [lead][span A][gap of other code][A again], loss on the second
    A's tokens after its first. Copying from context is what every task needs and what the sparse answer
    loss alone did not teach in the time available. `lead` moves the pattern to later positions: copy
    practice at 128 tokens taught copying from the first 128 positions only (see --copy-lead)."""
    logits, tgt = copy_logits(dec, copy_rows(ids, rng, n, span, dev, gap, lead), lead + span + gap)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1))
