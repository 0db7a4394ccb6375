"""`proteinlm build uniprot`: Swiss-Prot/UniProt (+ ENZYME) → pretraining documents, UniProt topic
SFT tasks and Enzyme Chain-of-Thought examples, as shards with a manifest.

Work is cut into chunks of `shard_entries` consecutive entries; chunk k writes shard k of every
output, so the files do not depend on the number of workers. The main process cuts flat files into
entry pieces and the chunk's worker parses them (`chunks.py`); XML and TSV entries are
parsed in the main process. A protein whose accession an earlier entry's AC line already named
(the same entries given as .dat and .xml) is skipped before parsing. A chunk's files are renamed
into place and its SFT rows appended to the exports (`steps/sft_exports.py`) before the main process
writes its record in `.state/`, in chunk order: a killed build resumes at the first unrecorded
chunk (earlier chunks are parsed again, not rebuilt, because ECoT sampling must see every entry).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator

from proteinlm import __version__
from proteinlm.dataset.engine.build_state import EXPECTED, check_output, claim, quote_skips, skips_of
from proteinlm.dataset.steps.seen_ids import SeenIds
from proteinlm.dataset.steps.sft_exports import SftExports, shard_rows
from proteinlm.dataset.steps.writers import file_info, is_temporary, output_info, remove_temporaries
from proteinlm.dataset.uniprot.candidate_store import DiskStore
from proteinlm.dataset.uniprot.chunks import (
    SPLITS,
    ChunkResult,
    ChunkStats,
    Item,
    init_worker,
    run_chunk,
    set_direct_exports,
    sft_row,
    write_subset,
)
from proteinlm.dataset.uniprot.enzyme_context import enzyme_context
from proteinlm.dataset.uniprot.options import UniprotBuildOptions
from proteinlm.errors import RecordError, SourceError
from proteinlm.sources.text import HashingReader


def _record(out: Path, exports: SftExports, stats: ChunkStats, parts: dict) -> ChunkStats:
    """In the main process, in chunk order: append the chunk's export parts, then write its state
    (last: the chunk counts as done only now)."""
    stats.exports = exports.append(parts)
    state = out / ".state" / f"chunk-{stats.index:05d}.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(asdict(stats)))
    return stats


def _start_exports(out: Path, done: dict[int, ChunkStats]) -> SftExports:
    """Exports that go on after the done chunks (a resume), or start empty."""
    exports = SftExports(out, SPLITS)
    if not done:
        exports.start(None, {})
    elif sorted(done) != list(range(len(done))) or not done[len(done) - 1].exports:
        exports.rebuild = True  # not a prefix of the input, or an older state: rebuild at the end
    else:
        rows = _sum(c.rows for c in done.values())
        exports.start(done[len(done) - 1].exports, {s: rows.get(f"sft/uniprot/{s}", 0) for s in SPLITS})
    return exports


# ------------------------------------------------------------------------------- the build
_RECORDED = ("chunk-*.json", "stage/uniprot/plan.pkl.gz")  # a build's recorded work under .state/ (local, datatrove)


def check_state(out: Path, opts: UniprotBuildOptions) -> dict[int, ChunkStats]:
    for path in [*opts.inputs, *opts.enzyme, *([opts.sifts_enzyme] if opts.sifts_enzyme else [])]:
        if not Path(path).is_file():
            raise SourceError(f"{path}: no such input file")
    claim(out, opts.fingerprint(), _RECORDED)  # only now that the arguments are valid
    done = {}
    for f in sorted((out / ".state").glob("chunk-*.json")):
        d = json.loads(f.read_text())
        done[d["index"]] = ChunkStats(**d)
    return done


def entry_items(opts: UniprotBuildOptions, skipped: list[str], hashed: dict[str, HashingReader],
           read: Counter) -> Iterator[Item]:
    """The build's items in input order: flat-file pieces (parsed by the chunk's worker) and XML/TSV
    entries (parsed here). The same protein from two inputs (e.g. a .dat and an .xml) is kept once:
    an item whose accession an earlier one had is skipped and reported to `skipped`. A flat file is
    hashed as it is read (its `HashingReader` goes to `hashed`): no second pass for the manifest.
    `read` counts each file's entries (flat-file entries before parsing)."""
    from proteinlm.sources import uniprot

    def on_error(err: RecordError) -> None:
        skipped.append(str(err))

    seen = SeenIds()
    for path in opts.inputs:
        if uniprot.guess_format(path) == "flat":
            name = str(path)
            hashed[name] = hashing = HashingReader(hashlib.sha256())
            for text, line in uniprot.flat_pieces(path, hashing):
                acc = uniprot.piece_accession(text)
                read[path] += 1
                if acc is not None and not seen.add(acc):
                    skipped.append(f"{name}:{line}: duplicate accession {acc} (kept the first)")
                    continue
                yield name, text, line
            continue
        for entry in uniprot.parse(path, on_error=on_error):
            read[path] += 1
            if not seen.add(entry.accession):
                skipped.append(f"{entry.source}: duplicate accession {entry.accession} (kept the first)")
                continue
            yield entry


