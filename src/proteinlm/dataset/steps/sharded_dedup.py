"""Exact and near dedup in shards, for builds that run past one machine (datatrove executors).

The one-process steps in `process.py` keep a set of every kept text and a MinHash LSH index of
every kept document in one process. Here no stage holds every document:

- exact: each document's whitespace-folded text hash (`process.exact_key`, the one-process
  step's key) goes to partition `hash mod P`; partition task p keeps, per hash, the document that comes first in
  input order and lists the others (memory: the hashes of one partition).
- near: datatrove's own MinHash stages, signatures (per task) → buckets (one task per band) →
  clusters (one task over the duplicate pairs only) → filter (per task). `ShingleSignature`
  shingles a text exactly as `process.shingles` (lower-cased `\\w+` words, 5-grams), and
  `minhash_config` takes the bands × rows that datasketch picks for the one-process threshold.
  `FirstKeptCluster` confirms each band match by the estimated Jaccard similarity and keeps the
  first document of each cluster in input order, as the one-process step does.

Task ranks stand for contiguous runs of the input, so (rank, index in rank) sorts as input order.
Stage results are gzip'd pickle streams, written then renamed, so a killed task leaves no
half-written file that looks done.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

try:
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupCluster, MinhashDedupSignature
    from datatrove.utils.binaryio import read_tuples_from_file
except ImportError:  # datatrove is optional (the `scale` extra); engine/executors.py says so before use
    MinhashDedupSignature = MinhashDedupCluster = object  # type: ignore[assignment,misc]

from proteinlm.dataset.steps.process import shingles

SHINGLE = 5  # words per shingle, as `process.near_dedup`
NUM_PERM = 128  # datasketch permutations of `process.near_dedup`


# ------------------------------------------------------------------------------- stream files
def write_stream(path: Path, items: Iterable) -> int:
    """Pickle `items` one after the other into gzip'd `path` (atomically); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    n = 0
    with gzip.open(tmp, "wb", compresslevel=1) as fh:
        for item in items:
            pickle.dump(item, fh, protocol=pickle.HIGHEST_PROTOCOL)
            n += 1
    os.replace(tmp, path)
    return n


def read_stream(path: Path) -> Iterator:
    with gzip.open(path, "rb") as fh:
        while True:
            try:
                yield pickle.load(fh)
            except EOFError:
                return


