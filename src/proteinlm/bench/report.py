"""Compare finished runs: a terminal table that fits 80 columns, and `report.md` (every column,
accuracy per option count and per category) with `report.png` (bars with 95% intervals).

The terminal keeps what a reader compares (run label, method and extraction, n, accuracy with its
interval, parse counts) and moves what all runs share (prompt format, chance level) into the
title; model, backend and speed are in report.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from proteinlm.bench.chart import plot_accuracy, shared_bench
from proteinlm.bench.compare import (
    SAME_REPLIES,
    comparison_rows,
    load_summaries,
    method_text,
    pct,
    run_labels,
)

__all__ = ["comparison_rows", "load_summaries", "plot_accuracy", "print_run", "print_table",
           "render_markdown", "write_report"]

# report.md: every column
_COLUMNS = (
    ("label", "run"),
    ("model", "model"),
    ("backend", "backend"),
    ("method", "method"),
    ("extract", "extract"),
    ("prompt", "prompt"),
    ("n", "n"),
    ("accuracy_text", "accuracy [95% CI]"),
    ("chance_text", "chance"),
    ("pua_text", "parsed/unparsed/abstained"),
    ("qps_text", "questions/s"),
)
RUN_COLUMN_WIDTH = 12  # a run's column in the per-option-count and per-category terminal tables


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
            row.append(f"{pct(acc)}% (n={n})")
        body.append(row)
    return cats, body


def _option_count_cells(summaries: Sequence[dict], short: bool = False) -> list[list[str]]:
    """Per option count: the count, its chance level, then each run's accuracy (correct/n)."""
    counts = sorted({int(k) for s in summaries for k in (s.get("per_option_count") or {})})
    body = []
    for k in counts:
        row = [str(k), f"{pct(1 / k)}%"]
        for s in summaries:
            entry = (s.get("per_option_count") or {}).get(str(k))
            if not entry:
                row.append("–")
            else:
                acc = f"{pct(float(entry['accuracy']))}%"
                row.append(acc if short else f"{acc} ({entry['correct']}/{entry['n']})")
        body.append(row)
    return body


def render_markdown(summaries: Sequence[dict]) -> str:
    """The comparison table (a published-extraction run adds a row for the faithful extraction of
    the same replies), then accuracy per option count and per category, runs as columns."""
    rows = comparison_rows(summaries)
    labels = run_labels(summaries)
    out = [_md_table([h for _, h in _COLUMNS], [[r[k] for k, _ in _COLUMNS] for r in rows])]
    option_rows = _option_count_cells(summaries)
    if option_rows:
        out += ["", "### Accuracy by number of options", ""]
        out.append(_md_table(["options", "chance"] + labels, option_rows))
    cats, body = _category_cells(summaries)
    if cats:
        out += ["", "### Accuracy by category", ""]
        out.append(_md_table(["category"] + labels, body))
    return "\n".join(out) + "\n"


def _shared(rows: Sequence[dict], key: str) -> str | None:
    values = {r[key] for r in rows}
    return values.pop() if len(values) == 1 else None


