"""The literature builds' cleaning and dedup as sharded datatrove stages (after the docs stage):

    clean (N) → exact (N partitions) → signatures (N) → buckets (one per band) → clusters (1)
          → filter (N) → merge (1: shards and manifest, streaming)

Task r of N takes the contiguous run `steps/sharded_dedup.block(files, r, N)` of input files, so
ranks in order are input order and the first document of a duplicate group is the one the local
build keeps. No stage holds every document: clean/filter hold one file's documents, exact one
partition's hashes, buckets stream sorted signatures, clusters hold the duplicate pairs only, and
the merge holds one shard. Work lives in OUT/.state/dedup-<N>tasks/ (rank-keyed, hence per task
count); the stored per-file documents (OUT/.state/stage/docs) are shared by every task count.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from proteinlm.dataset.engine.stage_results import load
from proteinlm.dataset.engine.step_base import PipelineStep
from proteinlm.dataset.literature import pipeline as lit
from proteinlm.dataset.literature.output import BuildLog, write_build
from proteinlm.dataset.literature.stage_files import _stage_dir, _stage_file
from proteinlm.dataset.steps import process
from proteinlm.dataset.steps import sharded_dedup as sd
from proteinlm.dataset.steps.process import MAX_EXAMPLES, StepStats

try:
    from datatrove.data import Document as DTDocument
except ImportError:  # optional (the `scale` extra): engine/executors.py says so before any use
    DTDocument = None


def work_dir(opts: lit.LiteratureOptions, tasks: int) -> Path:
    return Path(opts.out) / ".state" / f"dedup-{tasks}tasks"


def _combine(name: str, parts: list[StepStats]) -> StepStats:
    """Per-rank stats of one step, ranks in order → the stats the one-process step would have."""
    total = StepStats(name, reasons=Counter())
    for p in parts:
        total.docs_in += p.docs_in
        total.docs_out += p.docs_out
        total.modified += p.modified
        total.reasons.update(p.reasons)
        total.examples.extend(p.examples[: MAX_EXAMPLES - len(total.examples)])
    return total


class _Stage(PipelineStep):
    type = "🧬 proteinlm"

    def __init__(self, opts: lit.LiteratureOptions, tasks: int):
        super().__init__()
        self.opts, self.tasks, self.dir = opts, tasks, work_dir(opts, tasks)

    def files(self, rank: int) -> range:
        return sd.block(len(self.opts.inputs), rank, self.tasks)


class CleanStage(_Stage):
    """normalize and length_filter over the stored documents of my files; each kept document's
    exact-dedup hash goes to its partition file."""

    name = "literature clean"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        stats = [StepStats("normalize"), StepStats("length_filter")]
        files: list[tuple[str, list[str], dict]] = []
        keys: list[list] = [[] for _ in range(self.tasks)]

        def kept():
            index = 0
            for i in self.files(rank):
                docs, bad, counts = load(_stage_file(self.opts, "docs", i))
                files.append((self.opts.inputs[i], bad, counts))
                docs = process.normalize(docs, stats=stats[0])
                for doc in process.length_filter(docs, min_chars=self.opts.min_chars, stats=stats[1]):
                    key = process.exact_key(doc.text)
                    keys[sd.partition_of(key, self.tasks)].append((key, index, doc.id))
                    index += 1
                    yield doc

        sd.write_stream(self.dir / "clean" / f"{rank:05d}.pkl.gz", kept())
        for p, entries in enumerate(keys):  # one rank's hashes: 16 bytes + id per kept document
            sd.write_stream(self.dir / "exact_keys" / f"{p:03d}" / f"{rank:05d}.pkl.gz", entries)
        sd.write_stream(self.dir / "clean" / f"{rank:05d}.info.pkl.gz", [stats, files])
        self.stat_update("documents_kept", value=stats[1].docs_out)


class ExactStage(_Stage):
    """Partition `rank` of the exact-dedup hashes: the documents that repeat an earlier text."""

    name = "literature exact dedup"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        part = self.dir / "exact_keys" / f"{rank:03d}"
        removed = sd.exact_partition((r, sd.read_stream(part / f"{r:05d}.pkl.gz")) for r in range(self.tasks))
        for r, entries in removed.items():
            sd.write_stream(self.dir / "exact_removed" / f"{r:05d}" / f"{rank:03d}.pkl.gz", entries)
            self.stat_update("exact_duplicates", value=len(entries))


def exact_removed(folder: Path, rank: int) -> Iterator[tuple[int, str, str]]:
    """(index, id, kept id) of rank's exact duplicates, by index (each partition's are sorted)."""
    return heapq.merge(*(sd.read_stream(f) for f in sorted((folder / f"{rank:05d}").glob("*.pkl.gz"))))


def exact_kept(work: Path, rank: int):
    """Rank's cleaned documents less its exact duplicates, in order."""
    removed = (e[0] for e in exact_removed(work / "exact_removed", rank))
    skip = next(removed, None)
    for index, doc in enumerate(sd.read_stream(work / "clean" / f"{rank:05d}.pkl.gz")):
        if index == skip:
            skip = next(removed, None)
        else:
            yield doc


class ExactKeptReader(_Stage):
    """Feeds datatrove's MinHash steps: rank's exact-deduplicated documents as datatrove Documents
    (the record rides in the metadata, so that the filter hands it back unchanged)."""

    name = "literature exact-kept documents"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        for index, doc in enumerate(exact_kept(self.dir, rank)):
            yield DTDocument(text=doc.text, id=str(index), metadata={"record": doc})