def block(n_items: int, rank: int, world_size: int) -> range:
    """The contiguous run of item indices of task `rank`: ranks in order cover the items in order."""
    return range(rank * n_items // world_size, (rank + 1) * n_items // world_size)


# ------------------------------------------------------------------------------- exact dedup
def partition_of(key: bytes, partitions: int) -> int:
    return int.from_bytes(key[:8], "little") % partitions


def exact_partition(streams: Iterable[tuple[int, Iterable[tuple[bytes, int, str]]]]) -> dict[int, list]:
    """One partition's (key, index, id) entries from every rank, ranks in order and indices
    ascending within each: {rank: [(index, id, id of the first document with that key), ...]}
    for every document that is not the first of its text."""
    first: dict[bytes, str] = {}
    removed: dict[int, list] = {}
    for rank, entries in streams:
        for key, index, doc_id in entries:
            if key in first:
                removed.setdefault(rank, []).append((index, doc_id, first[key]))
            else:
                first[key] = doc_id
    return removed


# ------------------------------------------------------------------------------- near dedup
def minhash_config(threshold: float, num_perm: int = NUM_PERM, seed: int = 1) -> "MinhashConfig":
    """datatrove's MinHash settings nearest to `process.near_dedup`: datasketch's own choice of
    bands × rows for `threshold` and `num_perm` (0.8, 128 → 9 bands × 13 rows), 5-word shingles."""
    from datasketch.lsh import _optimal_param

    bands, rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return MinhashConfig(n_grams=SHINGLE, num_buckets=bands, hashes_per_bucket=rows, seed=seed)


class ShingleSignature(MinhashDedupSignature):
    """datatrove's signature stage over `process.shingles` (the one-process step's shingles). Also
    writes each document's whole signature, in document order, to `full/NNNNN.sig` (8 bytes per
    hash), for the cluster stage to confirm a band match by the estimated Jaccard similarity."""

    name = "🎯 MinHash signatures (proteinlm shingles)"

    def get_shingles(self, text: str):
        import numpy as np

        grams = shingles(text, self.config.n_grams)  # never empty: a text of < n words is one shingle
        return np.fromiter((self._hash_func(g) for g in sorted(grams)),
                           dtype=np.uint64, count=len(grams)).reshape((-1, 1))

    def get_signature(self, shingle_hashes):
        sig = super().get_signature(shingle_hashes)
        self._full.write(struct.pack(f"<{self.num_hashes}Q", *(h for band in sig for h in band)))
        return sig

    def run(self, data, rank: int = 0, world_size: int = 1):
        with self.output_folder.open(f"full/{rank:05d}.sig", mode="wb") as self._full:
            super().run(data, rank, world_size)


class FirstKeptCluster(MinhashDedupCluster):
    """datatrove's cluster stage with two changes that make it keep what `process.near_dedup`
    keeps: a band match counts only if the estimated Jaccard similarity of the two whole
    signatures is >= `threshold` (the one-process step confirms its LSH candidates the same way),
    and each cluster keeps its first document in input order (the smallest (rank, index));
    datatrove's own keeps the root of a union by size. Writes, per rank, `NNNNNN.remove` (indices,
    for datatrove's filter) and `NNNNNN.kept_by` (index, rank and index of the document kept in
    its place). Memory: the documents that have a duplicate pair."""

    name = "🎯 MinHash clusters (confirmed, first kept)"

    def __init__(self, input_folder, output_folder, signatures_folder, threshold: float, config=None):
        super().__init__(input_folder, output_folder, config=config)
        from datatrove.io import get_datafolder

        self.signatures_folder = get_datafolder(signatures_folder)
        self.threshold = threshold

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        assert world_size == 1, "clustering runs as one task"
        parent: dict[tuple[int, int], tuple[int, int]] = {}
        checked: set[tuple[int, int, int, int]] = set()  # a pair matches in several bands: read it once
        hashes = self.config.num_buckets * self.config.hashes_per_bucket
        files: dict[int, object] = {}

        def signature(rank: int, index: int) -> tuple[int, ...]:
            if rank not in files:
                files[rank] = self.signatures_folder.open(f"full/{rank:05d}.sig", "rb")
            files[rank].seek(index * hashes * 8)
            return struct.unpack(f"<{hashes}Q", files[rank].read(hashes * 8))

        def root(x):
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]  # path halving
                x = parent[x]
            return x

        with self.track_time():
            for dup_file in self.input_folder.list_files(glob_pattern="*.dups"):
                with self.input_folder.open(dup_file, "rb") as fh:
                    for pair in read_tuples_from_file(fh, "4I", lines_to_buffer=self.lines_to_buffer):
                        if pair in checked:
                            continue
                        checked.add(pair)
                        a, b = signature(*pair[:2]), signature(*pair[2:])
                        if sum(x == y for x, y in zip(a, b)) < self.threshold * hashes:
                            self.stat_update("band_match_below_threshold")
                            continue
                        ra, rb = root(pair[:2]), root(pair[2:])
                        if ra != rb:
                            parent[max(ra, rb)] = min(ra, rb)  # the earlier document is the root
            for fh in files.values():
                fh.close()
            with self.output_folder.get_output_file_manager(mode="wb") as out:
                for node in sorted(parent):
                    top = root(node)
                    self.stat_update("in_clusters")
                    if node != top:
                        out.write(f"{node[0]:06d}.remove", struct.pack("<I", node[1]))
                        out.write(f"{node[0]:06d}.kept_by", struct.pack("<3I", node[1], *top))
                        self.stat_update("to_remove")


def kept_by(folder, rank: int) -> Iterator[tuple[int, int, int]]:
    """(index, kept rank, kept index) of each near duplicate of `rank`, indices ascending."""
    name = f"{rank:06d}.kept_by"
    if not folder.isfile(name):
        return
    with folder.open(name, "rb") as fh:
        yield from read_tuples_from_file(fh, "3I", lines_to_buffer=64)
