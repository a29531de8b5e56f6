"""Held-out metrics against wall time for every stage -> results/curves.png + results/metrics.json (committed)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common import RECIPE_DIR, WORK_DIR  # noqa: E402

PANELS = [
    ("lm", ["heldout_token_acc"], "decoder LM: next-token accuracy"),
    ("copy", ["heldout_copy_token_acc"], "decoder copy practice: copy token acc."),
    ("contrast", ["heldout_retrieval_top1", "heldout_retrieval_top5"], "encoder: name -> chunk retrieval"),
    ("align", ["heldout_recon_token_acc", "heldout_recon_token_acc_shuffled", "heldout_retrieval_top1"],
     "alignment: reconstruction token acc. (own, shuffled soft tokens); retrieval"),
    ("textctl", ["heldout_where_soft_path"], "pure-text control: where (path)"),
    ("instruct", ["heldout_where_soft_path", "heldout_where_names_path", "heldout_where_hybrid_path", "heldout_mixed", "heldout_summary"],
     "instruction tuning (where: path acc.)"),
]


def last_attempt(st: list[dict]) -> list[dict]:
    """A stage's rows from its last fresh start (a step-0 row) on: earlier attempts stay in the JSONL, and
    resumed runs continue the same attempt."""
    starts = [i for i, r in enumerate(st) if r.get("step") == 0]
    return st[starts[-1]:] if starts else st


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="default")
    ap.add_argument("--out", default=str(RECIPE_DIR / "results"))
    a = ap.parse_args()
    rows = [json.loads(l) for l in (WORK_DIR / a.run / "metrics.jsonl").read_text().splitlines() if l.strip()]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    series: dict = {}
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.6))
    for ax, (stage, keys, title) in zip(axes, PANELS):
        st = last_attempt([r for r in rows if r.get("stage") == stage])
        series[stage] = {k: [[r["wall_s"], r[k]] for r in st if k in r] for k in keys}
        for k in keys:
            pts = series[stage][k]
            if pts:
                ax.plot([p[0] / 60 for p in pts], [p[1] for p in pts], marker="o", ms=3, label=k.replace("heldout_", ""))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("stage wall time (min)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("held-out")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    (out / "metrics.json").write_text(json.dumps({"run": a.run, "series": series, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out / 'curves.png'} and {out / 'metrics.json'}")


if __name__ == "__main__":
    main()
