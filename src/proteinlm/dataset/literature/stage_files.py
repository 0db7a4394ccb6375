"""Where the datatrove stages of a literature build keep their results: per input file
OUT/.state/stage/<stage>/NNNNN.pkl.gz (NNNNN: the input's index), per one-task stage
OUT/.state/stage/<name>.pkl.gz; each written then renamed."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

from proteinlm.dataset.literature import pipeline as lit
from proteinlm.errors import ProteinLMError


def _stage_dir(opts: lit.LiteratureOptions) -> Path:
    return Path(opts.out) / ".state" / "stage"


def _stage_file(opts: lit.LiteratureOptions, stage: str, index: int) -> Path:
    return _stage_dir(opts) / stage / f"{index:05d}.pkl.gz"


def _versions_file(opts: lit.LiteratureOptions) -> Path:
    """The versions stage's result: (each PMID's last event, its VersionStats)."""
    return _stage_dir(opts) / "versions.pkl.gz"


def _dump(path: Path, obj) -> None:
    """Write then rename: a killed task never leaves a half-written result that looks done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with gzip.open(tmp, "wb", compresslevel=1) as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def _load(path: Path):
    if not path.is_file():
        raise ProteinLMError(f"{path}: missing stage result (rerun the build; if its task is marked complete, "
                             "delete OUT/.state/datatrove so that it runs again)")
    with gzip.open(path, "rb") as fh:
        return pickle.load(fh)
