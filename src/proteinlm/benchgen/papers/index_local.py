"""The embedded, on-disk hybrid index: BM25 over stemmed terms, dense vectors as a float32 matrix.

Files in the index directory:
* `index.json`: format, embedder name and dimension (reopening with another embedder is an error:
  its vectors would not be comparable);
* `passages.jsonl`: one passage a line {id, article_id, text, meta, terms}, appended ("terms": its
  BM25 terms, space-separated, so reopening tokenises nothing);
* `vectors.f32`: the passages' unit-length embeddings, row i for line i, appended (memory-mapped).

BM25 is Lucene's variant with bm25s's defaults (k1 1.5, b 0.75, idf log(1 + (N - df + 0.5) /
(df + 0.5))). A search inside one article, the evidence step's, scores that article's passages
directly from the corpus statistics kept up to date by `add` (document frequencies, total length):
no index to rebuild, so a run that adds a window of chunks and then searches, window after window,
never pays for the corpus again. A search of the whole corpus uses bm25s (the same formula, checked
by the tests), its index built in memory at the first such search after an add.

`add` works in slices: each slice is embedded, its vectors appended and flushed, then its lines.
Reopening keeps the passages whose line and vector row are both complete and cuts the rest, so a
run killed mid-add resumes by adding again (ids already in the index are skipped).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from proteinlm.errors import ProteinLMError

from .embed import Embedder
from .hybrid import CANDIDATES, Hit, HitsSearch, Passage, bm25_tokens, fuse_relative, top_candidates

FORMAT = "proteinlm-hybrid-index/2"
ADD_SLICE = 256  # passages embedded and written at a time: what a kill can lose
K1, B = 1.5, 0.75  # bm25s's defaults


def _interned(terms: list[str]) -> tuple[str, ...]:
    """One string object per distinct term across the index: 8 bytes per occurrence, not ~55."""
    return tuple(map(sys.intern, terms))


class LocalIndex(HitsSearch):
    def __init__(self, path: Path, embedder: Embedder):
        self.path = Path(path)
        self.embedder = embedder
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.path / ".lock", "w")
        except OSError as exc:
            raise ProteinLMError(f"index {self.path}: cannot create: {exc}") from exc
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise ProteinLMError(f"index {self.path} is open in another process") from None
        self._passages: list[Passage] = []
        self._row: dict[str, int] = {}
        self._by_article: dict[str, list[int]] = {}
        self._terms: list[tuple[str, ...]] = []  # each passage's BM25 terms
        self._df: Counter[str] = Counter()  # passages holding each term
        self._total_terms = 0
        self._vectors: np.ndarray | None = None
        self._bm25 = None  # bm25s index of the whole corpus, for unrestricted searches
        try:
            self.dim = int(embedder.dim)
            self._check_header()
            self._load()
        except BaseException:
            self.close()  # the lock goes with the failed open
            raise

    # ------------------------------------------------------------------ files
    @property
    def _lines(self) -> Path:
        return self.path / "passages.jsonl"

    @property
    def _vecs(self) -> Path:
        return self.path / "vectors.f32"

    def _check_header(self) -> None:
        header = self.path / "index.json"
        want = {"format": FORMAT, "embedder": self.embedder.name, "dim": self.dim}
        if not header.exists():
            header.write_text(json.dumps(want, indent=1) + "\n")
            return
        try:
            have = json.loads(header.read_text())
        except ValueError as exc:
            raise ProteinLMError(f"{header}: not JSON ({exc})") from None
        if have.get("format") != FORMAT:
            raise ProteinLMError(f"{header}: format {have.get('format')!r}, expected {FORMAT!r}")
        if (have.get("embedder"), have.get("dim")) != (want["embedder"], want["dim"]):
            raise ProteinLMError(
                f"index {self.path} holds {have.get('embedder')} vectors ({have.get('dim')}-d); this run embeds "
                f"with {want['embedder']} ({want['dim']}-d): use another index directory"
            )

    def _load(self) -> None:
        data = self._lines.read_bytes() if self._lines.exists() else b""
        complete = data[: data.rfind(b"\n") + 1]  # a line cut by a kill is dropped
        lines = complete.splitlines()
        row_bytes = self.dim * 4
        rows_on_disk = self._vecs.stat().st_size // row_bytes if self._vecs.exists() else 0
        if rows_on_disk < len(lines):  # lines are written after their vectors: should not happen
            lines = lines[:rows_on_disk]
            complete = b"".join(line + b"\n" for line in lines)
        if len(complete) != len(data):
            with open(self._lines, "r+b") as fh:
                fh.truncate(len(complete))
        if self._vecs.exists() and self._vecs.stat().st_size != len(lines) * row_bytes:
            with open(self._vecs, "r+b") as fh:
                fh.truncate(len(lines) * row_bytes)
        for number, line in enumerate(lines, 1):
            try:
                rec = json.loads(line)
                passage = Passage(rec["id"], rec["article_id"], rec["text"], rec.get("meta") or {})
                self._append(passage, _interned(rec["terms"].split()))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ProteinLMError(f"{self._lines}, line {number}: not a passage record ({exc})") from None

    def _append(self, p: Passage, terms: tuple[str, ...]) -> None:
        self._row[p.id] = len(self._passages)
        self._by_article.setdefault(p.article_id, []).append(len(self._passages))
        self._passages.append(p)
        self._terms.append(terms)
        self._df.update(set(terms))
        self._total_terms += len(terms)

    def _matrix(self) -> np.ndarray:
        if self._vectors is None or len(self._vectors) != len(self._passages):
            n = len(self._passages)
            self._vectors = (
                np.memmap(self._vecs, dtype=np.float32, mode="r", shape=(n, self.dim))
                if n else np.zeros((0, self.dim), dtype=np.float32)
            )
        return self._vectors

    # ------------------------------------------------------------------ adding
    def add(self, passages: Sequence[Passage]) -> None:
        new: list[Passage] = []
        seen: set[str] = set()
        for p in passages:
            if p.id not in self._row and p.id not in seen:
                seen.add(p.id)
                new.append(p)
        for i in range(0, len(new), ADD_SLICE):
            part = new[i : i + ADD_SLICE]
            vecs = np.ascontiguousarray(self.embedder.embed([p.text for p in part]), dtype=np.float32)
            if vecs.shape != (len(part), self.dim):
                raise ProteinLMError(
                    f"embedder {self.embedder.name} returned shape {vecs.shape} for {len(part)} passages "
                    f"({self.dim}-d expected)"
                )
            terms = [_interned(t) for t in bm25_tokens([p.text for p in part])]
            lines = b"".join(
                json.dumps({"id": p.id, "article_id": p.article_id, "text": p.text, "meta": p.meta,
                            "terms": " ".join(t)}, ensure_ascii=False).encode() + b"\n"
                for p, t in zip(part, terms)
            )
            for target, payload in ((self._vecs, vecs.tobytes()), (self._lines, lines)):
                with open(target, "ab") as fh:
                    fh.write(payload)
                    fh.flush()
                    os.fsync(fh.fileno())
            for p, t in zip(part, terms):
                self._append(p, t)
        if new:
            self._vectors = None
            self._bm25 = None

    # ------------------------------------------------------------------ searching
    def _bm25_corpus(self, terms: list[str]) -> np.ndarray:
        """BM25 of every passage (bm25s; its index rebuilt after adds)."""
        import bm25s

        if self._bm25 is None:
            self._bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
            self._bm25.index([list(t) for t in self._terms], show_progress=False)
        ids = self._bm25.get_tokens_ids(terms)
        if not ids:
            return np.zeros(len(self._passages), dtype=np.float32)
        return self._bm25.get_scores_from_ids(ids)

    def _bm25_rows(self, terms: list[str], rows: np.ndarray) -> np.ndarray:
        """BM25 of the passages at `rows` against the whole corpus's statistics (as bm25s scores:
        a term repeated in the query counts again)."""
        n = len(self._passages)
        known = [t for t in terms if t in self._df]
        out = np.zeros(len(rows), dtype=np.float64)
        if not known:
            return out
        idf = {t: math.log(1 + (n - self._df[t] + 0.5) / (self._df[t] + 0.5)) for t in set(known)}
        avg = self._total_terms / n
        for i, row in enumerate(rows):
            mine = self._terms[row]
            if not mine:
                continue
            tf = Counter(mine)
            norm = K1 * (1 - B + B * len(mine) / avg)
            out[i] = sum(idf[t] * tf[t] / (tf[t] + norm) for t in known if t in tf)
        return out

    def _hits(self, query: str, qv: np.ndarray, article_id: str | None, k: int, alpha: float) -> list[Hit]:
        if not self._passages:
            return []
        rows = None
        if article_id is not None:
            if article_id not in self._by_article:
                return []
            rows = np.asarray(self._by_article[article_id])
        matrix = self._matrix()
        cos = (matrix if rows is None else matrix[rows]) @ qv
        terms = bm25_tokens([query])[0]
        bm = self._bm25_corpus(terms) if rows is None else self._bm25_rows(terms, rows)
        n = max(k, CANDIDATES)
        fused = fuse_relative(top_candidates(cos, n), top_candidates(bm, n, positive=True), alpha, k)
        out = []
        for pos, score in fused:
            row = pos if rows is None else int(rows[pos])
            out.append(Hit(self._passages[row], score, float(cos[pos]), float(bm[pos])))
        return out

    def __len__(self) -> int:
        return len(self._passages)

    def __contains__(self, passage_id: str) -> bool:
        return passage_id in self._row

    def close(self) -> None:
        self._vectors = None
        self._bm25 = None
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    def __enter__(self) -> LocalIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
