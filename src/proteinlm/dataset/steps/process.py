"""Cleaning and deduplication steps over streams of `Document`s (datatrove style).

Every step is a generator function `step(docs, *, stats=None, **options) -> Iterator[Document]`:
it pulls documents one at a time and yields the ones it keeps, so a pipeline over millions of
abstracts never holds them all. Each step fills a `StepStats` (in/out/dropped, reasons, examples)
as the stream is consumed; `run_steps` chains the steps and hands back their stats objects, which
are complete once the returned iterator is exhausted.

    from functools import partial
    docs, stats = run_steps(docs, [normalize, partial(length_filter, min_chars=100), exact_dedup, near_dedup])
    write(docs)                       # consume first ...
    manifest["steps"] = [s.as_dict() for s in stats]   # ... then read the counts
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

from proteinlm.records import Document

MAX_EXAMPLES = 20  # examples kept per step: enough to eyeball, small enough for a manifest


@dataclass
class StepStats:
    name: str
    docs_in: int = 0
    docs_out: int = 0
    reasons: Counter = field(default_factory=Counter)  # reason -> dropped documents
    modified: int = 0  # documents whose text a step changed (normalize)
    examples: list[dict] = field(default_factory=list)  # e.g. {"id": dropped, "duplicate_of": kept}

    @property
    def dropped(self) -> int:
        return self.docs_in - self.docs_out

    def drop(self, reason: str, example: dict | None = None) -> None:
        self.reasons[reason] += 1
        if example is not None and len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "in": self.docs_in,
            "out": self.docs_out,
            "dropped": self.dropped,
            "modified": self.modified,
            "reasons": dict(sorted(self.reasons.items())),
            "examples": list(self.examples),
        }


Step = Callable[..., Iterator[Document]]


def _step_name(step: Step) -> str:
    func = getattr(step, "func", step)  # functools.partial keeps the function in .func
    return getattr(func, "__name__", type(func).__name__)


def run_steps(docs: Iterable[Document], steps: Sequence[Step]) -> tuple[Iterator[Document], list[StepStats]]:
    """Chain `steps` lazily. The stats fill as the returned iterator is consumed."""
    stream: Iterator[Document] = iter(docs)
    all_stats: list[StepStats] = []
    for step in steps:
        stats = StepStats(_step_name(step))
        stream = step(stream, stats=stats)
        all_stats.append(stats)
    return stream, all_stats


# --------------------------------------------------------------------------- normalize

_SEQ_RE = re.compile(r"(<seq>.*?</seq>)", re.DOTALL)  # capture group: re.split keeps the sequences


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in range(0x3001):  # every Cc and Zs code point lies below U+3001
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat == "Cc" and ch not in "\n\t\r\x85":
            table[cp] = None  # NUL, BEL, ESC, DEL, C1 controls: never meaningful in abstracts
        elif cat == "Zs" and ch != " ":
            table[cp] = " "  # NBSP, thin/em spaces from PDFs: one kind of space, then collapsed
    # zero-width characters and the BOM are invisible in print but split words for the tokenizer
    for cp in (0x200B, 0x2060, 0xFEFF):
        table[cp] = None
    # every line break form becomes \n: NEL, line/paragraph separators (\r is handled before)
    table.update({0x85: "\n", 0x2028: "\n", 0x2029: "\n", 0x0B: "\n", 0x0C: "\n"})
    return table


_TABLE = _build_table()
_SPACES = re.compile(r"[ \t]+")
_LINE_EDGE_SPACES = re.compile(r"[ \t]*\n[ \t]*")  # spaces at a line's end or start
_BLANK_LINES = re.compile(r"\n{3,}")  # three newlines = two blank lines -> one blank line


def _clean_piece(text: str) -> str:
    # NFC, not NFKC: NFKC would fold "Ca²⁺" to "Ca2+", the micro sign to Greek mu and "ﬁ" to "fi",
    # rewriting units and chemistry. NFC only composes (e + U+0301 -> é), which changes no
    # rendering; Greek letters (α-helix, β-sheet) and super/subscripts stay as written.
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_TABLE)
    text = _SPACES.sub(" ", text)
    text = _LINE_EDGE_SPACES.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text)


def normalize_text(text: str) -> str:
    """Clean `text` outside `<seq> ... </seq>` spans; the spans stay byte-identical, since a
    residue string is data (its separator and letters are the format), not prose."""
    pieces = _SEQ_RE.split(text)
    # even indices: prose; odd: sequences. Only the first and last prose pieces get stripped,
    # so the space between "residues" and "<seq>" survives.
    out = [p if i % 2 else _clean_piece(p) for i, p in enumerate(pieces)]
    out[0] = out[0].lstrip()
    out[-1] = out[-1].rstrip()
    return "".join(out)


def normalize(docs: Iterable[Document], *, stats: StepStats | None = None) -> Iterator[Document]:
    stats = stats if stats is not None else StepStats("normalize")
    for doc in docs:
        stats.docs_in += 1
        text = normalize_text(doc.text)
        if text != doc.text:
            stats.modified += 1
            doc = dataclasses.replace(doc, text=text)
        stats.docs_out += 1
        yield doc


# --------------------------------------------------------------------------- filters

def length_filter(
    docs: Iterable[Document], *, min_chars: int = 200, max_chars: int | None = None, stats: StepStats | None = None
) -> Iterator[Document]:
    """Drop documents shorter than `min_chars` (title-only records, stubs) or longer than
    `max_chars` (None: no upper bound). Counted in characters, not tokens: no tokenizer needed."""
    stats = stats if stats is not None else StepStats("length_filter")
    for doc in docs:
        stats.docs_in += 1
        n = len(doc.text)
        if n < min_chars:
            stats.drop("too_short", {"id": doc.id, "chars": n})
        elif max_chars is not None and n > max_chars:
            stats.drop("too_long", {"id": doc.id, "chars": n})
        else:
            stats.docs_out += 1
            yield doc


def exact_key(text: str) -> bytes:
    # whitespace-insensitive: texts that differ only in spacing/line breaks are the same document
    return hashlib.blake2b(" ".join(text.split()).encode("utf-8"), digest_size=16).digest()


def exact_dedup(docs: Iterable[Document], *, stats: StepStats | None = None) -> Iterator[Document]:
    """Keep the first document of each exact text (after whitespace folding). Memory: one 16-byte
    digest (plus set overhead, ~100 bytes) per kept document."""
    stats = stats if stats is not None else StepStats("exact_dedup")
    seen: dict[bytes, str] = {}
    for doc in docs:
        stats.docs_in += 1
        key = exact_key(doc.text)
        first = seen.get(key)
        if first is not None:
            stats.drop("exact_duplicate", {"id": doc.id, "duplicate_of": first})
            continue
        seen[key] = doc.id
        stats.docs_out += 1
        yield doc


# --------------------------------------------------------------------------- near dedup

_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 5) -> set[bytes]:
    """Word n-grams of the lower-cased text (punctuation dropped, so "p53," equals "p53")."""
    words = _WORD.findall(text.lower())
    if len(words) <= n:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i : i + n]).encode("utf-8") for i in range(len(words) - n + 1)}


def near_dedup(
    docs: Iterable[Document],
    *,
    threshold: float = 0.8,
    num_perm: int = 128,
    shingle: int = 5,
    seed: int = 1,
    stats: StepStats | None = None,
) -> Iterator[Document]:
    """MinHash LSH near-duplicate removal (datasketch), streaming: each document is queried
    against those kept so far, then inserted if kept, so the first of a cluster survives.

    LSH candidates are confirmed by the estimated Jaccard similarity (>= threshold), which turns
    the banding's false positives away; this needs the kept signatures (num_perm x 4 bytes each:
    512 B/doc at 128 perms). Deterministic: fixed `seed`, datasketch's fixed sha1 hash, and ties
    between candidates broken by first-seen order. (datasketch 2.0 changed its default hashing
    scheme, so exact signatures -- and borderline decisions -- may differ between 1.x and 2.x.)
    """
    import numpy as np
    from datasketch import MinHash, MinHashLSH

    stats = stats if stats is not None else StepStats("near_dedup")
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    template = MinHash(num_perm=num_perm, seed=seed)  # permutations drawn once, copied per doc
    signatures: list[np.ndarray] = []
    ids: list[str] = []
    for doc in docs:
        stats.docs_in += 1
        m = template.copy()  # shares the permutations; works with datasketch 1.x and 2.x
        m.update_batch(sorted(shingles(doc.text, shingle)))  # sorted: order-free anyway, but cheap insurance
        sig = m.hashvalues.astype(np.uint32)  # values are < 2**32 by construction
        match = None
        for key in sorted(lsh.query(m)):  # keys are first-seen order numbers
            if float(np.mean(signatures[key] == sig)) >= threshold:
                match = key
                break
        if match is not None:
            stats.drop("near_duplicate", {"id": doc.id, "duplicate_of": ids[match]})
            continue
        lsh.insert(len(ids), m, check_duplication=False)
        signatures.append(sig)
        ids.append(doc.id)
        stats.docs_out += 1
        yield doc
