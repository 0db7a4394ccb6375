"""The stage counts of a run (manifest.json) as a table on screen: in, kept, dropped by reason."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def counts_table(manifest: dict) -> Table:
    table = Table(title="benchgen from-papers", show_lines=False)
    for col in ("stage", "unit", "in", "kept", "dropped (by reason)", "flagged"):
        table.add_column(col, justify="right" if col in ("in", "kept") else "left")
    for name, st in manifest["stages"].items():
        dropped = ", ".join(f"{r} {n}" for r, n in st["dropped"].items()) or "-"
        flagged = ", ".join(f"{r} {n}" for r, n in st.get("flagged", {}).items()) or "-"
        table.add_row(name, st["unit"], str(st["in"]), str(st["kept"]), dropped, flagged)
    return table


def print_counts(manifest: dict, console: Console) -> None:
    console.print(counts_table(manifest))
    tokens = ", ".join(f"{s} {t['prompt']}+{t['completion']}" for s, t in manifest.get("tokens", {}).items())
    console.print(f"tokens (prompt+completion) by stage: {tokens or 'none'}")
    run = manifest.get("this_run", {})
    asked = sum(run.get("calls_asked", {}).values())
    cached = sum(run.get("calls_from_cache", {}).values())
    console.print(f"model calls this run: {asked} asked, {cached} answered from the run's cache")
