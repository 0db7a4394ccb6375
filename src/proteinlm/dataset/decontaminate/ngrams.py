"""Word n-grams of benchmark questions, found in corpus text with numpy, not one Python step per word.

Normalisation (the same for questions and documents), on the UTF-8 bytes: ASCII letters are
lowercased; a word is a maximal run of ASCII letters and digits and non-ASCII characters; ASCII
punctuation, `_`, whitespace and the Unicode general punctuation block (U+2000-U+206F: dashes,
curly quotes, primes, thin spaces) and U+00A0 separate words. So "Na+/K+-ATPase" gives "na",
"k", "atpase", and "“tissue–type”" gives "tissue", "type". Other non-ASCII characters stay
as they are (Greek letters are not case-folded); scripts written without spaces (Chinese) give one
word per run of characters.

An n-gram is n consecutive words of one field (a question, an option, an explanation; a
document's text, an SFT row's instruction, input or output): never across fields or documents.

How: a batch of documents is one byte array (fields joined by FIELD_SEP, documents by DOC_SEP).
Word starts and ends come from a byte lookup table; each word's hash from prefix sums of
byte × P^position (mod 2^64, inverted by P's inverse mod 2^64); each window of n words' hash
from n vectorised Horner steps over the word hashes; windows are looked up in the sorted hashes
of the bench's n-grams. A hit is then checked word by word against the bench n-gram, so the
result is exact: a hash collision cannot report a false match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

NORMALISATION = ("ASCII lowercased; words = maximal runs of ASCII letters/digits and non-ASCII characters; ASCII "
                 "punctuation, _, whitespace, U+2000-U+206F and U+00A0 separate words")
FIELD_SEP, DOC_SEP = "\x00", "\x01"
_P = 0x100000001B3  # odd: invertible mod 2^64
_P_INV = pow(_P, -1, 2**64)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # the multiplier of the window hash
_FILTER_BITS = 22  # 4 MB of flags, indexed by a hash's top bits (the best mixed by the products)

# byte → normalised byte: ASCII letters lowercased, letters/digits/non-ASCII bytes kept, FIELD_SEP
# and DOC_SEP kept (0 and 1), every other byte a space; a word byte is then any byte > 32
_NORM = np.full(256, 32, dtype=np.uint8)
for _c in b"abcdefghijklmnopqrstuvwxyz0123456789":
    _NORM[_c] = _c
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _NORM[_c] = _c + 32
_NORM[0x80:] = np.arange(0x80, 0x100, dtype=np.uint8)
_NORM[0], _NORM[1] = 0, 1


def _normalise(data: bytes) -> np.ndarray:
    """`_NORM` of every byte, and the UTF-8 bytes of U+2000-U+206F (E2 80-81 xx) and U+00A0
    (C2 A0) made spaces."""
    a = _NORM[np.frombuffer(data, dtype=np.uint8)]
    lead = np.flatnonzero(a[:-2] == 0xE2)
    lead = lead[(a[lead + 1] == 0x80) | (a[lead + 1] == 0x81)]
    for k in range(3):
        a[lead + k] = 32
    nbsp = np.flatnonzero(a[:-1] == 0xC2)
    nbsp = nbsp[a[nbsp + 1] == 0xA0]
    a[nbsp] = 32
    a[nbsp + 1] = 32
    return a


def words(text: str) -> list[str]:
    """The normalised words of `text` (see the module doc), one at a time: for questions and tests."""
    a = _normalise(text.encode("utf-8"))
    a[a < 32] = 32
    return [w.decode("utf-8", "replace") for w in a.tobytes().split()]


class _Powers:
    """P^i and P^-i mod 2^64 for i < len, grown on demand (uint64 products wrap)."""

    def __init__(self):
        self.up = self.down = np.ones(1, dtype=np.uint64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.up) < n:
            size = max(n, 2 * len(self.up))
            self.up, self.down = np.ones(size, dtype=np.uint64), np.ones(size, dtype=np.uint64)
            np.cumprod(np.full(size - 1, _P, dtype=np.uint64), out=self.up[1:])
            np.cumprod(np.full(size - 1, _P_INV, dtype=np.uint64), out=self.down[1:])
        return self.up[:n], self.down[:n]


_POWERS = _Powers()


@dataclass
class Words:
    """The words of a batch: byte spans in `data` (the batch normalised: lowercased, every
    separator byte a space), hashes, document index, and whether a field or document boundary
    comes before each word."""

    data: bytes
    starts: np.ndarray
    ends: np.ndarray
    hashes: np.ndarray
    doc: np.ndarray
    break_before: np.ndarray

    def gram(self, k: int, n: int) -> tuple[bytes, ...]:
        """Words k .. k + n - 1 (a complete window: no boundary inside)."""
        return tuple(self.data[int(self.starts[k]):int(self.ends[k + n - 1])].split())


def split_words(data: bytes) -> Words:
    """Words of UTF-8 bytes in which FIELD_SEP / DOC_SEP bytes mark boundaries."""
    a = _normalise(data)
    padded = np.zeros(len(a) + 2, dtype=np.int8)
    padded[1:-1] = a > 32
    edge = padded[1:] - padded[:-1]
    starts, ends = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    up, down = _POWERS.get(len(a))
    prefix = np.zeros(len(a) + 1, dtype=np.uint64)
    np.cumsum(a * up, out=prefix[1:])  # wraps mod 2^64
    hashes = (prefix[ends] - prefix[starts]) * down[starts]  # the word's bytes × P^(offset in the word)
    seps = np.flatnonzero(a < 32)  # few: one per field and document
    doc = np.searchsorted(seps[a[seps] == 1], starts)  # DOC_SEPs before the word
    boundaries = np.searchsorted(seps, starts)
    break_before = np.ones(len(starts), dtype=bool)
    break_before[1:] = boundaries[1:] != boundaries[:-1]
    a[seps] = 32
    return Words(a.tobytes(), starts, ends, hashes, doc, break_before)


def window_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """The hash of every window of n word hashes (len - n + 1 of them)."""
    width = len(hashes) - n + 1
    if width <= 0:
        return np.zeros(0, dtype=np.uint64)
    acc = hashes[:width].copy()
    for j in range(1, n):  # Horner: acc = acc * MIX + h[j:] (uint64 arithmetic wraps)
        acc *= _MIX
        acc += hashes[j:j + width]
    return acc


def complete_windows(w: Words, n: int) -> np.ndarray:
    """Starts of the windows of n words with no field or document boundary inside."""
    if len(w.starts) < n:
        return np.zeros(0, dtype=np.int64)
    inside = np.concatenate(([0], np.cumsum(w.break_before[1:])))  # boundaries up to word k
    return np.flatnonzero(inside[n - 1:] - inside[:len(inside) - n + 1] == 0)


def encode_batch(docs: Sequence[Sequence[str]]) -> bytes:
    """One UTF-8 byte string of a batch of documents (each a list of field texts). A DOC_SEP
    inside a text would shift the documents, so such texts are cleaned first (rare)."""
    text = DOC_SEP.join(FIELD_SEP.join(fields) for fields in docs)
    if text.count(DOC_SEP) != len(docs) - 1:
        clean = [[f.replace(DOC_SEP, " ") for f in fields] for fields in docs]
        text = DOC_SEP.join(FIELD_SEP.join(fields) for fields in clean)
    return text.encode("utf-8")


@dataclass
class BenchNgrams:
    """The distinct n-grams of a set of questions and which questions hold each.

    `grams[g]`: n-gram g as a tuple of word bytes; `owners[g]`: the question indexes holding it;
    `per_question[q]`: how many distinct n-grams question q has; `hashes`: their sorted hashes;
    `by_hash`: hash → the indexes g that hash to it."""

    n: int
    grams: list[tuple[bytes, ...]] = field(default_factory=list)
    owners: list[list[int]] = field(default_factory=list)
    per_question: list[int] = field(default_factory=list)
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    by_hash: dict[int, list[int]] = field(default_factory=dict)
    maybe: np.ndarray | None = None  # a one-hash Bloom filter of `hashes`: most windows stop here
    _checked: dict = field(default_factory=dict, repr=False)  # (hash, window bytes) → n-grams, per batch

    @classmethod
    def build(cls, questions: Sequence[Sequence[str]], n: int) -> BenchNgrams:
        """`questions[q]`: the texts of question q's fields (question, options, explanation),
        split and hashed by the very code that reads the corpus."""
        if n < 1:
            raise ValueError(f"n-gram size must be at least 1, not {n}")
        self = cls(n)
        w = split_words(encode_batch([[t or "" for t in fields] for fields in questions]))
        starts = complete_windows(w, n)
        hashes = window_hashes(w.hashes, n)[starts]
        text = [w.data[a:b] for a, b in zip(w.starts.tolist(), w.ends.tolist())]
        index: dict[tuple[bytes, ...], int] = {}
        mine: list[set[int]] = [set() for _ in questions]
        for k, h, q in zip(starts.tolist(), hashes.tolist(), w.doc[starts].tolist()):
            gram = tuple(text[k:k + n])
            g = index.get(gram)
            if g is None:
                g = index[gram] = len(self.grams)
                self.grams.append(gram)
                self.owners.append([])
                self.by_hash.setdefault(h, []).append(g)
            if g not in mine[q]:
                mine[q].add(g)
                self.owners[g].append(q)
        self.per_question = [len(m) for m in mine]
        self.hashes = np.array(sorted(self.by_hash), dtype=np.uint64)
        self.maybe = np.zeros(1 << _FILTER_BITS, dtype=bool)
        self.maybe[self.hashes >> np.uint64(64 - _FILTER_BITS)] = True
        return self

    def matches(self, w: Words) -> list[tuple[int, int]]:
        """(word position, n-gram index g) of every window of the batch that is a bench n-gram."""
        if not len(self.hashes):
            return []
        starts = complete_windows(w, self.n)
        if not len(starts):
            return []
        h = window_hashes(w.hashes, self.n)[starts]
        passed = self.maybe[h >> np.uint64(64 - _FILTER_BITS)]  # a few % pass for a bench of 100k n-grams
        starts, h = starts[passed], h[passed]
        at = np.searchsorted(self.hashes, h)
        at[at == len(self.hashes)] = 0
        hit = self.hashes[at] == h
        found = []
        checked = self._checked
        checked.clear()  # bounded: one batch's distinct hits
        for k, value in zip(starts[hit].tolist(), h[hit].tolist()):
            span = w.data[int(w.starts[k]):int(w.ends[k + self.n - 1])]
            gs = checked.get((value, span))
            if gs is None:  # exact: a hash collision is no match
                gram = tuple(span.split())
                gs = checked[(value, span)] = [g for g in self.by_hash[value] if self.grams[g] == gram]
            found += [(k, g) for g in gs]
        return found
