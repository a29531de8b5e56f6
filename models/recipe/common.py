"""Shared training plumbing: device, checkpoints, metric logs, the bundle's prompt layout."""
from __future__ import annotations

import json
import os
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
SPECIAL_TOKENS = {"eos": "<|endoftext|>", "pad": "<|endoftext|>", "endOfTurn": "<|im_end|>",
                  "turnStart": "<|im_start|>", "contextStart": "<|context|>", "contextEnd": "<|/context|>",
                  "file": "<|file|>", "code": "<|code|>"}


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
