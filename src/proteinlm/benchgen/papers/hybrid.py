"""What every hybrid index shares: the records (Passage, Hit), the BM25 tokeniser, and the fusion
of a vector and a keyword result list as Weaviate's relativeScoreFusion (see `index.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from proteinlm.errors import ProteinLMError

__all__ = ["CANDIDATES", "Hit", "HitsSearch", "Passage", "bm25_tokens", "fuse_relative", "top_candidates"]

# Results each of the two searches contributes to the fusion (Weaviate fuses the sub-searches'
# result lists; a larger list makes the min-max normalisation depend less on where it is cut).
CANDIDATES = 100


@dataclass(frozen=True)
class Passage:
    id: str  # e.g. "PMC1234:p3200"
    article_id: str
    text: str
    meta: dict = field(default_factory=dict, compare=False, hash=False)  # title, sections, ...


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # fused relative score in [0, 1]
    cosine: float  # cosine of the query and passage embeddings, in [-1, 1]
    bm25: float  # raw BM25 score (0 when the passage shares no term with the query)


class HitsSearch:
    """The query side every index shares: argument checks, one embedding batch for all queries,
    and `search` as `hits` without the raw scores. An index supplies `embedder` and `_hits` (the
    hits of one query whose embedding is given)."""

    def hits(self, query: str, *, article_id: str | None = None, k: int = 5, alpha: float = 0.8) -> list[Hit]:
        return self.hits_batch([query], [article_id], k=k, alpha=alpha)[0]

    def hits_batch(
        self, queries: Sequence[str], article_ids: Sequence[str | None], *, k: int = 5, alpha: float = 0.8
    ) -> list[list[Hit]]:
        """`hits` of many queries, their embeddings computed in one batch."""
        if k < 1:
            raise ProteinLMError(f"k must be >= 1, got {k}")
        if len(queries) != len(article_ids):
            raise ProteinLMError(f"{len(queries)} queries but {len(article_ids)} article ids")
        if not queries:
            return []
        vectors = self.embedder.embed(list(queries))
        return [self._hits(q, qv, a, k, alpha) for q, qv, a in zip(queries, vectors, article_ids)]

    def search(
        self, query: str, *, article_id: str | None = None, k: int = 5, alpha: float = 0.8
    ) -> list[tuple[Passage, float]]:
        return [(h.passage, h.score) for h in self.hits(query, article_id=article_id, k=k, alpha=alpha)]

    def _hits(self, query: str, qv: np.ndarray, article_id: str | None, k: int, alpha: float) -> list[Hit]:
        raise NotImplementedError


_TOKENIZER = None


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    """Lower-cased words of 2+ characters, English stopwords out, Snowball-stemmed (bm25s's
    tokenizer with PyStemmer): one tokenisation for documents and queries in every index."""
    global _TOKENIZER
    import bm25s

    if _TOKENIZER is None:
        import Stemmer

        _TOKENIZER = Stemmer.Stemmer("english")
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_TOKENIZER, return_ids=False, show_progress=False)


def _minmax(scores: np.ndarray, weight: float) -> np.ndarray:
    lo, hi = float(scores.min()), float(scores.max())
    if hi == lo:  # Weaviate: all scores equal -> each gets the full weight
        return np.full(scores.shape, weight, dtype=np.float64)
    return weight * (scores.astype(np.float64) - lo) / (hi - lo)


def fuse_relative(
    vector: dict[int, float], keyword: dict[int, float], alpha: float, k: int
) -> list[tuple[int, float]]:
    """Weaviate's relativeScoreFusion of two result lists {key: raw score}: the k best (key, score),
    ties broken by the vector score then the key, so results are deterministic."""
    if not 0.0 <= alpha <= 1.0:
        raise ProteinLMError(f"alpha must be in [0, 1], got {alpha}")
    fused: dict[int, float] = {}
    for results, weight in ((vector, alpha), (keyword, 1.0 - alpha)):
        if not results:
            continue
        keys = list(results)
        for key, s in zip(keys, _minmax(np.array([results[x] for x in keys]), weight)):
            fused[key] = fused.get(key, 0.0) + float(s)
    ranked = sorted(fused.items(), key=lambda kv: (-kv[1], -vector.get(kv[0], -2.0), kv[0]))
    return [(key, min(1.0, max(0.0, s))) for key, s in ranked[:k]]


def top_candidates(scores: np.ndarray, n: int, *, positive: bool = False) -> dict[int, float]:
    """{position: score} of the n highest scores (only those > 0 when `positive`: BM25 lists hold
    the passages that share a term with the query, as a keyword search returns)."""
    if scores.size == 0:
        return {}
    n = min(n, scores.size)
    top = np.argpartition(-scores, n - 1)[:n] if n < scores.size else np.arange(scores.size)
    if positive:
        top = top[scores[top] > 0]
    return {int(i): float(scores[i]) for i in top}
