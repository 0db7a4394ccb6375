"""Step 3: passages into a hybrid (BM25 + dense vector) index; the evidence step searches it.

`open_index(spec, embedder)`:
* a directory: the embedded, on-disk default (`index_local.LocalIndex`: bm25s + a numpy float32
  matrix; chosen by `benchmarks/bench_index.py`, see the README's "Index" section). Reopening finds
  what was added; a run killed during `add` loses at most the batch being written;
* "qdrant://host:port/collection" or "qdrant+local://DIR/collection": Qdrant (a server, or
  qdrant-client's embedded local mode), dense vectors plus sparse BM25 vectors;
* "weaviate://host:port/Class": Weaviate through weaviate-client v4 (hybrid query with alpha).

Every index scores alike: `search` runs a BM25 search and a vector search over the same candidates
(one article's passages when `article_id` is given) and fuses them as Weaviate's
relativeScoreFusion does: each result list min-max normalised to [0, 1] (a list whose scores are all
equal gives each its weight), then alpha * vector + (1 - alpha) * BM25, a passage missing from a
list getting 0 from it. alpha = 1 is pure vector search, 0 pure BM25 (Weaviate's convention).

That fused score is relative: the best passage of any query scores ~1 when both searches agree,
however poor the match. `hits` also returns the raw cosine of query and passage, an absolute
measure (comparable across queries) of how well a passage supports a query.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from proteinlm.errors import ProteinLMError

from .embed import Embedder
from .hybrid import Hit, Passage, fuse_relative

__all__ = ["Hit", "HybridIndex", "Passage", "fuse_relative", "open_index"]


class HybridIndex(Protocol):
    def add(self, passages: Sequence[Passage]) -> None:
        """Embeds and stores passages whose id is not yet in the index (others are skipped)."""
        ...

    def search(
        self, query: str, *, article_id: str | None = None, k: int = 5, alpha: float = 0.8
    ) -> list[tuple[Passage, float]]:
        """The k best passages by fused score, best first."""
        ...

    def hits(self, query: str, *, article_id: str | None = None, k: int = 5, alpha: float = 0.8) -> list[Hit]:
        """As `search`, with each passage's raw cosine and BM25 score."""
        ...

    def hits_batch(
        self, queries: Sequence[str], article_ids: Sequence[str | None], *, k: int = 5, alpha: float = 0.8
    ) -> list[list[Hit]]:
        """`hits` of each query (restricted to the article id beside it, None for none), the queries
        embedded in one batch: many times faster than one `hits` call per query with a local model."""
        ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


def open_index(spec: str | Path, embedder: Embedder) -> HybridIndex:
    """The index `spec` names (see the module docstring)."""
    text = str(spec)
    if text.startswith(("qdrant://", "qdrant+local://")):
        from .index_qdrant import QdrantIndex

        return QdrantIndex.from_spec(text, embedder)
    if text.startswith("weaviate://"):
        from .index_weaviate import WeaviateIndex

        return WeaviateIndex.from_spec(text, embedder)
    if "://" in text:
        raise ProteinLMError(f"index {text!r}: not a directory, qdrant://, qdrant+local:// or weaviate:// address")
    from .index_local import LocalIndex

    return LocalIndex(Path(text), embedder)
