"""Steps 4 and 5: coherence (embedding cosine) and evidence (hybrid search inside the article).

coherence = cosine(embed(question), embed(correct option + " " + explanation)); a question below
the threshold (published: 0.75) drops as "low_coherence": its explanation does not support its own
answer, or the answer does not address the question.

evidence: the article's passages are searched with the question and its correct option (the
published pipeline's hybrid search, BM25 + dense vectors, alpha 0.8 weighting the dense side),
restricted to the question's own article; the best passage is kept with two scores: "fused", the
hybrid search's relative score (Weaviate's relativeScoreFusion, ~1 for the top hit of any query,
so it ranks passages but cannot rate a question), and "score", the cosine of query and passage
embeddings (clipped at 0), an absolute measure of support that the selection uses. Nothing is
dropped here: the score feeds the selection, and a best passage outside the question's own chunk is
flagged ("not_own_chunk"), as it is when the article has no indexed passage ("no_passage").
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from proteinlm.benchgen.papers.chunk import Chunk, passages
from proteinlm.benchgen.papers.stages import Candidate, StageCounts

COHERENCE_THRESHOLD = 0.75
ALPHA = 0.8


def index_chunks(index, chunks: Iterable[Chunk], passage_chars: int) -> int:
    """Every passage of `chunks` into the index (idempotent); returns how many were given."""
    from proteinlm.benchgen.papers.index import Passage

    batch = []
    for chunk in chunks:
        for pid, start, end, text in passages(chunk, passage_chars):
            batch.append(Passage(id=pid, article_id=chunk.article_id, text=text,
                                 meta={"chunk_id": chunk.id, "start": start, "end": end}))
    if batch:
        index.add(batch)
    return len(batch)


def coherence(cands: list[Candidate], embedder, threshold: float, counts: StageCounts) -> Iterator[Candidate]:
    if not cands:
        return
    from proteinlm.benchgen.papers.embed import cosine

    questions = embedder.embed([c.mcq.question for c in cands])
    answers = embedder.embed([f"{c.mcq.options[c.mcq.answer]} {c.mcq.explanation}".strip() for c in cands])
    sims = np.asarray(cosine(questions, answers), dtype=float)
    for cand, sim in zip(cands, sims):
        counts.take()
        cand.coherence = round(float(sim), 4)
        if cand.coherence < threshold:
            counts.drop("low_coherence")
            continue
        counts.keep()
        yield cand


def evidence(cands: list[Candidate], index, alpha: float, counts: StageCounts, k: int = 5) -> Iterator[Candidate]:
    for cand in cands:
        counts.take()
        query = f"{cand.mcq.question} {cand.mcq.options[cand.mcq.answer]}"
        hits = index.hits(query, article_id=cand.chunk.article_id, k=k, alpha=alpha)
        if not hits:
            cand.evidence = {"passage": "", "passage_id": None, "passage_chunk_id": None, "score": 0.0,
                             "fused": 0.0, "own_chunk": False}
            counts.flag("no_passage")
        else:
            best = hits[0]
            chunk_id = (best.passage.meta or {}).get("chunk_id")
            cand.evidence = {"passage": best.passage.text, "passage_id": best.passage.id,
                             "passage_chunk_id": chunk_id, "score": round(max(0.0, best.cosine), 4),
                             "fused": round(float(best.score), 4), "own_chunk": chunk_id == cand.chunk.id}
            if not cand.evidence["own_chunk"]:
                counts.flag("not_own_chunk")
        counts.keep()
        yield cand