def build_uniprot(opts: UniprotBuildOptions, progress: Callable[[int], None] | None = None) -> dict:
    started = time.perf_counter()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    done = check_state(out, opts)
    remove_temporaries(out)  # a killed run's half-written files (finished ones were renamed into place)
    skipped: list[str] = []
    enzymes = enzyme_context(opts, skipped)
    exports = _start_exports(out, done)
    mapped = enzymes.mapped
    # the main process writes the ECoT shards itself; readied first, so that a first build converts
    # the default tokenizer once (in a child process) before the workers load it
    init_worker(opts, mapped)
    set_direct_exports(exports)  # chunks built here (one process; ECoT) write the exports directly
    pool = mp.get_context("spawn").Pool(opts.workers, init_worker, (opts, mapped)) if opts.workers > 1 else None
    pending: list[tuple] = []
    results: list[ChunkStats] = []
    hashed: dict[str, HashingReader] = {}  # flat-file inputs, hashed as they are read
    read: Counter = Counter({path: 0 for path in opts.inputs})

    def handle(result: ChunkResult, messages: list[str]) -> list:
        """In chunk order: the chunk's skipped records, its state and exports; its ECoT candidates."""
        skipped.extend(messages)
        skipped.extend(result.skipped)
        if result.stats is not None:
            results.append(_record(out, exports, result.stats, result.exports))
        return result.candidates

    def submit(index: int, items: list[Item], messages: list[str]) -> Iterator:
        build = index not in done  # a done chunk is parsed again for its ECoT candidates only
        n = len(items)  # run_chunk empties the list once its pieces are parsed
        if pool is None:
            yield from handle(run_chunk(index, items, build), messages)
        else:
            while len(pending) >= 2 * opts.workers:  # back-pressure: cutting outruns the workers
                job, msgs = pending.pop(0)
                yield from handle(job.get(), msgs)
            pending.append((pool.apply_async(run_chunk, (index, items, build)), messages))
        if progress:
            progress(n)

    def candidates() -> Iterator:
        # ECoT sampling needs every entry; the workers send back those that can give an example.
        buffer: list[Item] = []
        messages: list[str] = []  # what cutting and XML/TSV parsing reported for this chunk
        index = 0
        for item in entry_items(opts, messages, hashed, read):
            buffer.append(item)
            if len(buffer) >= opts.shard_entries:
                yield from submit(index, buffer, messages[:])
                buffer, index = [], index + 1
                messages.clear()  # the same list: _items reports into it
        if buffer:
            yield from submit(index, buffer, messages[:])
            messages.clear()
        while pending:
            job, msgs = pending.pop(0)
            yield from handle(job.get(), msgs)
        skipped.extend(messages)

    store = DiskStore(out / ".state" / "ecot-candidates.pickle")
    try:
        ecot_stats = write_ecot(out, opts, enzymes.examples(opts, candidates(), store), exports.append)
        if pool is not None:
            pool.close()
    finally:
        store.close()
        set_direct_exports(None)
        if pool is not None:
            pool.terminate()
    export_counts = exports.finish(lambda split: shard_rows(out, split))

    chunks = sorted(list(done.values()) + results, key=lambda s: s.index)
    if not opts.allow_empty:  # an input without entries, or no entry read at all, stops the build
        check_entries(out, dict(read), skipped, chunks)
    manifest = manifest_of(opts, out, chunks, ecot_stats, skipped, export_counts, [input_info(p, hashed) for p in opts.inputs])
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    wall = time.perf_counter() - started
    run = {"wall_time_s": round(wall, 3), "chunks_built": len(results), "chunks_resumed": len(done), "workers": opts.workers}
    (out / ".state" / "last_run.json").write_text(json.dumps(run) + "\n")
    return manifest


