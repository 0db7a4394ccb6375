"""Steps 7-9: near-duplicate removal, option shuffle, selection.

dedup: MinHash LSH over word 3-grams of "question + correct option" (the dataset builds' own
  `near_dedup`, Jaccard >= 0.7), questions met best-scored first, so the best of a cluster stays.
shuffle: `benchgen.shuffle.shuffle_seeded` (seed, question id): the answer and every option number
  the explanation cites follow the options.
select:
  published   score = (evidence + coherence) / 2; the questions sorted by score and cut into ten
              equal tenths; N/4 drawn (seeded) from each of the four lowest tenths, as the published
              set was (its authors reasoned the low scorers are the hard ones, then reviewed them)
  stratified  N spread evenly over the difficulty levels of the re-answer step (needs_passage,
              answerable_closed_book, answerable_from_options), and inside a level round-robin over
              articles; a level with too few questions gives its share to the others
  all         every question (N, when given, keeps the N best-scored)
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Iterator

from proteinlm.benchgen.papers.stages import Candidate, StageCounts
from proteinlm.benchgen.shuffle import seeded_order, shuffle_mcq
from proteinlm.errors import ProteinLMError

STRATEGIES = ("published", "stratified", "all")
DIFFICULTIES = ("needs_passage", "answerable_closed_book", "answerable_from_options")


def _best_first(cands: list[Candidate]) -> list[Candidate]:
    return sorted(cands, key=lambda c: (-c.combined, c.id))


def dedup(cands: list[Candidate], counts: StageCounts, threshold: float = 0.7) -> list[Candidate]:
    from proteinlm.dataset.steps.process import StepStats, near_dedup
    from proteinlm.records import Document

    docs = (Document(c.id, f"{c.mcq.question} {c.mcq.options[c.mcq.answer]}", "benchgen")
            for c in _best_first(cands))
    stats = StepStats("dedup")
    kept_ids = {d.id for d in near_dedup(docs, threshold=threshold, shingle=3, stats=stats)}
    counts.take(len(cands))
    counts.keep(len(kept_ids))
    if len(cands) > len(kept_ids):
        counts.drop("near_duplicate", len(cands) - len(kept_ids))
    return [c for c in cands if c.id in kept_ids]


def shuffle(cands: list[Candidate], seed: int | str, counts: StageCounts) -> list[Candidate]:
    for c in cands:
        counts.take()
        order = seeded_order(len(c.mcq.options), seed, c.id)
        c.mcq = shuffle_mcq(c.mcq, order)
        c.shuffle_order = order
        counts.keep()
    return cands


def _published(cands: list[Candidate], n: int, rng: random.Random) -> list[Candidate]:
    ranked = sorted(cands, key=lambda c: (c.combined, c.id))
    tenth = len(ranked) / 10
    out: list[Candidate] = []
    for d in range(4):
        pool = ranked[round(d * tenth): round((d + 1) * tenth)]
        want = n // 4 + (1 if d < n % 4 else 0)
        out.extend(rng.sample(pool, min(want, len(pool))))
    return out


def _round_robin(cands: list[Candidate], n: int, rng: random.Random) -> list[Candidate]:
    by_article: dict[str, list[Candidate]] = defaultdict(list)
    for c in _best_first(cands):
        by_article[c.chunk.article_id].append(c)
    articles = sorted(by_article)
    rng.shuffle(articles)
    out: list[Candidate] = []
    while len(out) < n and any(by_article.values()):
        for a in articles:
            if by_article[a] and len(out) < n:
                out.append(by_article[a].pop(0))
    return out


def _stratified(cands: list[Candidate], n: int, rng: random.Random) -> list[Candidate]:
    levels = {lvl: [c for c in cands if c.difficulty == lvl] for lvl in DIFFICULTIES}
    out: list[Candidate] = []
    open_levels = [lvl for lvl in DIFFICULTIES if levels[lvl]]
    while len(out) < n and open_levels:
        share = max(1, (n - len(out)) // len(open_levels))
        for lvl in list(open_levels):
            got = _round_robin(levels[lvl], min(share, n - len(out)), rng)
            out.extend(got)
            taken = {c.id for c in got}
            levels[lvl] = [c for c in levels[lvl] if c.id not in taken]
            if not levels[lvl]:
                open_levels.remove(lvl)
    return out


def select(cands: list[Candidate], strategy: str, n: int | None, seed: int | str,
           counts: StageCounts) -> Iterator[Candidate]:
    """The selected questions in run order (articles and chunks as read), whatever the draw order."""
    if strategy not in STRATEGIES:
        raise ProteinLMError(f"unknown --strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    if strategy != "all" and not n:
        raise ProteinLMError(f"--strategy {strategy} needs --select N")
    rng = random.Random(f"{seed}:select")
    if strategy == "published":
        chosen = _published(cands, n, rng)
    elif strategy == "stratified":
        chosen = _stratified(cands, n, rng)
    else:
        chosen = _best_first(cands)[:n] if n else list(cands)
    ids = {c.id for c in chosen}
    counts.take(len(cands))
    counts.keep(len(ids))
    if len(cands) > len(ids):
        counts.drop("not_selected", len(cands) - len(ids))
    yield from (c for c in cands if c.id in ids)
