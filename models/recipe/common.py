"""Shared training plumbing: device, checkpoints, metric logs, the bundle's prompt layout."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import torch

RECIPE_DIR = Path(__file__).resolve().parent
WORK_DIR = RECIPE_DIR / "work"

# Chat template and special tokens of the bundle (src/core/bundle/manifest.ts: ChatTemplate).
CHAT_TEMPLATE = {
    "system": "<|im_start|>system\n{content}<|im_end|>\n",
    "user": "<|im_start|>user\n{content}",
    "assistant": "<|im_start|>assistant\n",
    "endOfTurn": "<|im_end|>\n",
    "contextStart": "<|context|>\n",
    "contextEnd": "<|/context|>\n",
    "fileHeader": "<|file|>{path}\n",
    "textChunkHeader": "<|code|>{path}:{line}\n",
}
SPECIAL_TOKENS = {
    "eos": "<|endoftext|>",
    "pad": "<|endoftext|>",
    "endOfTurn": "<|im_end|>",
    "turnStart": "<|im_start|>",
    "contextStart": "<|context|>",
    "contextEnd": "<|/context|>",
    "file": "<|file|>",
    "code": "<|code|>",
}


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_threads(n: int) -> None:
    if not torch.cuda.is_available():
        torch.set_num_threads(n)


class MetricLog:
    """Append-only JSONL of {stage, step, wall_s, ...}; wall_s accumulates across resumes."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, row: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


def save_ckpt(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a kill mid-write never leaves a broken checkpoint


def load_ckpt(path: Path) -> dict | None:
    return torch.load(path, map_location="cpu", weights_only=False) if path.exists() else None


class Clock:
    """Wall time of a stage, continued across resumes."""

    def __init__(self, start_s: float = 0.0):
        self.base = start_s
        self.t0 = time.time()

    def elapsed(self) -> float:
        return self.base + time.time() - self.t0


# ---------------------------------------------------------------- untrusted text (same rule as the runtime)
# src/core/runtime/model/tokenizer.ts `encodeUntrusted` and src/core/runtime/decode/prompt.ts `splitTemplate`: text that
# comes from a repository or a user (file content, chunk text, paths, questions) must never produce a
# special token, or `<|im_end|>` in a file would end a turn. Same rule, same ids as the runtime
# (test/recipe/untrusted-parity.test.ts runs both).

_SPECIALS: dict[int, tuple[object, re.Pattern | None, frozenset[int]]] = {}


def _specials(tok) -> tuple[re.Pattern | None, frozenset[int]]:
    got = _SPECIALS.get(id(tok))
    if got is None or got[0] is not tok:
        added = {t.content: i for i, t in tok.get_added_tokens_decoder().items() if t.content}
        contents = sorted(added, key=lambda c: (-len(c), c))
        pattern = re.compile("|".join(re.escape(c) for c in contents)) if contents else None
        got = (tok, pattern, frozenset(added.values()))
        _SPECIALS[id(tok)] = got
    return got[1], got[2]


def encode_untrusted(tok, text: str) -> list[int]:
    """Ids of untrusted `text` (a tokenizers.Tokenizer): special-token strings stay ordinary text.

    The text is split at every occurrence of an added token's string (leftmost, longest first); the text
    between occurrences is encoded as usual; each occurrence is encoded as two ordinary pieces, its first
    two characters (one if it is only two long) and the rest. Nothing is added (add_special_tokens=False);
    decoding the ids gives back `text` exactly. Text without such strings encodes as tok.encode does."""
    if not text:
        return []
    pattern, special_ids = _specials(tok)
    enc = lambda s: tok.encode(s, add_special_tokens=False).ids if s else []
    if pattern is None or pattern.search(text) is None:
        return enc(text)
    out: list[int] = []
    at = 0
    for m in pattern.finditer(text):
        out += enc(text[at : m.start()])
        s = m.group(0)
        head = 2 if len(s) > 2 else 1
        out += enc(s[:head]) + enc(s[head:])
        at = m.end()
    out += enc(text[at:])
    bad = [i for i in out if i in special_ids]
    if bad:
        raise ValueError(f"untrusted text still encodes to special token id {bad[0]}")
    return out


_PLACEHOLDER = re.compile(r"\{(content|path|line)\}")


def split_template(template: str, values: dict) -> list[tuple[str, bool]]:
    """(text, untrusted) pieces of a chat-template string filled with `values` (CHAT_TEMPLATE keys)."""
    out: list[tuple[str, bool]] = []
    at = 0
    for m in _PLACEHOLDER.finditer(template):
        if m.group(1) not in values:
            continue
        out.append((template[at : m.start()], False))
        out.append((str(values[m.group(1)]), True))
        at = m.end()
    out.append((template[at:], False))
    return [(t, u) for t, u in out if t]


def encode_template(tok, template: str, values: dict) -> list[int]:
    """A filled template as the runtime's prompt builder encodes it: template text keeps its special tokens,
    each value is untrusted, and every piece is encoded on its own (no merge crosses a piece boundary).
    Paths must be passed through escape_path first, as the runtime does."""
    ids: list[int] = []
    for text, untrusted in split_template(template, values):
        ids += encode_untrusted(tok, text) if untrusted else tok.encode(text, add_special_tokens=False).ids
    return ids


_CONTROL = re.compile("[\u0000-\u001f\u007f-\u009f\u2028\u2029]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_path(path: str) -> str:
    """A path as written into model text (src/core/pathText.ts): control characters as JSON-style escapes
    (a file name with a newline must not split a one-line header); everything else unchanged."""
    return _CONTROL.sub(lambda m: _SHORT.get(m.group(0), "\\u%04x" % ord(m.group(0))), path)