def _runs_that_fit(console, fixed: int, n_runs: int) -> int:
    return max(1, min(n_runs, (console.width - fixed) // (RUN_COLUMN_WIDTH + 2)))


def _plain(cells) -> list:
    """Cells as rich Text: labels and model paths are shown as written, never read as markup."""
    from rich.text import Text

    return [c if isinstance(c, Text) else Text(str(c)) for c in cells]


def _per_run_table(console, title: str, first: list[str], labels: list[str], body: list[list[str]]) -> None:
    """Rows of per-run cells, as many run columns as the console holds; the rest are in report.md."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    fixed = sum(max(len(h), max((len(r[i]) for r in body), default=0)) + 2 for i, h in enumerate(first))
    shown = _runs_that_fit(console, fixed, len(labels))
    caption = f"{len(labels) - shown} more runs in report.md" if shown < len(labels) else None
    table = Table(title=title, box=box.SIMPLE_HEAD, caption=caption)
    for h in first:
        table.add_column(h, justify="right" if h != "category" else "left")
    for label in labels[:shown]:
        table.add_column(Text(label), justify="right", max_width=RUN_COLUMN_WIDTH, overflow="fold")
    for row in body:
        table.add_row(*_plain(row[: len(first) + shown]))
    console.print(table)


def print_table(summaries: Sequence[dict], console=None) -> None:
    """Print the comparison, then accuracy per option count and per category, within the
    console's width (80 columns is enough)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    rows = comparison_rows(summaries)
    prompt, chance = _shared(rows, "prompt"), _shared(rows, "chance_text")
    title = "ProteinLMBench runs" + (f" · prompt {prompt}" if prompt else "") + (
        f" · chance {chance}" if chance and chance != "–" else "")
    table = Table(title=Text(title), box=box.SIMPLE_HEAD, caption="model, backend, speed: report.md")
    table.add_column("run", max_width=24, overflow="fold")
    table.add_column("method", max_width=14)
    if prompt is None:
        table.add_column("prompt", max_width=9, overflow="fold")
    table.add_column("n", justify="right")
    table.add_column("accuracy [95% CI]", no_wrap=True)
    if chance is None:
        table.add_column("chance", justify="right")
    table.add_column("parsed/\nunparsed/\nabstained", justify="right")
    for r in rows:
        second_reading = r["extract"] == SAME_REPLIES  # the run's own row is just above
        model = r["model_name"] if len(r["model_name"]) <= 24 else r["model_name"][:23] + "…"
        run = Text("") if second_reading else Text(r["label"]) + Text("\n" + model, style="dim")
        method = r["method"] + ("" if r["extract"] in ("", "faithful") else f"\n{r['extract']}")
        cells = [run, method] + ([r["prompt"]] if prompt is None else []) + [str(r["n"]), r["accuracy_text"]]
        cells += ([r["chance_text"]] if chance is None else []) + [r["pua_text"]]
        table.add_row(*_plain(cells))
    console.print(table)
    labels = run_labels(summaries)
    option_rows = _option_count_cells(summaries, short=True)
    if option_rows:
        _per_run_table(console, "Accuracy by number of options", ["options", "chance"], labels, option_rows)
    cats, body = _category_cells(summaries)
    if cats:
        body = [[row[0]] + [cell.split(" ")[0] for cell in row[1:]] for row in body]
        _per_run_table(console, "Accuracy by category", ["category"], labels, body)


def print_run(summary: dict, console=None) -> None:
    """One run as a narrow two-column table (fits an 80-column terminal), then accuracy per option
    count and per category."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    rows = comparison_rows([summary])
    row = rows[0]
    title = Text(f"{(summary.get('bench') or {}).get('name', 'bench')} · {row['label']}")
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row(*_plain(["model", row["model"]]))
    table.add_row(*_plain(["method", method_text(row)]))
    for key, header in _COLUMNS[5:]:
        table.add_row(*_plain([header, row[key]]))
    if len(rows) > 1:
        table.add_row(*_plain(["faithful extraction,\nsame replies", f"{rows[1]['accuracy_text']}, {rows[1]['pua_text']}"]))
        table.add_row(*_plain(["prompt not stripped", summary.get("prompt_not_stripped", "–")]))
    if summary.get("abstain_ambiguous"):
        table.add_row(*_plain([
            f"option {summary['abstain_label']} is an answer",
            f"in {summary['abstain_ambiguous']} questions (not the abstention there)",
        ]))
    console.print(table)
    option_rows = _option_count_cells([summary])
    if option_rows:
        t = Table(title="Accuracy by number of options")
        for h in ("options", "chance", "accuracy (correct/n)"):
            t.add_column(h, justify="right")
        for cells in option_rows:
            t.add_row(*_plain(cells))
        console.print(t)
    cats, body = _category_cells([summary])
    if cats:
        cat_table = Table(title="Accuracy by category")
        cat_table.add_column("category")
        cat_table.add_column("accuracy", justify="right")
        for cells in body:
            cat_table.add_row(*_plain(cells))
        console.print(cat_table)


def _abstention_note(summaries: Sequence[dict]) -> list[str]:
    notes = []
    for s, label in zip(summaries, run_labels(summaries)):
        if s.get("abstain_ambiguous"):
            notes.append(
                f"- {label}: {s['abstain_ambiguous']} questions have {s['abstain_label']} or more options; there "
                f"\"option {s['abstain_label']}\" is an answer, not the abstention the instructions name "
                "(`proteinlm bench --abstain-label` sets another)."
            )
    return notes + [""] if notes else []


def write_report(run_dirs: str | Path | Iterable[str | Path], out_dir: str | Path) -> tuple[Path, Path]:
    """Write `report.md` and `report.png` comparing the runs into out_dir; return both paths."""
    summaries = load_summaries(run_dirs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png_path = plot_accuracy(summaries, out_dir / "report.png")
    lines = ["# ProteinLMBench comparison", ""]
    bench = shared_bench(summaries)
    if bench is not None:
        lines += [
            f"Benchmark: `{bench.get('name', '?')}` ({bench.get('n_records', '?')} records, "
            f"{bench.get('n_skipped', 0)} skipped), source `{bench.get('source', '?')}`, "
            f"sha256 `{str(bench.get('sha256', '?'))[:16]}`",
            "",
        ]
    else:
        lines += ["Note: these runs do not share one benchmark file; accuracies are not comparable.", ""]
    if any(s.get("faithful_same_replies") for s in summaries):
        lines += [
            "Runs with extract `published` read each reply as the published evaluator does (first integer once "
            "the prompt is replaced out of the decoded text); the row below each gives the faithful extraction "
            "of the same replies.",
            "",
        ]
    lines += _abstention_note(summaries)
    lines += [render_markdown(summaries), f"![accuracy per run]({png_path.name})", ""]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(lines), encoding="utf-8")
    return md_path, png_path
