"""Hybrid index in a Weaviate server ("weaviate://host:port/Class", gRPC on port 50051) through
weaviate-client v4: vectors computed here (no server-side vectorizer), the published pipeline's
hybrid query (BM25 + vector, `alpha`, relativeScoreFusion) run by the server, restricted to one
article by a filter on the `article_id` property. The server's fused score is returned as is; the
raw cosine is computed here from the returned vector; the raw BM25 score is not reported (0).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

import numpy as np

from proteinlm.errors import ProteinLMError

from .embed import Embedder
from .hybrid import Hit, HitsSearch, Passage

_NAMESPACE = uuid.UUID("5b0a3f5e-8d0c-4c1e-9a57-1f0d6e2c7b11")  # the same point ids as in Qdrant
GRPC_PORT = int(os.environ.get("WEAVIATE_GRPC_PORT", "50051"))


class WeaviateIndex(HitsSearch):
    def __init__(self, client, class_name: str, embedder: Embedder, where: str):
        from weaviate.classes.config import Configure, DataType, Property, Tokenization

        self.client = client
        self.embedder = embedder
        self.where = where
        if not client.collections.exists(class_name):
            client.collections.create(
                class_name,
                vector_config=Configure.Vectors.self_provided(),
                properties=[
                    Property(name="pid", data_type=DataType.TEXT, tokenization=Tokenization.FIELD, skip_vectorization=True),
                    Property(name="article_id", data_type=DataType.TEXT, tokenization=Tokenization.FIELD),
                    Property(name="text", data_type=DataType.TEXT),
                    Property(name="meta", data_type=DataType.TEXT, index_searchable=False),
                ],
            )
        self.collection = client.collections.get(class_name)

    @classmethod
    def from_spec(cls, spec: str, embedder: Embedder) -> WeaviateIndex:
        try:
            import weaviate
        except ImportError:
            raise ProteinLMError(
                f"index {spec!r} needs the package weaviate-client v4 (pip install 'weaviate-client>=4')"
            ) from None
        parts = urlsplit(spec)
        class_name = parts.path.strip("/")
        if not parts.hostname or not class_name:
            raise ProteinLMError(f"index {spec!r}: write it as weaviate://HOST:PORT/Class")
        from weaviate.classes.init import Auth

        key = os.environ.get("WEAVIATE_API_KEY")  # the key, if the server wants one, only from the environment
        auth = Auth.api_key(key) if key else None
        client = weaviate.connect_to_custom(
            http_host=parts.hostname, http_port=parts.port or 8080, http_secure=False,
            grpc_host=parts.hostname, grpc_port=GRPC_PORT, grpc_secure=False, auth_credentials=auth,
        )
        return cls(client, class_name[0].upper() + class_name[1:], embedder, spec)

    def add(self, passages: Sequence[Passage]) -> None:
        unique = list({p.id: p for p in passages}.values())
        new = [p for p in unique if not self.collection.data.exists(uuid.uuid5(_NAMESPACE, p.id))]
        if not new:
            return
        vecs = self.embedder.embed([p.text for p in new])
        with self.collection.batch.fixed_size(batch_size=256) as batch:
            for p, vec in zip(new, vecs):
                batch.add_object(
                    properties={"pid": p.id, "article_id": p.article_id, "text": p.text, "meta": json.dumps(p.meta)},
                    uuid=uuid.uuid5(_NAMESPACE, p.id), vector=vec.tolist(),
                )
        if self.collection.batch.failed_objects:
            first = self.collection.batch.failed_objects[0]
            raise ProteinLMError(f"{self.where}: {len(self.collection.batch.failed_objects)} passages not stored "
                                 f"(first: {first.message})")

    def _hits(self, query: str, qv: np.ndarray, article_id: str | None, k: int, alpha: float) -> list[Hit]:
        from weaviate.classes.query import Filter, HybridFusion, MetadataQuery

        res = self.collection.query.hybrid(
            query=query, vector=qv.tolist(), alpha=alpha, limit=k, fusion_type=HybridFusion.RELATIVE_SCORE,
            filters=Filter.by_property("article_id").equal(article_id) if article_id is not None else None,
            return_metadata=MetadataQuery(score=True), include_vector=True,
        )
        out = []
        for obj in res.objects:
            pr = obj.properties
            vec = obj.vector.get("default") if isinstance(obj.vector, dict) else obj.vector
            cos = float(np.dot(np.asarray(vec, dtype=np.float32), qv)) if vec is not None else float("nan")
            p = Passage(pr["pid"], pr["article_id"], pr["text"], json.loads(pr.get("meta") or "{}"))
            out.append(Hit(p, float(obj.metadata.score or 0.0), cos, 0.0))
        return out

    def __len__(self) -> int:
        return int(self.collection.aggregate.over_all(total_count=True).total_count or 0)

    def close(self) -> None:
        self.client.close()
