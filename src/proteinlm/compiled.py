"""The optional C extensions, looked up in one place: `proteinlm.sources._flatfile` (the flat-file
reader, its cutting loop, the comment cleaning) and `proteinlm.dataset._rows` (the build's row
writers and word-by-word token count). Each mirrors Python code that runs where it is missing: an
install without a C compiler, or PROTEINLM_PURE_PYTHON=1 in the environment."""

from __future__ import annotations

import importlib
import os

FLATFILE = "proteinlm.sources._flatfile"
ROWS = "proteinlm.dataset._rows"


def compiled(name: str, module: str = FLATFILE):
    """The function `name` of a C extension `module`, or None where it is not to be used."""
    if os.environ.get("PROTEINLM_PURE_PYTHON") == "1":
        return None
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:  # pragma: no cover - installed without a C compiler
        return None