def check_entries(out: Path, read: dict[str, int], skipped: list[str], chunks: list[ChunkStats]) -> None:
    """Stop a build where an input gave no entry (`read`: input -> entries), or that built none;
    the skipped records of each such input are quoted."""
    check_output(out, _RECORDED, read, EXPECTED["uniprot"], skipped, built=sum(c.entries for c in chunks),
                 why=lambda: "\n".join(f"{p}: no {EXPECTED['uniprot']} read.{quote_skips(skips_of(p, skipped))}" for p in read))


def write_ecot(out: Path, opts: UniprotBuildOptions, examples: Iterator, add_parts: Callable[[dict], object]) -> list[ChunkStats]:
    """ECoT examples in shards of `shard_entries` rows, as they come (up to #ECs x per_ec of them:
    ~120k for Swiss-Prot, too many to hold at once), each shard's export parts handed to
    `add_parts` (the exports' `append`, or a list kept for the merge stage)."""
    stats: list[ChunkStats] = []
    batch: list[dict] = []

    def flush() -> None:
        stats.append(ChunkStats(index=len(stats)))
        add_parts(write_subset(out, "sft/ecot", len(stats) - 1, batch, "sft", stats[-1]))
        batch.clear()

    for e in examples:
        batch.append(sft_row(e) | {"ec": e.meta.get("ec")})
        if len(batch) >= opts.shard_entries:
            flush()
    if batch or not stats:
        flush()
    return stats


def _sum(dicts) -> dict:
    total: Counter = Counter()
    for d in dicts:
        for k, v in d.items():
            if v is not None:
                total[k] += v
    return dict(sorted(total.items()))


def input_info(path: str, hashed: dict[str, HashingReader]) -> dict:
    """`file_info` of an input: from its reads if the build hashed it whole while parsing it."""
    reader = hashed.get(str(path))
    if reader is None or not reader.done:
        return file_info(Path(path))
    return {"path": str(path), "bytes": reader.bytes, "sha256": reader.digest.hexdigest()}


def manifest_of(opts, out: Path, chunks, ecot_stats, skipped, exports, inputs: list[dict]) -> dict:
    """Everything that describes the output and nothing that varies between identical builds
    (timings go to .state/last_run.json). `inputs`: the `file_info` of each of `opts.inputs`."""
    all_stats = list(chunks) + list(ecot_stats)
    outputs = sorted(
        p for p in out.rglob("*")
        if p.is_file() and ".state" not in p.parts and p.name != "manifest.json" and not is_temporary(p)
    )
    return {
        "builder": "uniprot",
        "version": __version__,
        "options": opts.fingerprint(),
        "inputs": inputs + [file_info(Path(p)) for p in [*opts.enzyme, opts.sifts_enzyme] if p],
        "entries": sum(c.entries for c in chunks),
        "rows": _sum(s.rows for s in all_stats),
        "tasks": _sum(s.tasks for s in all_stats),
        "tokens": {"tokenizer": _tokenizer_name(opts), "counts": _sum(s.tokens for s in all_stats)},
        "exports": exports,
        "skipped": {"count": len(skipped), "records": skipped},
        "outputs": [output_info(p, out) for p in outputs],
    }


def _tokenizer_name(opts: UniprotBuildOptions) -> str | None:
    return None if opts.tokenizer == "none" else ("SmolLM2-135M-Instruct" if opts.tokenizer == "smollm2" else opts.tokenizer)
