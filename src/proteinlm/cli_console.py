"""What every CLI module shares: the stderr console, the error exit and the progress bar."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


def fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {escape(str(exc))}")  # a message is text: "[train]" is no markup
    raise typer.Exit(code=2)


def progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
