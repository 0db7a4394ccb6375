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
    n_ctx: int = 4096,
) -> Backend:
    """Build the backend for `model`. `smollm2` names the embedded GGUF (hf and llamacpp backends);
    `n_ctx` is the llamacpp backend's context length."""
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
        from proteinlm.models.llamacpp import LlamaCppBackend
        from proteinlm.models.smollm2 import ALIAS, smollm2_gguf_path

        path = str(smollm2_gguf_path()) if model == ALIAS else model
        lc = LlamaCppBackend(path, threads=threads, chat=chat, n_ctx=n_ctx)
        if model == ALIAS:
            lc.name = ALIAS
        return lc
    raise BackendError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
