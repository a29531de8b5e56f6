"""Train the byte-level BPE tokenizer shared by encoder and decoder (tokenizer.json, Hugging Face format).

Byte-level so that any file round-trips; special tokens are the chat/context markers of the bundle's
prompt layout (src/core/bundle/manifest.ts) so that each is exactly one id.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from corpus import split_texts

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|context|>", "<|/context|>", "<|file|>", "<|code|>"]


def train_tokenizer(vocab_size: int, max_chars: int | None = None) -> Tokenizer:
    texts = [t for _, t in split_texts("train")]
    if max_chars is not None:
        budget, kept = max_chars, []
        for t in texts:
            if budget <= 0:
                break
            kept.append(t[:budget])
            budget -= len(t)
        texts = kept
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--max-chars", type=int, default=None)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    tok = train_tokenizer(a.vocab, a.max_chars)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    tok.save(a.out)
    print(f"vocab {tok.get_vocab_size()} -> {a.out}")
