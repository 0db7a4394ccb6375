"""Hybrid index in Qdrant: a server ("qdrant://host:port/collection") or qdrant-client's embedded
local mode ("qdrant+local://DIR/collection", pure Python: for tests and small corpora).

Each passage is one point (id: a UUID derived from the passage id) with a dense vector "dense"
(cosine) and a sparse vector "bm25": hashed stemmed terms (`bm25_tokens`) weighted by BM25's
term-frequency part, tf (k1 + 1) / (tf + k1 (1 - b + b dl / AVGDL)), the collection applying the
IDF (`Modifier.IDF`), so a query of its terms at weight 1 scores BM25. AVGDL is fixed (as in
Qdrant's own BM25 model) because points are added over time. The two result lists are fused here,
by `fuse_relative`, as for every index.
"""

from __future__ import annotations

import os
import uuid
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from proteinlm.errors import ProteinLMError

from .embed import Embedder
from .hybrid import CANDIDATES, Hit, HitsSearch, Passage, bm25_tokens, fuse_relative

K1, B, AVGDL = 1.2, 0.75, 100.0  # AVGDL: about the stemmed, stopword-free terms of a 1,000-char passage
_NAMESPACE = uuid.UUID("5b0a3f5e-8d0c-4c1e-9a57-1f0d6e2c7b11")  # passage id -> point id
UPSERT_SLICE = 256


def sparse_bm25(tokens: list[str], *, query: bool = False) -> tuple[list[int], list[float]]:
    """(indices, values) of a sparse vector: BM25 term weights of a document, or 1 per query term."""
    counts = Counter(zlib.crc32(t.encode()) for t in tokens)
    if query:
        return list(counts), [1.0] * len(counts)
    norm = K1 * (1 - B + B * len(tokens) / AVGDL)
    return list(counts), [tf * (K1 + 1) / (tf + norm) for tf in counts.values()]


class QdrantIndex(HitsSearch):
    def __init__(self, client, collection: str, embedder: Embedder, where: str):
        from qdrant_client import models

        self._models = models
        self.client = client
        self.collection = collection
        self.embedder = embedder
        self.where = where
        self.dim = int(embedder.dim)
        if not client.collection_exists(collection):
            client.create_collection(
                collection,
                vectors_config={"dense": models.VectorParams(size=self.dim, distance=models.Distance.COSINE)},
                sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
            )
        else:
            info = client.get_collection(collection)
            dense = info.config.params.vectors
            size = dense["dense"].size if isinstance(dense, dict) and "dense" in dense else None
            if size != self.dim:
                raise ProteinLMError(f"{where}: collection has dense vectors of size {size}, the embedder {self.dim}")

    @classmethod
    def from_spec(cls, spec: str, embedder: Embedder) -> QdrantIndex:
        try:
            from qdrant_client import QdrantClient
        except ImportError:
            raise ProteinLMError(f"index {spec!r} needs the package qdrant-client (pip install qdrant-client)") from None
        if spec.startswith("qdrant+local://"):
            rest = spec[len("qdrant+local://"):]
            folder, _, collection = rest.rstrip("/").rpartition("/")
            if not folder or not collection:
                raise ProteinLMError(f"index {spec!r}: write it as qdrant+local://DIR/COLLECTION")
            Path(folder).mkdir(parents=True, exist_ok=True)
            try:
                client = QdrantClient(path=folder)
            except RuntimeError as exc:  # the storage folder is locked by another client
                raise ProteinLMError(f"index {spec!r}: {exc}") from None
            return cls(client, collection, embedder, spec)
        parts = urlsplit(spec)
        collection = parts.path.strip("/")
        if not parts.hostname or not collection or "/" in collection:
            raise ProteinLMError(f"index {spec!r}: write it as qdrant://HOST:PORT/COLLECTION")
        # the API key, if the server wants one, only from the environment
        client = QdrantClient(host=parts.hostname, port=parts.port or 6333, api_key=os.environ.get("QDRANT_API_KEY"),
                              https=False)
        return cls(client, collection, embedder, spec)

    @staticmethod
    def point_id(passage_id: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, passage_id))

    def add(self, passages: Sequence[Passage]) -> None:
        models = self._models
        unique = list({p.id: p for p in passages}.values())
        for i in range(0, len(unique), UPSERT_SLICE):
            part = unique[i : i + UPSERT_SLICE]
            have = {r.id for r in self.client.retrieve(self.collection, [self.point_id(p.id) for p in part],
                                                       with_payload=False, with_vectors=False)}
            part = [p for p in part if self.point_id(p.id) not in have]
            if not part:
                continue
            vecs = self.embedder.embed([p.text for p in part])
            points = []
            for p, vec, toks in zip(part, vecs, bm25_tokens([p.text for p in part])):
                idx, val = sparse_bm25(toks)
                points.append(models.PointStruct(
                    id=self.point_id(p.id),
                    vector={"dense": vec.tolist(), "bm25": models.SparseVector(indices=idx, values=val)},
                    payload={"pid": p.id, "article_id": p.article_id, "text": p.text, "meta": p.meta},
                ))
            self.client.upsert(self.collection, points=points, wait=True)

    def _hits(self, query: str, qv: np.ndarray, article_id: str | None, k: int, alpha: float) -> list[Hit]:
        models = self._models
        flt = None
        if article_id is not None:
            flt = models.Filter(must=[models.FieldCondition(key="article_id", match=models.MatchValue(value=article_id))])
        n = max(k, CANDIDATES)
        dense = self.client.query_points(self.collection, query=qv.tolist(), using="dense", query_filter=flt,
                                         limit=n, with_payload=True, with_vectors=["dense"]).points
        idx, val = sparse_bm25(bm25_tokens([query])[0], query=True)
        sparse = []
        if idx:
            sparse = self.client.query_points(
                self.collection, query=models.SparseVector(indices=idx, values=val), using="bm25",
                query_filter=flt, limit=n, with_payload=True, with_vectors=["dense"],
            ).points
        points = {}
        for pt in list(dense) + list(sparse):
            points[str(pt.id)] = pt
        keys = {pid: i for i, pid in enumerate(points)}
        vector = {keys[str(pt.id)]: float(pt.score) for pt in dense}
        keyword = {keys[str(pt.id)]: float(pt.score) for pt in sparse if pt.score > 0}
        ordered = list(points.values())
        out = []
        for key, score in fuse_relative(vector, keyword, alpha, k):
            pt = ordered[key]
            pl = pt.payload
            cos = float(np.dot(np.asarray(pt.vector["dense"], dtype=np.float32), qv))
            out.append(Hit(Passage(pl["pid"], pl["article_id"], pl["text"], pl.get("meta") or {}), score, cos,
                           keyword.get(key, 0.0)))
        return out

    def __len__(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def close(self) -> None:
        self.client.close()
