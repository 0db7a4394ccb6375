"""`proteinlm benchgen ...`: generate, review and export benchmark questions (registered by cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from proteinlm.cli_console import console, fail as _fail
from proteinlm.errors import ProteinLMError

benchgen_app = typer.Typer(help="Generate benchmark questions.", no_args_is_help=True)


@benchgen_app.command("from-uniprot")
def benchgen_uniprot_cmd(
    build: Path = typer.Option(..., "--build", help="A `proteinlm build uniprot` output dir (its split decides the proteins)."),
    inputs: Optional[List[str]] = typer.Option(None, "--input", "-i", help="Swiss-Prot/UniProt files (default: the build's own inputs); repeatable."),
    out: Path = typer.Option(..., "--out", help="Benchmark JSON (ProteinLMBench shape)."),
    split: str = typer.Option("validation", "--split", help="Proteins of this split get questions."),
    options: int = typer.Option(4, "--options", help="Options per question (2-6)."),
    kinds: Optional[str] = typer.Option(None, "--kinds", help="Comma-separated question kinds (default: all)."),
    max_residues: int = typer.Option(400, "--max-residues", help="Longer sequences are shown cut, and said to be."),
    seed: int = typer.Option(0, "--seed"),
):
    """Template MCQs with verifiable answers from Swiss-Prot annotations."""
    from proteinlm.benchgen.from_uniprot import QuestionOptions, questions_from_build

    try:
        qs, stats = questions_from_build(build, inputs=list(inputs or []), split=split, opts=QuestionOptions(
            n_options=options, kinds=tuple(kinds.split(",")) if kinds else None, max_residues=max_residues, seed=seed))
    except ProteinLMError as exc:
        _fail(exc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(qs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"{len(qs)} questions from {stats['proteins']} {split} proteins → {out} "
                  f"(by kind: {stats['by_kind']}; skipped: {stats['skipped']})")
