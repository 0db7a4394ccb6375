"""The optional C extension, looked up in one place: `proteinlm.sources._flatfile`, the Swiss-Prot
flat-file reader and its entry-cutting loop (a frozen format, read ~10x faster than Biopython's
parser). It mirrors Python code that runs where it is missing: an install without a C compiler, or
PROTEINLM_PURE_PYTHON=1 in the environment. Everything else a build does (cleaning, rendering, JSON
rows, Parquet columns, token counts) is Python only, on orjson and pyarrow."""

from __future__ import annotations

import importlib
import os

FLATFILE = "proteinlm.sources._flatfile"


def compiled_module(module: str):
    """The C extension `module`, or None where it is not to be used."""
    if os.environ.get("PROTEINLM_PURE_PYTHON") == "1":
        return None
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - installed without a C compiler
        return None


def compiled(name: str, module: str = FLATFILE):
    """The function `name` of a C extension `module`, or None where it is not to be used (also
    where an extension built from older sources lacks it: an editable install not rebuilt after a
    pull reads with the Python code instead of failing at import)."""
    found = compiled_module(module)
    return None if found is None else getattr(found, name, None)
