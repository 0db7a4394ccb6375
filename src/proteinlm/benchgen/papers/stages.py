"""What flows between the steps (a candidate question and what was learnt about it) and the
per-stage counts the manifest and the screen show: in = kept + dropped, by reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from proteinlm.benchgen.papers.chunk import Chunk
from proteinlm.records import MCQ


@dataclass
class Candidate:
    """A generated question and, as the steps go, its scores, answers and evidence."""

    mcq: MCQ  # options in the generator's order until the shuffle step
    chunk: Chunk
    quote: str
    quote_match: float = 0.0  # 0-1, rapidfuzz partial_ratio / 100 of the quote against the chunk
    coherence: float | None = None
    evidence: dict = field(default_factory=dict)  # passage, passage_chunk_id, score, own_chunk
    validator: dict = field(default_factory=dict)  # with_passage / closed_book / options_only
    shuffle_order: list[int] | None = None

    @property
    def id(self) -> str:
        return self.mcq.id

    @property
    def combined(self) -> float:
        """(evidence score + coherence) / 2, the published selection score."""
        return ((self.evidence.get("score") or 0.0) + (self.coherence or 0.0)) / 2

    @property
    def difficulty(self) -> str:
        """How the validator fared without reading: "needs_passage" when neither the closed-book
        nor the options-only answer was right, else which shortcut worked."""
        closed = self.validator.get("closed_book", {}).get("correct", False)
        only = self.validator.get("options_only", {}).get("correct", False)
        if only:
            return "answerable_from_options"
        return "answerable_closed_book" if closed else "needs_passage"


class StageCounts:
    """in / kept / dropped-by-reason (and flags, which do not drop) of one stage."""

    def __init__(self, name: str, unit: str = "questions"):
        self.name = name
        self.unit = unit
        self.n_in = 0
        self.kept = 0
        self.dropped: Counter = Counter()
        self.flagged: Counter = Counter()

    def take(self, n: int = 1) -> None:
        self.n_in += n

    def keep(self, n: int = 1) -> None:
        self.kept += n

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n

    def flag(self, reason: str, n: int = 1) -> None:
        self.flagged[reason] += n

    def as_dict(self) -> dict:
        out = {"unit": self.unit, "in": self.n_in, "kept": self.kept,
               "dropped": dict(sorted(self.dropped.items()))}
        if self.flagged:
            out["flagged"] = dict(sorted(self.flagged.items()))
        return out

    def balanced(self) -> bool:
        return self.n_in == self.kept + sum(self.dropped.values())
