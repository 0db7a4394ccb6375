"""Model backends behind one interface (`Backend.loglikelihood`, `Backend.generate`)."""

from __future__ import annotations

from proteinlm.errors import BackendError
from proteinlm.models.base import Backend

BACKENDS = ("hf", "openai", "llamacpp")


def load_backend(
    model: str,
    backend: str = "hf",
    *,
    base_url: str | None = None,
    chat: bool | None = None,
    dtype: str = "auto",
    threads: int | None = None,
    trust_remote_code: bool = False,
    batch_size: int = 8,
    concurrency: int = 8,
    timeout: float = 60.0,
    max_retries: int = 5,
) -> Backend:
    """Build the backend for `model`. `smollm2` names the embedded GGUF (hf backend)."""
    if backend == "hf":
        from proteinlm.models.hf import HFBackend
        from proteinlm.models.smollm2 import ALIAS, smollm2_gguf_path

        path = str(smollm2_gguf_path()) if model == ALIAS else model
        hf = HFBackend(
            path, dtype=dtype, threads=threads, trust_remote_code=trust_remote_code, chat=chat, batch_size=batch_size
        )
        if model == ALIAS:
            hf.name = ALIAS
        return hf
    if backend == "openai":
        from proteinlm.models.openai_api import OpenAIBackend

        return OpenAIBackend(
            model,
            base_url,
            chat=True if chat is None else chat,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
        )
    if backend == "llamacpp":
        raise BackendError(
            "the llama.cpp backend is not available in this version: serve the GGUF with "
            "`llama-server -m FILE` and use --backend openai --base-url http://127.0.0.1:8080/v1"
        )
    raise BackendError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
