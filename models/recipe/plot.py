"""Held-out metrics -> PNG + JSON in results/.

plot.py --run default                          every stage's held-out metrics vs wall time: curves.png, metrics.json
plot.py --sweep work/sweep/sweep.jsonl [...]   compression sweeps: reconstruction accuracy vs steps, one color per arm
                                               (own soft tokens solid, shuffled dashed), and own - shuffled: sweep.png, sweep.json
"""

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
    (
        "align",
        ["heldout_recon_token_acc", "heldout_recon_token_acc_shuffled", "heldout_retrieval_top1"],
        "alignment: reconstruction token acc. (own, shuffled soft tokens); retrieval",
    ),
    ("textctl", ["heldout_where_soft_path"], "pure-text control: where (path)"),
    (
        "instruct",
        ["heldout_where_soft_path", "heldout_where_names_path", "heldout_where_hybrid_path", "heldout_mixed", "heldout_summary"],
        "instruction tuning (where: path acc.)",
    ),
]


def last_attempt(st: list[dict]) -> list[dict]:
    """A stage's rows from its last fresh start (a step-0 row) on: earlier attempts stay in the JSONL, and
    resumed runs continue the same attempt."""
    starts = [i for i, r in enumerate(st) if r.get("step") == 0]
    return st[starts[-1] :] if starts else st


def sweep_rows(path: Path) -> dict[int, list[dict]]:
    """Each arm's rows by step (a resumed arm may repeat a step: the last row counts)."""
    arms: dict[int, dict[int, dict]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            arms.setdefault(r["arm"], {})[r["step"]] = r
    return {n: [rows[s] for s in sorted(rows)] for n, rows in sorted(arms.items(), reverse=True)}


def plot_sweep(paths: list[Path], out: Path) -> None:
    """Left: accuracy every few steps on the periodic held-out chunks (own solid, shuffled dashed) and, at the
    end, on the larger final set (own dot, shuffled cross, no context square). Right: own minus shuffled with
    the final 95% interval, against the stop rule's 0.25."""
    fig, (ax, gx) = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [3, 2]})
    colors = iter(["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"])
    table, curves = [], {}
    for path in paths:
        for n, rows in sweep_rows(path).items():
            color = next(colors)
            periodic = [r for r in rows if r.get("event") != "final"]
            final = rows[-1] if rows[-1].get("event") == "final" else None
            budget = f"{rows[0]['budget_min']:g} min" if "budget_min" in rows[0] else f"{rows[0]['total_steps']} steps"
            label = f"{n} soft tokens ({rows[0]['compression']:g}x), {budget}"
            steps = [r["step"] for r in periodic]
            ax.plot(steps, [r["own"] for r in periodic], color=color, marker="o", ms=3, label=f"{label}: own")
            ax.plot(steps, [r["shuffled"] for r in periodic], color=color, ls="--", marker="x", ms=3, label="shuffled")
            gx.plot(steps, [r["gap"] for r in periodic], color=color, marker="o", ms=3, label=label)
            if final:
                x = final["step"] + 4
                ax.plot([x], [final["own"]], color=color, marker="o", ms=7, ls="none")
                ax.plot([x], [final["shuffled"]], color=color, marker="x", ms=7, ls="none")
                ax.plot([x], [final["none"]], color=color, marker="s", ms=6, ls="none", mfc="none")
                lo, hi = final["gap_ci95"]
                gx.errorbar([x], [final["gap"]], yerr=[[final["gap"] - lo], [hi - final["gap"]]], color=color, marker="D", ms=5, capsize=3)
                table.append(
                    {
                        k: final.get(k)
                        for k in (
                            "arm",
                            "compression",
                            "step",
                            "total_steps",
                            "budget_min",
                            "batch",
                            "wall_s",
                            "eval_s",
                            "cpu_s",
                            "chunks",
                            "own",
                            "shuffled",
                            "none",
                            "gap",
                            "gap_ci95",
                            "own_minus_none",
                            "own_minus_none_ci95",
                        )
                    }
                    | {"source": f"work/{path.parent.name}/{path.name}"}
                )
            curves[f"{path.parent.name}:{n}"] = periodic
    n_periodic = next((r["chunks"] for c in curves.values() for r in c), "?")
    n_final = next((t["chunks"] for t in table), "?")
    ax.set_xlabel(f"optimizer step (16 chunks each); big markers: the end, on {n_final} chunks (o own, x shuffled, square no context)")
    ax.set_ylabel(f"held-out reconstruction token accuracy ({n_periodic} chunks)")
    ax.set_title("Reconstruction from the chunk's own soft tokens (solid) vs another chunk's (dashed)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6.5, ncol=2)
    gx.axhline(0.25, color="black", lw=1, ls=":")
    gx.text(0, 0.24, "stop rule: own - shuffled >= 0.25", fontsize=8, va="top")
    gx.axhline(0, color="gray", lw=0.8)
    gx.set_ylim(-0.02, 0.27)
    gx.set_xlabel("optimizer step; diamond: the end, with its 95% interval")
    gx.set_ylabel("own - shuffled (token accuracy)")
    gx.set_title("What the decoder reads from the soft tokens", fontsize=9)
    gx.grid(alpha=0.3)
    gx.legend(fontsize=6.5)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "sweep.png", dpi=110)
    (out / "sweep.json").write_text(json.dumps({"arms": table, "curves": curves}, indent=1) + "\n")
    print(f"wrote {out / 'sweep.png'} and {out / 'sweep.json'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="default")
    ap.add_argument("--sweep", nargs="+", default=[], help="sweeps' rows (work/<run>/sweep.jsonl): plot them instead")
    ap.add_argument("--out", default=str(RECIPE_DIR / "results"))
    a = ap.parse_args()
    if a.sweep:
        plot_sweep([Path(p) for p in a.sweep], Path(a.out))
        return
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
