"""Examples for the E2LLM stages, built from the TypeScript prep's JSONL (product walker + chunker + tree-sitter facts).

Every example is a list of segments in the bundle's prompt layout (src/core/bundle/manifest.ts):
  ("text", str)  -> tokenized separately, no special tokens added (as the runtime does)
  ("soft", int)  -> the soft tokens of chunk #int of the example's chunk list
plus an answer string (the loss is on the answer and the closing endOfTurn only).

Path labels of training repositories are randomised per example, so that no answer can be memorised
from the repository's real paths: it can only come from the context (the closed-book shortcut the
first attempt fell into).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from common import CHAT_TEMPLATE as T
from common import escape_path

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "be", "du", "fa", "go", "hi", "jo", "pe", "qu", "sa", "wu", "xe", "yo"]


@dataclass
class FileRec:
    repo: str
    path: str
    language: str
    content: bytes
    chunks: list[dict]
    defs: list[dict]
    module_doc: str


@dataclass
class Example:
    segments: list[tuple[str, object]]
    answer: str
    chunk_texts: list[str] = field(default_factory=list)
    task: str = ""
    meta: dict = field(default_factory=dict)
    chunk_names: list[list[str]] = field(default_factory=list)  # names each chunk defines (bag-of-names objective)


def load_files(path: Path) -> dict[str, list[FileRec]]:
    repos: dict[str, list[FileRec]] = {}
    with path.open() as f:
        for line in f:
            r = json.loads(line)
            if not r["chunks"]:
                continue
            repos.setdefault(r["repo"], []).append(
                FileRec(
                    r["repo"],
                    r["path"],
                    r["language"],
                    r["content"].encode("utf-8"),
                    r["chunks"],
                    r.get("defs", []),
                    r.get("moduleDoc", ""),
                )
            )
    return repos


# Real paths of other training repositories: labels drawn from here look like held-out paths (made-up
# syllable labels taught the decoder to answer in that style instead of copying: NOTEBOOK).
PATH_POOL: list[str] = []


def random_path(rng: random.Random, real: str) -> str:
    """A fresh label for a file: the directories of one training path joined to the file name of another
    (same extension when possible). Real-looking, like held-out paths, but drawn from a space far too large
    to memorise: a whole pool path as the label was learned as a prior instead of being copied."""
    if PATH_POOL:
        ext = Path(real).suffix
        for _ in range(8):
            base = rng.choice(PATH_POOL)
            if base != real and Path(base).suffix == ext:
                dirs = rng.choice(PATH_POOL).split("/")[:-1][: rng.randint(0, 3)]
                name = base.split("/")[-1]
                if rng.random() < 0.5:  # splice two stems: real basenames alone were learned as a prior
                    other = Path(rng.choice(PATH_POOL)).stem
                    stem = Path(name).stem
                    name = stem[: max(1, len(stem) // 2)] + other[len(other) // 2 :] + Path(name).suffix
                return "/".join(dirs + [name])
    parts = real.split("/")
    ext = Path(parts[-1]).suffix
    word = lambda: "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
    return "/".join([word() for _ in parts[:-1]] + [word() + ext])


def relabel_chunk_text(text: str, real: str, label: str) -> str:
    # The chunker's text starts with a header naming the (escaped) path; the encoder must see the label the
    # decoder sees.
    real = escape_path(real)
    return text.replace(real, label, 1) if text.startswith(real) else text


def chunk_code(f: FileRec, c: dict) -> str:
    return f.content[c["startByte"] : c["endByte"]].decode("utf-8", errors="replace")


def def_chunk(f: FileRec, d: dict) -> dict | None:
    for c in f.chunks:
        if c["startLine"] <= d["line"] <= c["endLine"]:
            return c
    return None


TASKS = ["where", "what", "params", "defines", "summary", "complete"]


def good_name(d: dict) -> bool:
    return len(d["name"]) >= 3 and not (d["name"].startswith("__") and d["name"].endswith("__"))


def make_question(
    rng: random.Random, files: list[FileRec], labels: dict[str, str], task: str, with_line: bool = True
) -> tuple[str, str, dict] | None:
    """(request, answer, meta) for a task over the given files, or None if the files have no such fact."""
    all_defs = [(f, d) for f in files for d in f.defs if good_name(d)]
    names = {}
    for f, d in all_defs:
        names.setdefault(d["name"], []).append((f, d))
    unique = [(f, d) for f, d in all_defs if len(names[d["name"]]) == 1]  # unambiguous questions only
    if task == "where" and unique:
        f, d = rng.choice(unique)
        answer = f"{labels[f.path]}:{d['line']}" if with_line else labels[f.path]
        return f"Where is {d['name']} defined?", answer, {"file": f.path, "def": d}
    if task == "what":
        cands = [(f, d) for f, d in unique if d["doc"]]
        if cands:
            f, d = rng.choice(cands)
            return f"What does {d['name']} do?", d["doc"], {"file": f.path, "def": d}
    if task == "params":
        cands = [(f, d) for f, d in unique if d["kind"] != "class" and d["params"]]
        if cands:
            f, d = rng.choice(cands)
            return f"What are the parameters of {d['name']}?", ", ".join(d["params"]), {"file": f.path, "def": d}
    if task == "defines":
        cands = [f for f in files if any(d["kind"] != "method" for d in f.defs)]
        if cands:
            f = rng.choice(cands)
            top = [d["name"] for d in f.defs if d["kind"] != "method"][:8]
            return f"What does {labels[f.path]} define?", ", ".join(top), {"file": f.path}
    if task == "summary":
        cands = [f for f in files if f.module_doc]
        if cands:
            f = rng.choice(cands)
            return f"Summarize {labels[f.path]}.", f.module_doc, {"file": f.path}
    if task == "complete":
        f = rng.choice(files)
        lines = f.content.decode("utf-8", errors="replace").split("\n")
        idx = [i for i in range(3, len(lines)) if len(lines[i].strip()) > 8]
        if idx:
            i = rng.choice(idx)
            prefix = "\n".join(lines[max(0, i - 3) : i])
            return f"In {labels[f.path]}, what line follows:\n{prefix}", lines[i].strip(), {"file": f.path, "line": i + 1}
    return None


def build_example(
    rng: random.Random,
    repo_files: list[FileRec],
    *,
    n_files: int,
    max_positions: int,
    soft_per_chunk: int,
    task: str,
    relabel: bool,
    text_mode: str,
    hybrid_prob: float,
    max_text_chunks: int = 2,
    extra_questions: int = 0,
    order=None,
    rank=None,
    recap_chunks: int = 0,
) -> Example | None:
    """text_mode: 'soft' (chunks as soft tokens), 'names' (the pure-text control: each file's defined
    names as text after its header, no soft tokens). extra_questions: earlier "where" turns over the same
    context, each answered (("answer", str) segments carry a loss too): several supervised answers for
    one pass over the context, the way a follow-up conversation reuses it. order(request, files, labels):
    the files in prompt order (--rank-files: most relevant to the request first, as the runtime's planner
    places them); default the drawn order. recap_chunks: the first of rank(request, files, labels) (the
    encoder's [(file, chunk)], best first) repeated after the files, each under its file's header, nearest
    the question, as the runtime's planner repeats them (manifest decoder.recapChunks)."""
    pool = [f for f in repo_files if len(f.chunks) * soft_per_chunk <= max_positions // 2]
    if len(pool) < 1:
        return None
    files = rng.sample(pool, min(n_files, len(pool)))
    # Keep within the position budget: drop files from the end.
    budget = (
        max_positions - 96 - 28 * extra_questions - (128 if text_mode == "soft" and hybrid_prob > 0 else 0)
    )  # room for the question and text chunks
    recap_chunks = recap_chunks if text_mode == "soft" and rank is not None else 0
    budget -= recap_chunks * (8 + soft_per_chunk)
    kept, used = [], 0
    for f in files:
        cost = 8 + (len(f.chunks) * soft_per_chunk if text_mode == "soft" else 4 * len(f.defs) + 4)
        if used + cost > budget and kept:
            continue
        kept.append(f)
        used += cost
    files = kept
    labels: dict[str, str] = {}
    for f in files:
        label = random_path(rng, f.path) if relabel else f.path
        tries = 0
        while label in labels.values():  # distinct labels within an example
            tries += 1
            label = random_path(rng, f.path) if tries < 20 else f"{tries}/{label}"
        labels[f.path] = escape_path(label)  # as the runtime writes a path into model text
    # "Where" answers are the path alone: a chunk's soft tokens cannot carry exact line numbers, and the
    # path is what the product cites and what the metric scores.
    q = make_question(rng, files, labels, task, with_line=False)
    if q is None:
        return None
    request, answer, meta = q
    if order is not None:
        files = order(request, files, labels)
    segs: list[tuple[str, object]] = [("text", T["contextStart"])]
    chunk_texts: list[str] = []
    chunk_names: list[list[str]] = []
    answer_chunk = def_chunk(next(x for x in files if x.path == meta["file"]), meta["def"]) if "def" in meta else None
    for f in files:
        segs.append(("text", T["fileHeader"].replace("{path}", labels[f.path])))
        if text_mode == "names":
            names = [d["name"] for d in f.defs if good_name(d)]
            segs.append(("text", "defines: " + ", ".join(names) + "\n"))
            continue
        for c in f.chunks:
            if c is answer_chunk:  # where the answer is: the pointer objective's target (train.py)
                meta["def_chunk"] = len(chunk_texts)
            segs.append(("soft", len(chunk_texts)))
            chunk_texts.append(relabel_chunk_text(c["text"], f.path, labels[f.path]))
            chunk_names.append([d["name"] for d in f.defs if good_name(d) and c["startLine"] <= d["line"] <= c["endLine"]])
    meta["recap"] = rank(request, files, labels)[:recap_chunks] if recap_chunks else []
    for f, c in meta["recap"]:
        segs.append(("text", T["fileHeader"].replace("{path}", labels[f.path])))
        segs.append(("soft", len(chunk_texts)))
        chunk_texts.append(relabel_chunk_text(c["text"], f.path, labels[f.path]))
        chunk_names.append([d["name"] for d in f.defs if good_name(d) and c["startLine"] <= d["line"] <= c["endLine"]])
    # Hybrid: the defining chunk as raw text, as the runtime's planner places exact symbol matches.
    if text_mode == "soft" and "def" in meta and rng.random() < hybrid_prob:
        f = next(x for x in files if x.path == meta["file"])
        c = def_chunk(f, meta["def"])
        placed = [(f, c)] if c else []
        others = [(g, ch) for g in files for ch in g.chunks if ch is not c]
        for g, ch in rng.sample(others, min(len(others), rng.randint(0, max_text_chunks - 1))):
            placed.append((g, ch))
        rng.shuffle(placed)
        for g, ch in placed:
            code = chunk_code(g, ch)
            segs.append(("text", T["textChunkHeader"].replace("{path}", labels[g.path]).replace("{line}", str(ch["startLine"]))))
            segs.append(("text", code if code.endswith("\n") else code + "\n"))
        meta["hybrid"] = True
    segs.append(("text", T["contextEnd"]))
    asked = {request}
    for _ in range(extra_questions):
        extra = make_question(rng, files, labels, "where", with_line=False)
        if extra is None or extra[0] in asked:
            continue
        asked.add(extra[0])
        segs += [
            ("text", T["user"].replace("{content}", extra[0])),
            ("text", T["endOfTurn"]),
            ("text", T["assistant"]),
            ("answer", extra[1]),
        ]
    segs.append(("text", T["user"].replace("{content}", request)))
    segs.append(("text", T["endOfTurn"]))
    segs.append(("text", T["assistant"]))
    meta["files"] = files
    meta["labels"] = labels
    meta["request"] = request
    return Example(segs, answer, chunk_texts, task, meta, chunk_names)


def variant(
    ex: Example, mode: str, *, ranked_chunks: list[tuple[FileRec, dict]] | None = None, max_text_positions: int = 0, count_tokens=None
) -> Example:
    """The same question with another context, for the evaluation rows (same decoder for every row):
    'none' no context; 'soft' soft tokens only; 'hybrid' soft tokens + the defining chunk as text;
    'retrieved' the given ranked chunks as text (top-k); 'truncated' the files' code as text, in order,
    cut at max_text_positions."""
    files, labels = ex.meta["files"], ex.meta["labels"]
    segs: list[tuple[str, object]] = [("text", T["contextStart"])]
    texts: list[str] = []
    if mode in ("soft", "hybrid"):
        for f in files:
            segs.append(("text", T["fileHeader"].replace("{path}", labels[f.path])))
            for c in f.chunks:
                segs.append(("soft", len(texts)))
                texts.append(relabel_chunk_text(c["text"], f.path, labels[f.path]))
        for f, c in ex.meta.get("recap", []):
            segs.append(("text", T["fileHeader"].replace("{path}", labels[f.path])))
            segs.append(("soft", len(texts)))
            texts.append(relabel_chunk_text(c["text"], f.path, labels[f.path]))
    placed: list[tuple[FileRec, dict]] = []
    if mode == "hybrid" and "def" in ex.meta:
        f = next(x for x in files if x.path == ex.meta["file"])
        c = def_chunk(f, ex.meta["def"])
        placed = [(f, c)] if c else []
    elif mode == "retrieved":
        placed = ranked_chunks or []
    elif mode == "truncated":
        used = 0
        for f in files:
            for c in f.chunks:
                cost = count_tokens(chunk_code(f, c)) + 8
                if used + cost > max_text_positions:
                    break
                placed.append((f, c))
                used += cost
    for g, ch in placed:
        code = chunk_code(g, ch)
        segs.append(("text", T["textChunkHeader"].replace("{path}", labels[g.path]).replace("{line}", str(ch["startLine"]))))
        segs.append(("text", code if code.endswith("\n") else code + "\n"))
    segs.append(("text", T["contextEnd"]))
    segs.append(("text", T["user"].replace("{content}", ex.meta["request"])))
    segs.append(("text", T["endOfTurn"]))
    segs.append(("text", T["assistant"]))
    return Example(segs, ex.answer, texts, ex.task, ex.meta)


def reconstruction_example(rng: random.Random, f: FileRec, c: dict, target_tokens: int) -> Example:
    """E2LLM 'understanding': from one chunk's soft tokens alone, regenerate its code (first lines)."""
    code = chunk_code(f, c)
    segs: list[tuple[str, object]] = [
        ("text", T["contextStart"]),
        ("text", T["fileHeader"].replace("{path}", escape_path(f.path))),
        ("soft", 0),
        ("text", T["contextEnd"]),
        ("text", T["user"].replace("{content}", "Repeat the code.")),
        ("text", T["endOfTurn"]),
        ("text", T["assistant"]),
    ]
    return Example(segs, code, [c["text"]], "reconstruct", {"target_tokens": target_tokens})


WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
