"""Compare finished runs: a markdown table, a rich table and a bar chart of accuracy with 95% CIs.

Each run directory holds the `summary.json` that `proteinlm bench` writes; this module only reads
those files, so it works on runs from any machine or backend.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

from proteinlm.errors import RunError

Z95 = 1.959963984540054  # two-sided 95% normal quantile
REQUIRED_KEYS = ("model", "method", "n", "correct")


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (what statsmodels calls method="wilson")."""
    if n <= 0:
        return (0.0, 0.0)
    if not 0 <= k <= n:
        raise ValueError(f"wilson_interval: need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


# ---------------------------------------------------------------------------------------- loading


def _summary_path(run_dir: Path) -> Path:
    return run_dir if run_dir.name == "summary.json" and run_dir.is_file() else run_dir / "summary.json"


def load_summaries(run_dirs: str | Path | Iterable[str | Path]) -> list[dict[str, Any]]:
    """Read `summary.json` from each run directory (a path to the file itself is accepted too)."""
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise RunError("no run directories given")
    summaries = []
    for run_dir in run_dirs:
        path = _summary_path(run_dir)
        if not path.is_file():
            what = "does not exist" if not run_dir.exists() else "has no summary.json (did the run finish?)"
            raise RunError(f"run directory {run_dir}: {what}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"run directory {run_dir}: cannot read {path.name}: {exc}") from exc
        if not isinstance(data, dict):
            raise RunError(f"run directory {run_dir}: {path.name} is not a JSON object")
        missing = [key for key in REQUIRED_KEYS if key not in data]
        if missing:
            raise RunError(f"run directory {run_dir}: {path.name} lacks keys {missing}")
        data.setdefault("run_id", path.parent.name)
        data.setdefault("run_dir", str(path.parent))
        summaries.append(data)
    return summaries


# ---------------------------------------------------------------------------------------- tables


def _accuracy(s: dict) -> float:
    if s.get("accuracy") is not None:
        return float(s["accuracy"])
    return s["correct"] / s["n"] if s["n"] else 0.0


def _ci(s: dict) -> tuple[float, float]:
    ci = s.get("ci95")
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return (float(ci[0]), float(ci[1]))
    return wilson_interval(int(s["correct"]), int(s["n"]))


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def run_label(s: dict, width: int = 32) -> str:
    """A short label for a run: model basename, method and prompt format."""
    model = str(s.get("model", "?")).rstrip("/").split("/")[-1]
    model = model.removesuffix(".gguf")
    return f"{_short(model, width)}\n{s.get('method', '?')} · {s.get('prompt_format', '?')}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def comparison_rows(summaries: Sequence[dict]) -> list[dict[str, Any]]:
    """One flat row per run with the numbers every table and the chart show."""
    rows = []
    for s in summaries:
        acc, (lo, hi) = _accuracy(s), _ci(s)
        qps = s.get("questions_per_s")
        rows.append(
            {
                "run": str(s.get("run_id", "?")),
                "label": run_label(s),
                "model": str(s.get("model", "?")),
                "backend": str(s.get("backend", "?")),
                "method": str(s.get("method", "?")),
                "prompt": str(s.get("prompt_format", "?")),
                "bench": (s.get("bench") or {}).get("name"),
                "n": int(s["n"]),
                "correct": int(s["correct"]),
                "accuracy": acc,
                "ci_lo": lo,
                "ci_hi": hi,
                "accuracy_text": f"{_pct(acc)}% [{_pct(lo)}–{_pct(hi)}]",
                "parsed": s.get("parsed"),
                "unparsed": s.get("unparsed"),
                "abstained": s.get("abstained"),
                "pua_text": "/".join(str(s.get(k, "–")) for k in ("parsed", "unparsed", "abstained")),
                "questions_per_s": qps,
                "qps_text": "–" if qps is None else f"{float(qps):.2f}",
            }
        )
    return rows


_COLUMNS = (
    ("run", "run"),
    ("model", "model"),
    ("backend", "backend"),
    ("method", "method"),
    ("prompt", "prompt"),
    ("n", "n"),
    ("accuracy_text", "accuracy [95% CI]"),
    ("pua_text", "parsed/unparsed/abstained"),
    ("qps_text", "questions/s"),
)


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], body: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def _category_cells(summaries: Sequence[dict]) -> tuple[list[str], list[list[str]]]:
    cats = sorted({c for s in summaries for c in (s.get("per_category") or {})})
    body = []
    for cat in cats:
        row = [cat]
        for s in summaries:
            entry = (s.get("per_category") or {}).get(cat)
            if not entry:
                row.append("–")
                continue
            n, k = int(entry.get("n", 0)), int(entry.get("correct", 0))
            acc = entry.get("accuracy", k / n if n else 0.0)
            row.append(f"{_pct(acc)}% (n={n})")
        body.append(row)
    return cats, body


def render_markdown(summaries: Sequence[dict]) -> str:
    """The comparison table, then (when any run has categories) a category x run accuracy table."""
    rows = comparison_rows(summaries)
    out = [_md_table([h for _, h in _COLUMNS], [[r[k] for k, _ in _COLUMNS] for r in rows])]
    cats, body = _category_cells(summaries)
    if cats:
        out += ["", "### Accuracy by category", ""]
        out.append(_md_table(["category"] + [r["run"] for r in rows], body))
    return "\n".join(out) + "\n"


def print_table(summaries: Sequence[dict], console=None) -> None:
    """Print the comparison (and category) table to a rich console."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="ProteinLMBench runs")
    for key, header in _COLUMNS:
        table.add_column(header, justify="right" if key in ("n", "qps_text") else "left")
    for r in comparison_rows(summaries):
        table.add_row(*(str(r[k]) for k, _ in _COLUMNS))
    console.print(table)
    cats, body = _category_cells(summaries)
    if cats:
        cat_table = Table(title="Accuracy by category")
        cat_table.add_column("category")
        for s in summaries:
            cat_table.add_column(str(s.get("run_id", "?")), justify="right")
        for row in body:
            cat_table.add_row(*row)
        console.print(cat_table)


def print_run(summary: dict, console=None) -> None:
    """One run as a narrow two-column table (fits an 80-column terminal), categories below."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    row = comparison_rows([summary])[0]
    table = Table(title=f"{summary.get('bench', {}).get('name', 'bench')} · {row['model']}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, header in _COLUMNS:
        if key not in ("run", "model"):
            table.add_row(header, str(row[key]))
    console.print(table)
    cats, body = _category_cells([summary])
    if cats:
        cat_table = Table(title="Accuracy by category")
        cat_table.add_column("category")
        cat_table.add_column("accuracy", justify="right")
        for cells in body:
            cat_table.add_row(*cells)
        console.print(cat_table)


# ---------------------------------------------------------------------------------------- chart


def _shared_bench(summaries: Sequence[dict]) -> dict | None:
    benches = [s.get("bench") or {} for s in summaries]
    keys = {(b.get("sha256") or b.get("name")) for b in benches}
    return benches[0] if len(keys) == 1 and None not in keys else None


def plot_accuracy(summaries: Sequence[dict], path: str | Path) -> Path:
    """A PNG bar chart of accuracy per run, with asymmetric 95% Wilson error bars."""
    # Figure + Agg canvas directly: no pyplot, so no global backend or figure state is touched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = comparison_rows(summaries)
    path = Path(path)
    n_runs = len(rows)
    fig = Figure(figsize=(max(6.0, 1.6 * n_runs + 2.0), 4.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(n_runs))
    acc = [100 * r["accuracy"] for r in rows]
    err = [
        [max(0.0, 100 * (r["accuracy"] - r["ci_lo"])) for r in rows],
        [max(0.0, 100 * (r["ci_hi"] - r["accuracy"])) for r in rows],
    ]
    colors = [f"C{i % 10}" for i in range(n_runs)]
    ax.bar(xs, acc, yerr=err, capsize=6, color=colors, alpha=0.85, edgecolor="black", linewidth=0.6,
           error_kw={"elinewidth": 1.2, "ecolor": "black"})
    for x, r in zip(xs, rows):
        ax.annotate(f"{_pct(r['accuracy'])}%", (x, 100 * r["ci_hi"]), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9)
    bench = _shared_bench(summaries)
    chance = next((s["chance"] for s in summaries if s.get("chance") is not None), None)
    if bench is not None and chance is not None:
        ax.axhline(100 * float(chance), color="grey", linestyle="--", linewidth=1.2,
                   label=f"chance ({100 * float(chance):.1f}%)")
        ax.legend(loc="best", fontsize=9)
    ax.set_xticks(xs)
    ax.set_xticklabels([r["label"] for r in rows], fontsize=8, rotation=0 if n_runs <= 4 else 30,
                       ha="center" if n_runs <= 4 else "right", rotation_mode="anchor")
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.yaxis.grid(True, linestyle=":", alpha=0.6)
    ax.set_axisbelow(True)
    title = "ProteinLMBench accuracy (95% Wilson CI)"
    if bench is not None and bench.get("name"):
        ns = {r["n"] for r in rows}
        title += f"\n{bench['name']}" + (f", n={ns.pop()}" if len(ns) == 1 else "")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=120)
    return path


# ---------------------------------------------------------------------------------------- report


def write_report(run_dirs: str | Path | Iterable[str | Path], out_dir: str | Path) -> tuple[Path, Path]:
    """Write `report.md` and `report.png` comparing the runs into out_dir; return both paths."""
    summaries = load_summaries(run_dirs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png_path = plot_accuracy(summaries, out_dir / "report.png")
    lines = ["# ProteinLMBench comparison", ""]
    bench = _shared_bench(summaries)
    if bench is not None:
        lines += [
            f"Benchmark: `{bench.get('name', '?')}` ({bench.get('n_records', '?')} records, "
            f"{bench.get('n_skipped', 0)} skipped), source `{bench.get('source', '?')}`, "
            f"sha256 `{str(bench.get('sha256', '?'))[:16]}`",
            "",
        ]
    else:
        lines += ["Note: these runs do not share one benchmark file; accuracies are not comparable.", ""]
    lines += [render_markdown(summaries), f"![accuracy per run]({png_path.name})", ""]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(lines), encoding="utf-8")
    return md_path, png_path
