"""Corpus listing for the stages that need only raw source text (tokenizer, decoder LM pretraining).

Stages that need chunks read JSONL produced by the TypeScript prep (models/recipe/prep), which uses the
product's own walker and chunker. This module only resolves corpus.json to file lists, applying the same
kind of filters (no minified/generated/huge files) so that the LM sees real hand-written code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RECIPE_DIR = Path(__file__).resolve().parent
REPO_ROOT = RECIPE_DIR.parent.parent
SOURCE_EXTS = {".py", ".js", ".mjs", ".cjs", ".ts"}
MAX_FILE_BYTES = 200_000


def load_corpus() -> dict:
    return json.loads((RECIPE_DIR / "corpus.json").read_text())


def repo_dir(corpus: dict, repo: dict) -> Path:
    root = corpus["roots"][repo["root"]]
    base = Path(root) if os.path.isabs(root) else REPO_ROOT / root
    return (base / repo["dir"]).resolve()


def _looks_generated(text: str) -> bool:
    lines = text.splitlines() or [""]
    # Minified bundles and source maps: very long lines dominate.
    return max(len(l) for l in lines) > 1000 or sum(len(l) for l in lines) / len(lines) > 200


def repo_files(corpus: dict, repo: dict) -> list[Path]:
    base = repo_dir(corpus, repo)
    excluded = set(corpus.get("exclude", []))
    out: list[Path] = []
    if repo.get("flat"):
        candidates = sorted(p for p in base.iterdir() if p.is_file())
    else:
        candidates = []
        for dirpath, dirnames, filenames in os.walk(base):
            rel = os.path.relpath(dirpath, base)
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in excluded and d != "node_modules" and os.path.normpath(os.path.join(repo["dir"], rel, d)) not in excluded
            )
            candidates.extend(Path(dirpath) / f for f in sorted(filenames))
    for p in candidates:
        if p.suffix not in SOURCE_EXTS or p.name.endswith((".min.js", ".d.ts")):
            continue
        try:
            if p.stat().st_size > MAX_FILE_BYTES:
                continue
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if not text.strip() or _looks_generated(text):
            continue
        out.append(p)
    return out


def split_texts(split: str) -> list[tuple[str, str]]:
    """(repo name, file text) for every file of a split ('train' or 'heldout')."""
    corpus = load_corpus()
    return [(repo["name"], p.read_text(encoding="utf-8")) for repo in corpus[split] for p in repo_files(corpus, repo)]


if __name__ == "__main__":
    c = load_corpus()
    for split in ("train", "heldout"):
        total = 0
        for repo in c[split]:
            files = repo_files(c, repo)
            size = sum(f.stat().st_size for f in files)
            total += size
            print(f"{split:8s} {repo['name']:20s} {len(files):5d} files {size / 1e6:6.2f} MB")
        print(f"{split} total {total / 1e6:.2f} MB")
