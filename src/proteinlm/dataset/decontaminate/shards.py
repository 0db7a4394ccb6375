"""One shard of a build, the unit of decontamination work: find a build's shards, scan one for
benchmark n-grams and source articles, write it again without the rows to drop.

A build writes each shard as `DIR/<kind>/<subset>/<split>-NNNNN.jsonl.gz` and/or `.parquet`
(kind `pretrain` or `sft`; the two formats hold the same rows in the same order, see writers.py).
A shard is read from its JSONL.gz when there is one, else from its Parquet, batch by batch: a
scan holds one batch of documents at a time, whatever the corpus size. A pretraining row is
matched on its `text`; an SFT row on its `instruction`, `input` and `output`.

`scan_shard` is a pure function of (shard, bench index, provenance ids): any process may run it,
in any order, and the results merge into the same report (see run.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from proteinlm.dataset.decontaminate.ngrams import (
    BenchNgrams,
    encode_batch,
    split_words,
)
from proteinlm.errors import SourceError

SFT_FIELDS = ("instruction", "input", "output")
_SHARD_NAME = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-\d+\.(?P<fmt>jsonl\.gz|parquet)$")
BATCH_CHARS = 1 << 20  # text per numpy pass (~40 bytes of arrays per byte): amortised, and flat


@dataclass(frozen=True)
class ShardRef:
    """A shard of build `build` (its index in the run's builds): `stem` = "pretrain/pubmed/train-00000",
    `formats` the files it has ("jsonl.gz", "parquet")."""

    build: int
    root: str
    stem: str
    formats: tuple[str, ...]

    @property
    def subset(self) -> str:  # "pretrain/pubmed"
        return self.stem.rsplit("/", 1)[0]

    def path(self, fmt: str) -> Path:
        return Path(self.root) / f"{self.stem}.{fmt}"

    @property
    def read_format(self) -> str:
        return "jsonl.gz" if "jsonl.gz" in self.formats else "parquet"

    @property
    def name(self) -> str:  # shown in reports: "pretrain/pubmed/train-00000.jsonl.gz"
        return f"{self.stem}.{self.read_format}"

    def signature(self) -> list[int]:
        """Size and modification time of the file read: a resumed run rescans a shard that changed."""
        st = self.path(self.read_format).stat()
        return [st.st_size, st.st_mtime_ns]


def find_shards(build: int, root: str | Path) -> list[ShardRef]:
    """Every shard under DIR/{pretrain,sft}/<subset>/, sorted (the SFT exports under sft/alpaca
    and sft/chat are copies of the SFT shards' rows, not shards)."""
    root = Path(root)
    found: dict[str, list[str]] = {}
    for kind in ("pretrain", "sft"):
        for p in sorted(root.glob(f"{kind}/*/*")):
            m = _SHARD_NAME.match(p.name)
            if m and p.is_file():
                stem = str(p.relative_to(root))[: -len(m["fmt"]) - 1]
                found.setdefault(stem, []).append(m["fmt"])
    return [ShardRef(build, str(root), stem, tuple(sorted(f))) for stem, f in sorted(found.items())]


def row_fields(row: dict) -> list[str]:
    """The texts of a row that are matched: `text`, else the SFT fields it has."""
    if "text" in row:
        return [row["text"] or ""]
    return [row.get(k) or "" for k in SFT_FIELDS if k in row]


def read_rows(shard: ShardRef, batch: int = 1000) -> Iterator[list[dict]]:
    """The shard's rows in order, `batch` at a time (whole-file reads are never needed)."""
    path = shard.path(shard.read_format)
    try:
        if shard.read_format == "jsonl.gz":
            from isal import igzip

            rows: list[dict] = []
            with igzip.open(path, "rt", encoding="utf-8") as fh:
                for line_no, line in enumerate(fh, start=1):
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise SourceError(f"{path}:{line_no}: not a JSON row: {exc}") from exc
                    if len(rows) >= batch:
                        yield rows
                        rows = []
            if rows:
                yield rows
        else:
            import pyarrow.parquet as pq

            for b in pq.ParquetFile(path).iter_batches(batch_size=batch):
                yield b.to_pylist()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read (truncated or corrupt?): {exc}") from exc


@dataclass
class Provenance:
    """Source articles of generated questions: article id / PMCID / PMID → question ids."""

    by_key: dict[str, list[str]]

    def questions_of(self, row: dict) -> list[str]:
        """Questions generated from the article this row holds, matched on its pmcid, its pmid or
        its id (literature ids are "<subset>-pmc:PMC123" / "<subset>-pmid:123")."""
        keys = [row.get("pmcid"), row.get("pmid")]
        rid = row.get("id")
        if isinstance(rid, str) and rid:
            article = rid.split("-", 1)[-1]
            keys += [rid, article, article.split(":", 1)[-1]]
        hits: list[str] = []
        for k in keys:
            for q in self.by_key.get(str(k), ()) if k else ():
                if q not in hits:
                    hits.append(q)
        return hits


def scan_shard(shard: ShardRef, bench: BenchNgrams, provenance: Provenance | None) -> dict:
    """Documents, words and the rows to drop of one shard. Each contaminated row:
    {row, id, words, questions: {question index: distinct n-grams matched}, sources: [question ids
    of provenance]}; `grams`: question index → the bench n-grams found in this shard."""
    documents = words = 0
    contaminated: list[dict] = []
    grams: dict[int, set[int]] = {}
    pending: list[dict] = []
    pending_chars = 0

    def flush() -> None:
        nonlocal documents, words, pending_chars
        batch = split_words(encode_batch([row_fields(r) for r in pending]))
        counts = np.bincount(batch.doc, minlength=len(pending))
        per_doc: dict[int, dict[int, set[int]]] = {}
        found = bench.matches(batch)
        docs_of = batch.doc[[k for k, _ in found]].tolist() if found else []
        for d, (_, g) in zip(docs_of, found):
            for q in bench.owners[g]:
                per_doc.setdefault(d, {}).setdefault(q, set()).add(g)
                grams.setdefault(q, set()).add(g)
        for d, row in enumerate(pending):
            sources = provenance.questions_of(row) if provenance else []
            if d in per_doc or sources:
                qs = per_doc.get(d, {})
                contaminated.append({"row": documents + d, "id": row.get("id"), "words": int(counts[d]),
                                     "questions": {str(q): len(g) for q, g in sorted(qs.items())}, "sources": sources})
        documents += len(pending)
        words += int(counts.sum())
        pending.clear()
        pending_chars = 0

    for rows in read_rows(shard):
        for row in rows:
            pending.append(row)
            pending_chars += sum(map(len, row_fields(row)))
            if pending_chars >= BATCH_CHARS:
                flush()
    if pending:
        flush()
    return {"shard": shard.name, "build": shard.build, "subset": shard.subset, "signature": shard.signature(),
            "documents": documents, "words": words, "contaminated": contaminated,
            "grams": {str(q): sorted(g) for q, g in sorted(grams.items())}}


def write_without(shard: ShardRef, drop: set[int], out_root: Path) -> None:
    """Write the shard under `out_root` (same relative path, every format it had) without the rows
    whose indexes are in `drop`; a shard with nothing to drop is copied byte for byte. JSONL.gz
    rows that stay are copied line for line, so they keep their exact bytes."""
    from proteinlm.dataset.steps.writers import GzipShard, write_parquet

    for fmt in shard.formats:
        src, dst = shard.path(fmt), out_root / f"{shard.stem}.{fmt}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not drop:
            tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
            continue
        if fmt == "jsonl.gz":
            from isal import igzip

            target = GzipShard(dst)
            with igzip.open(src, "rb") as fh:
                for i, line in enumerate(fh):
                    if i not in drop:
                        target.write(line)
            target.close()
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(src)
            mask = np.ones(table.num_rows, dtype=bool)
            mask[[i for i in drop if i < table.num_rows]] = False
            rows = table.filter(mask).to_pylist()
            if rows:
                write_parquet(dst, rows)
            else:  # every row dropped: an empty shard that keeps the columns
                pq.write_table(table.slice(0, 0), dst, compression="zstd")
