"""Word n-grams of benchmark questions, found in corpus text at numpy speed.

Normalisation (the same for questions and documents): text is lowercased and cut into words,
a word being a maximal run of Unicode letters and digits; punctuation, underscores and whitespace
only separate words ("Na+/K+-ATPase" → "na", "k", "atpase"). Scripts written without spaces
(Chinese) give one word per run of characters, so they are compared sentence-wise, not word-wise.

An n-gram is n consecutive words of one field (a question, an option, an explanation; a document's
text, an SFT row's instruction, input or output): n-grams never run across fields or documents.

How a corpus is matched without one Python step per n-gram: every benchmark word gets an id, and
a batch of documents becomes one array of word ids (0 for a word no question uses; a field or
document boundary is a separator id). An n-gram can only match where n consecutive ids are known,
so a rolling hash (each id's random 64-bit key, combined polynomially, wrapping at 2^64) is
computed for every window in n vectorised steps and looked up in the sorted hashes of the bench's
n-grams. Each hit is then checked word by word against the bench n-grams it hashes to, so the
result is exact: no hash collision can report a false match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import repeat
from typing import Sequence

import numpy as np

NORMALISATION = "lowercase; words = maximal runs of Unicode letters/digits (punctuation and whitespace separate)"
WORD = re.compile(r"[^\W_]+|\x00|\x01")
FIELD_SEP, DOC_SEP = "\x00", "\x01"  # joined between fields / documents; each is a word of its own
_UNKNOWN, _DOC_ID, _FIELD_ID = 0, -1, -2  # ids ≤ 0 break an n-gram; a word no question uses is 0
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the polynomial hash
_KEY_SEED = 20240613  # fixed: hashes are the same in every process


def words(text: str) -> list[str]:
    """The normalised words of `text` (see the module doc)."""
    return [w for w in WORD.findall(text.lower()) if w not in (FIELD_SEP, DOC_SEP)]


@dataclass
class BenchNgrams:
    """The distinct n-grams of a set of questions and which questions hold each.

    `vocab`: word → id ≥ 1; `keys[id]`: the id's random 64-bit key (0 for separators);
    `hashes`: sorted distinct hashes; `grams[g]`: n-gram g as a tuple of ids; `by_hash`: hash →
    the indexes g that hash to it; `owners[g]`: the question indexes holding n-gram g;
    `per_question[q]`: how many distinct n-grams question q has."""

    n: int
    vocab: dict[str, int] = field(default_factory=dict)
    grams: list[tuple[int, ...]] = field(default_factory=list)
    owners: list[list[int]] = field(default_factory=list)
    per_question: list[int] = field(default_factory=list)
    keys: np.ndarray | None = None
    hashes: np.ndarray | None = None
    by_hash: dict[int, list[int]] = field(default_factory=dict)
    _lookup: dict[str, int] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, questions: Sequence[Sequence[str]], n: int) -> "BenchNgrams":
        """`questions[q]`: the texts of question q's fields (question, options, explanation)."""
        if n < 1:
            raise ValueError(f"n-gram size must be at least 1, not {n}")
        self = cls(n)
        index: dict[tuple[int, ...], int] = {}
        for q, fields in enumerate(questions):
            mine: set[int] = set()
            for text in fields:
                ids = [self.vocab.setdefault(w, len(self.vocab) + 1) for w in words(text or "")]
                for i in range(len(ids) - n + 1):
                    g = index.setdefault(tuple(ids[i:i + n]), len(index))
                    if g == len(self.grams):
                        self.grams.append(tuple(ids[i:i + n]))
                        self.owners.append([])
                    if g not in mine:
                        mine.add(g)
                        self.owners[g].append(q)
            self.per_question.append(len(mine))
        rng = np.random.default_rng(_KEY_SEED)
        self.keys = rng.integers(1, 2**63, size=len(self.vocab) + 1, dtype=np.uint64) | np.uint64(1)
        self.keys[0] = 0
        table = np.array(self.grams, dtype=np.int64).reshape(len(self.grams), n)
        acc = np.zeros(len(self.grams), dtype=np.uint64)
        for j in range(n):  # the same Horner steps as window_hashes, one column at a time
            acc *= _BASE
            acc += self.keys[table[:, j]]
        for g, h in enumerate(acc.tolist()):
            self.by_hash.setdefault(h, []).append(g)
        self.hashes = np.array(sorted(self.by_hash), dtype=np.uint64)
        return self

    def ids(self, text: str) -> np.ndarray:
        """Word ids of a batch of documents joined by `encode_batch`: one dict look-up per word, in C."""
        if self._lookup is None:
            self._lookup = dict(self.vocab, **{FIELD_SEP: _FIELD_ID, DOC_SEP: _DOC_ID})
        found = WORD.findall(text.lower())
        return np.fromiter(map(self._lookup.get, found, repeat(_UNKNOWN)), dtype=np.int64, count=len(found))

    def window_hashes(self, ids: np.ndarray) -> np.ndarray:
        """The hash of every window of n ids (len(ids) - n + 1 of them)."""
        n = self.n
        width = len(ids) - n + 1
        if width <= 0:
            return np.zeros(0, dtype=np.uint64)
        k = self.keys[np.maximum(ids, 0)]
        acc = k[:width].copy()
        for j in range(1, n):  # Horner: acc = acc * B + k[j:] (uint64 arithmetic wraps)
            acc *= _BASE
            acc += k[j:j + width]
        return acc

    def matches(self, ids: np.ndarray) -> list[tuple[int, int]]:
        """(position, n-gram index g) of every window of `ids` that is one of the bench's n-grams."""
        n = self.n
        if len(ids) < n or not len(self.hashes):
            return []
        unknown = np.concatenate(([0], np.cumsum(ids <= 0)))
        complete = (unknown[n:] - unknown[:-n]) == 0  # windows of n known words
        candidates = np.flatnonzero(complete)
        if not len(candidates):
            return []
        h = self.window_hashes(ids)[candidates]
        at = np.searchsorted(self.hashes, h)
        at[at == len(self.hashes)] = 0
        hit = self.hashes[at] == h
        found = []
        for pos, value in zip(candidates[hit].tolist(), h[hit].tolist()):
            window = tuple(ids[pos:pos + n].tolist())
            for g in self.by_hash[value]:
                if self.grams[g] == window:  # exact: a hash collision is no match
                    found.append((pos, g))
        return found


def encode_batch(docs: Sequence[Sequence[str]]) -> str:
    """One string of a batch of documents (each a list of field texts) for `BenchNgrams.ids`."""
    return DOC_SEP.join(FIELD_SEP.join(fields) for fields in docs)


def doc_bounds(ids: np.ndarray) -> np.ndarray:
    """Where each document of a batch starts in its ids, then len(ids): document d is
    ids[bounds[d]:bounds[d + 1] - 1] (its DOC_SEP excluded)."""
    seps = np.flatnonzero(ids == _DOC_ID)
    return np.concatenate(([0], seps + 1, [len(ids) + 1]))


def doc_words(ids: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """How many words (separators excluded) each document of a batch has."""
    counted = np.concatenate(([0], np.cumsum(ids >= 0), [0]))
    counted[-1] = counted[-2]
    return counted[bounds[1:] - 1] - counted[bounds[:-1]]
