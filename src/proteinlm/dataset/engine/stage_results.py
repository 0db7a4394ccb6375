"""What a datatrove stage hands to the next one: a pickled result per unit of work (an input
file, a chunk) under OUT/.state/stage/, written then renamed. A stored result is what makes resume
per task cheap: a rerun skips the units already stored, even those of a task killed half-way."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

from proteinlm.errors import ProteinLMError


def dump(path: Path, obj) -> None:
    """Write then rename: a killed task never leaves a half-written result that looks done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with gzip.open(tmp, "wb", compresslevel=1) as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def load(path: Path):
    """A stored result. The files are the build's own, written by this package, so unpickling
    them is safe."""
    if not path.is_file():
        raise ProteinLMError(f"{path}: missing stage result (rerun the build; if its task is marked complete, "
                             "delete OUT/.state/datatrove so that it runs again)")
    with gzip.open(path, "rb") as fh:
        return pickle.load(fh)
