"""Where the datatrove stages of a literature build keep their results: per input file
OUT/.state/stage/<stage>/NNNNN.pkl.gz (NNNNN: the input's index), per one-task stage
OUT/.state/stage/<name>.pkl.gz; each written then renamed (`engine/stage_results.py`)."""

from __future__ import annotations

from pathlib import Path

from proteinlm.dataset.literature import pipeline as lit


def _stage_dir(opts: lit.LiteratureOptions) -> Path:
    return Path(opts.out) / ".state" / "stage"


def _stage_file(opts: lit.LiteratureOptions, stage: str, index: int) -> Path:
    return _stage_dir(opts) / stage / f"{index:05d}.pkl.gz"


def _versions_file(opts: lit.LiteratureOptions) -> Path:
    """The versions stage's result: (each PMID's last event, its VersionStats)."""
    return _stage_dir(opts) / "versions.pkl.gz"
