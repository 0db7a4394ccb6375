"""The review summary as tables: printed by `benchgen export` and written beside the bench."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from proteinlm.benchgen.review.store import REASONS


def summary_tables(info: dict) -> list[Table]:
    totals = Table(title="Questions")
    totals.add_column("status")
    totals.add_column("count", justify="right")
    totals.add_row("total", str(info["total"]))
    for status, count in info["statuses"].items():
        totals.add_row(status, str(count))
    totals.add_row("reviews needed", str(info["reviews_needed"]))
    if "policy" in info:
        totals.add_row(f"exported ({info['policy']})", str(info["exported"]))
    reasons = Table(title="Rejections by reason")
    reasons.add_column("reason")
    reasons.add_column("rejections", justify="right")
    for key, count in info["reject_reasons"].items():
        reasons.add_row(REASONS.get(key, key), str(count))
    reviewers = Table(title="Per reviewer")
    for column in ("reviewer", "accepted", "rejected"):
        reviewers.add_column(column)
    for name, counts in info["per_reviewer"].items():
        reviewers.add_row(name, str(counts["accept"]), str(counts["reject"]))
    agreement = Table(title="Agreement on questions both reviewed")
    for column in ("reviewers", "questions", "both accept", "both reject", "only 1st accepts", "only 2nd accepts",
                   "agreement", "Cohen's kappa"):
        agreement.add_column(column)
    for pair in info["agreement"]:
        kappa = "undefined" if pair["kappa"] is None else f"{pair['kappa']:.3f}"
        agreement.add_row(" / ".join(pair["reviewers"]), str(pair["questions"]), str(pair["both_accept"]),
                          str(pair["both_reject"]), str(pair["only_first_accepts"]), str(pair["only_second_accepts"]),
                          f"{pair['observed']:.2f}", kappa)
    return [totals, reasons, reviewers, agreement]


def print_summary(info: dict, console: Console) -> None:
    for table in summary_tables(info):
        console.print(table)


def summary_text(info: dict) -> str:
    """The same tables as plain text (no colour codes), for the file."""
    buffer = io.StringIO()
    print_summary(info, Console(file=buffer, width=160, no_color=True, highlight=False))
    return buffer.getvalue()
