"""The end of every literature build: processed documents in, shards of `shard_docs` documents
and `manifest.json` out. Streams: one shard's rows in memory at a time.

Shared by the local build (`pipeline.build_literature`) and the datatrove merge
(`dedup_stages.merge_dedup`), so both write the same bytes from the same documents.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from proteinlm import __version__
from proteinlm.dataset.engine.build_state import EXPECTED, check_output, nothing_built
from proteinlm.dataset.steps.writers import file_info, output_info, write_jsonl_gz, write_parquet
from proteinlm.records import Document

# recorded work under .state/ (a build with other options is refused while any of it exists)
RECORDED = ("shard-*.json", "stage/*.pkl.gz", "stage/*/*.pkl.gz", "dedup-*/**/*.pkl.gz")
RECORD_COUNT = {"pmc": "articles", "bilingual": "pairs"}  # the `_file_docs` count of an input's records


@dataclass
class ShardStats:
    index: int
    documents: int = 0
    tokens: int | None = 0
    files: list[str] = field(default_factory=list)


@dataclass
class BuildLog:
    """What the per-file work reported, for the manifest: skipped records, manifest sections of
    the context, subset counters, records read per input (pmc, bilingual)."""

    skipped: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    subset_counts: dict[str, int] = field(default_factory=dict)
    read: dict[str, int] = field(default_factory=dict)

    def add_file(self, subset: str, path: str, bad: list[str], counts: dict) -> None:
        self.skipped.extend(bad)
        if subset in RECORD_COUNT:
            self.read[path] = counts.get(RECORD_COUNT[subset], 0)
        for k, v in counts.items():
            self.subset_counts[k] = self.subset_counts.get(k, 0) + v


def row(doc: Document, subset: str) -> dict:
    r = {"id": doc.id, "text": doc.text, "source": subset, "pmid": doc.meta.get("pmid"),
         "pmcid": doc.meta.get("pmcid")}
    if subset == "seq_in_text":
        r["accessions"] = list(doc.meta.get("accessions", []))
    if subset == "bilingual":
        r["pair_id"] = doc.meta.get("pair_id")
        r["lang"] = doc.meta.get("lang")
    return r


def write_shard(out: Path, opts, index: int, rows: list[dict], counter) -> ShardStats:
    base = out / "pretrain" / opts.subset / f"train-{index:05d}"
    files = []
    if "jsonl.gz" in opts.formats:
        write_jsonl_gz(base.with_name(base.name + ".jsonl.gz"), rows)
        files.append(base.name + ".jsonl.gz")
    if "parquet" in opts.formats:
        write_parquet(base.with_name(base.name + ".parquet"), rows)
        files.append(base.name + ".parquet")
    counts = counter.count([r["text"] for r in rows])
    stats = ShardStats(index, documents=len(rows), tokens=sum(counts) if counts is not None else None, files=files)
    state = out / ".state" / f"shard-{index:05d}.json"
    state.write_text(json.dumps(asdict(stats)))  # last: the shard counts as done only now
    return stats


def write_build(opts, stream: Iterable[Document], step_dicts: Callable[[], list[dict]],
                done: dict[int, ShardStats], counter, log: BuildLog, started: float) -> dict:
    """Shards from `stream` (shards recorded in `done` are not rewritten), then the manifest.
    `step_dicts()` is called once `stream` is exhausted: the steps' final stats."""
    out = Path(opts.out)
    shards: list[ShardStats] = []
    built = 0
    buffer: list[dict] = []

    def flush() -> None:
        nonlocal built
        index = len(shards)
        if index in done:
            shards.append(done[index])
        else:
            shards.append(write_shard(out, opts, index, buffer, counter))
            built += 1
        buffer.clear()

    for doc in stream:
        buffer.append(row(doc, opts.subset))
        if len(buffer) >= opts.shard_docs:
            flush()
    if buffer:
        flush()
    if not opts.allow_empty:
        check_output(out, RECORDED, log.read, EXPECTED[opts.subset], log.skipped, built=len(shards),
                     why=lambda: nothing_built(opts.subset, opts.inputs, log.subset_counts, step_dicts()))

    manifest = {
        "builder": "literature",
        "subset": opts.subset,
        "version": __version__,
        "options": opts.fingerprint(),
        "inputs": [file_info(Path(p)) for p in [*opts.inputs, *opts.uniprot, *opts.pdb_pubmed, *opts.pmc_ids]],
        "documents": sum(s.documents for s in shards),
        "shards": len(shards),
        "tokens": {"tokenizer": counter.name,
                   "count": None if counter.name is None else sum(s.tokens or 0 for s in shards)},
        "counts": dict(sorted(log.subset_counts.items())),
        **log.extra,
        "steps": step_dicts(),
        "skipped": {"count": len(log.skipped), "records": log.skipped},
        "outputs": [output_info(p, out) for p in sorted((out / "pretrain" / opts.subset).glob("train-*"))],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    run = {"wall_time_s": round(time.perf_counter() - started, 3), "shards_built": built,
           "shards_resumed": len(shards) - built, "workers": opts.workers}
    (out / ".state" / "last_run.json").write_text(json.dumps(run) + "\n")
    return manifest