class KeptWriter(_Stage):
    """After datatrove's filter: rank's kept records, and near-dedup stats with examples."""

    name = "literature kept documents"

    def __init__(self, opts: lit.LiteratureOptions, tasks: int, near: bool):
        super().__init__(opts, tasks)
        self.near = near

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        stats = StepStats("near_dedup")
        removals: list = []
        if self.near:
            from datatrove.io import get_datafolder

            removals = list(sd.kept_by(get_datafolder(str(self.dir / "minhash" / "clusters")), rank))
        n = sd.write_stream(self.dir / "kept" / f"{rank:05d}.pkl.gz", (d.metadata["record"] for d in data))
        stats.docs_in, stats.docs_out = n + len(removals), n
        if removals:
            stats.reasons["near_duplicate"] = len(removals)
        wanted = removals[:MAX_EXAMPLES]
        ids = _ids_at(self.dir, {(rank, w[0]) for w in wanted} | {(w[1], w[2]) for w in wanted})
        for index, kr, ki in wanted:
            stats.examples.append({"id": ids[rank, index], "duplicate_of": ids[kr, ki]})
        sd.write_stream(self.dir / "kept" / f"{rank:05d}.info.pkl.gz", [stats])


def _ids_at(work: Path, positions: set[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """Document ids at (rank, index in rank's exact-kept stream): reads only the ranks needed,
    up to the last index needed (a handful of manifest examples)."""
    ids: dict[tuple[int, int], str] = {}
    for rank in sorted({r for r, _ in positions}):
        last = max(i for r, i in positions if r == rank)
        for index, doc in enumerate(exact_kept(work, rank)):
            if (rank, index) in positions:
                ids[rank, index] = doc.id
            if index >= last:
                break
    return ids


class MergeDedupStage(_Stage):
    """The one task left: kept documents of every rank in order → shards and manifest (the local
    build's `write_build`), the per-rank stats combined. Holds one shard's rows at a time."""

    name = "literature merge"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        merge_dedup(self.opts, self.tasks)


def merge_dedup(opts: lit.LiteratureOptions, tasks: int) -> dict:
    from proteinlm.dataset.steps.tokens import TokenCounter

    started = time.perf_counter()
    work = work_dir(opts, tasks)
    done = lit._check_state(Path(opts.out), opts)
    counter = TokenCounter(opts.tokenizer, (opts.seq_open, opts.seq_close), opts.seq_sep)
    skipped, extra = load(_stage_dir(opts) / "prepared.pkl.gz")
    log = BuildLog(list(skipped), dict(extra))
    per_rank: list[list[StepStats]] = []
    for r in range(tasks):
        (norm, length), files = list(sd.read_stream(work / "clean" / f"{r:05d}.info.pkl.gz"))[:2]
        for path, bad, counts in files:
            log.add_file(opts.subset, path, bad, counts)
        exact = StepStats("exact_dedup", docs_in=length.docs_out, docs_out=length.docs_out)
        for _, doc_id, kept in exact_removed(work / "exact_removed", r):  # streamed: count, first examples
            exact.docs_out -= 1
            exact.drop("exact_duplicate", {"id": doc_id, "duplicate_of": kept})
        near = next(sd.read_stream(work / "kept" / f"{r:05d}.info.pkl.gz"))
        per_rank.append([norm, length, exact, near])
    names = ["normalize", "length_filter", "exact_dedup"] + (["near_dedup"] if opts.near_dedup else [])
    steps = [_combine(name, [s[k] for s in per_rank]).as_dict() for k, name in enumerate(names)]
    stream = (doc for r in range(tasks) for doc in sd.read_stream(work / "kept" / f"{r:05d}.pkl.gz"))
    return write_build(opts, stream, lambda: steps, done, counter, log, started)


def dedup_stages(opts: lit.LiteratureOptions, tasks: int) -> list[tuple[str, list, int]]:
    """(stage name, pipeline, task count) from clean to merge; the parallel stages have `tasks`."""
    from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupFilter

    work = work_dir(opts, tasks)
    chain: list[tuple[str, list, int]] = [("clean", [CleanStage(opts, tasks)], tasks),
                                          ("exact", [ExactStage(opts, tasks)], tasks)]
    if opts.near_dedup:
        cfg = sd.minhash_config(opts.near_threshold)
        sigs, dups, clusters = (str(work / "minhash" / d) for d in ("signatures", "buckets", "clusters"))
        chain += [("signatures", [ExactKeptReader(opts, tasks), sd.ShingleSignature(sigs, config=cfg)], tasks),
                  # one task per band: each streams its band's sorted signatures of every task (a heap of N
                  # readers); datatrove's split of a band by hash range needs >= k signatures in task 0's file
                  ("buckets", [MinhashDedupBuckets(sigs, dups, config=cfg)], cfg.num_buckets),
                  ("clusters", [sd.FirstKeptCluster(dups, clusters, sigs, opts.near_threshold, config=cfg)], 1),
                  ("filter", [ExactKeptReader(opts, tasks), MinhashDedupFilter(clusters),
                              KeptWriter(opts, tasks, near=True)], tasks)]
    else:
        chain.append(("filter", [ExactKeptReader(opts, tasks), KeptWriter(opts, tasks, near=False)], tasks))
    chain.append(("merge", [MergeDedupStage(opts, tasks)], 1))
    return chain

