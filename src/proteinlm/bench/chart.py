"""A PNG bar chart of accuracy per run (and per extraction), with 95% Wilson intervals, bars
named by the runs' labels, and the chance level of the benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from proteinlm.bench.compare import SAME_REPLIES, comparison_rows, method_text, pct


def shared_bench(summaries: Sequence[dict]) -> dict | None:
    """The benchmark all runs used, or None when they differ (or one does not say)."""
    benches = [s.get("bench") or {} for s in summaries]
    keys = {(b.get("sha256") or b.get("name")) for b in benches}
    return benches[0] if len(keys) == 1 and None not in keys else None


def bar_label(row: dict) -> str:
    if row["extract"] == SAME_REPLIES:
        return f"{row['label']}\nsame replies, faithful"
    return f"{row['label']}\n{method_text(row)} · {row['prompt']}"


def plot_accuracy(summaries: Sequence[dict], path: str | Path) -> Path:
    """A PNG bar chart of accuracy per run, with asymmetric 95% Wilson error bars."""
    # Figure + Agg canvas directly: no pyplot, so no global backend or figure state is touched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = comparison_rows(summaries)
    path = Path(path)
    n_bars = len(rows)
    fig = Figure(figsize=(max(6.0, 1.6 * n_bars + 2.0), 4.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(n_bars))
    acc = [100 * r["accuracy"] for r in rows]
    err = [
        [max(0.0, 100 * (r["accuracy"] - r["ci_lo"])) for r in rows],
        [max(0.0, 100 * (r["ci_hi"] - r["accuracy"])) for r in rows],
    ]
    colors = [f"C{i % 10}" for i in range(n_bars)]
    ax.bar(xs, acc, yerr=err, capsize=6, color=colors, alpha=0.85, edgecolor="black", linewidth=0.6,
           error_kw={"elinewidth": 1.2, "ecolor": "black"})
    for x, r in zip(xs, rows):
        ax.annotate(f"{pct(r['accuracy'])}%", (x, 100 * r["ci_hi"]), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9)
    bench = shared_bench(summaries)
    chance = next((s["chance"] for s in summaries if s.get("chance") is not None), None)
    shows_chance = bench is not None and chance is not None
    if shows_chance:  # named in the title: a legend box would cover the value over a tall bar
        ax.axhline(100 * float(chance), color="grey", linestyle="--", linewidth=1.2)
    ax.set_xticks(xs)
    ax.set_xticklabels([bar_label(r) for r in rows], fontsize=8, rotation=0 if n_bars <= 4 else 30,
                       ha="center" if n_bars <= 4 else "right", rotation_mode="anchor")
    ax.set_ylim(0, 109)  # room above 100% for the value printed over a bar
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("accuracy (%)")
    ax.yaxis.grid(True, linestyle=":", alpha=0.6)
    ax.set_axisbelow(True)
    title = "ProteinLMBench accuracy (95% Wilson CI)"
    if bench is not None and bench.get("name"):
        ns = {r["n"] for r in rows}
        title += f"\n{bench['name']}" + (f", n={ns.pop()}" if len(ns) == 1 else "")
    if shows_chance:
        title += f" (chance {pct(float(chance))}%, dashed)"
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=120)
    return path
