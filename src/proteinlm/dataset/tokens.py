"""Token counts for manifests, with a named tokenizer (default: the embedded SmolLM2's).

Counting uses the `tokenizers` library directly on a `tokenizer.json`: importing transformers
(and with it torch) would add ~0.5 GB to every build worker and seconds to its start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from proteinlm.errors import ProteinLMError


def _smollm2_tokenizer_json() -> Path:
    """tokenizer.json of the embedded model, converted from its GGUF once and cached."""
    from proteinlm.models.hf import gguf_cache_dir
    from proteinlm.models.smollm2 import smollm2_gguf_path

    gguf = smollm2_gguf_path()
    cache = gguf_cache_dir(gguf)
    if cache is not None and (cache / "tokenizer.json").is_file():
        return cache / "tokenizer.json"
    from transformers import AutoTokenizer  # one-off conversion of the GGUF vocabulary

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    target = (cache.parent if cache is not None else Path.home() / ".cache" / "proteinlm") / f"{gguf.stem}-tokenizer"
    target.mkdir(parents=True, exist_ok=True)
    tok.backend_tokenizer.save(str(target / "tokenizer.json.tmp"))
    (target / "tokenizer.json.tmp").replace(target / "tokenizer.json")
    return target / "tokenizer.json"


class TokenCounter:
    """`spec`: "smollm2" (the embedded model's tokenizer), a `tokenizer.json` file or a directory
    holding one, or "none" to skip counting (the manifest then says so)."""

    def __init__(self, spec: str = "smollm2"):
        self.spec = spec
        self.tokenizer = None
        if spec == "none":
            return
        from tokenizers import Tokenizer

        try:
            if spec == "smollm2":
                path = _smollm2_tokenizer_json()
            else:
                path = Path(spec)
                if path.is_dir():
                    path = path / "tokenizer.json"
            self.tokenizer = Tokenizer.from_file(str(path))
        except ProteinLMError:
            raise
        except Exception as exc:  # noqa: BLE001 - missing file, bad JSON, conversion failure
            raise ProteinLMError(f"cannot load tokenizer {spec!r}: {exc}") from exc

    @property
    def name(self) -> str | None:
        if self.tokenizer is None:
            return None
        return "SmolLM2-135M-Instruct" if self.spec == "smollm2" else self.spec

    def count(self, texts: Sequence[str]) -> list[int] | None:
        if self.tokenizer is None:
            return None
        if not texts:
            return []
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]
