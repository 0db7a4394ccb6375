"""Token counts for manifests, with a named tokenizer (default: the embedded SmolLM2's)."""

from __future__ import annotations

from typing import Sequence

from proteinlm.errors import ProteinLMError


class TokenCounter:
    """`spec`: "smollm2" (the embedded model's tokenizer), a local tokenizer/model directory, or
    "none" to skip counting (the manifest then says so)."""

    def __init__(self, spec: str = "smollm2"):
        self.spec = spec
        self.tokenizer = None
        if spec == "none":
            return
        from transformers import AutoTokenizer

        try:
            if spec == "smollm2":
                from proteinlm.models.hf import gguf_cache_dir
                from proteinlm.models.smollm2 import smollm2_gguf_path

                gguf = smollm2_gguf_path()
                converted = gguf_cache_dir(gguf)
                if converted is not None and (converted / "tokenizer.json").is_file():
                    self.tokenizer = AutoTokenizer.from_pretrained(converted)
                else:
                    self.tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            else:
                self.tokenizer = AutoTokenizer.from_pretrained(spec)
        except ProteinLMError:
            raise
        except Exception as exc:  # noqa: BLE001 - transformers raises many types
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
        enc = self.tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False)
        return [len(ids) for ids in enc["input_ids"]]
