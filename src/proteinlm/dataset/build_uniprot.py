"""`proteinlm build uniprot`: Swiss-Prot/UniProt (+ ENZYME) → pretraining documents, UniProt topic
SFT tasks and Enzyme Chain-of-Thought examples, as shards with a manifest.

Work is cut into chunks of `shard_entries` consecutive entries; chunk k writes shard k of every
output, so the files do not depend on the number of workers. A chunk's files are renamed into place
and its SFT rows appended to the exports (`sft_exports.py`) before the main process writes its
record in `.state/`, in chunk order: a killed build resumes at the first unrecorded chunk (earlier
chunks are re-parsed, not rebuilt, because ECoT sampling must see every entry).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from proteinlm import __version__
from proteinlm.dataset.sft_exports import SftExports, export_parts, shard_rows
from proteinlm.dataset.writers import file_info, json_lines, split_of, write_jsonl_gz, write_parquet
from proteinlm.errors import ProteinLMError, RecordError
from proteinlm.records import Instruction, ProteinEntry

SPLITS = ("train", "validation")


@dataclass
class UniprotBuildOptions:
    inputs: list[str]
    out: str
    enzyme: list[str] = field(default_factory=list)  # enzyme.dat file(s)
    sifts_enzyme: str | None = None
    workers: int = 1
    shard_entries: int = 5000
    val_fraction: float = 0.02
    seed: int = 0
    per_ec: int = 20
    tokenizer: str = "smollm2"
    seq_open: str = "<seq>"
    seq_close: str = "</seq>"
    seq_sep: str = " "
    formats: tuple[str, ...] = ("jsonl.gz", "parquet")
    tasks: tuple[str, ...] | None = None  # None: every UniProt topic task

    def fingerprint(self) -> dict:
        """What makes two builds comparable (workers do not change the output)."""
        d = asdict(self)
        d.pop("workers")
        d["formats"] = list(self.formats)
        return d


@dataclass
class ChunkStats:
    index: int
    entries: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # "pretrain/swissprot/train" -> rows
    tokens: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)  # "function/train" -> rows
    exports: dict[str, int] = field(default_factory=dict)  # "alpaca/train" -> file size after this chunk


# ------------------------------------------------------------------------------- chunk work
_worker: dict = {}


def _init_worker(opts: UniprotBuildOptions) -> None:
    from proteinlm.dataset.tokens import TokenCounter

    _worker["opts"] = opts
    _worker["tokens"] = TokenCounter(opts.tokenizer, (opts.seq_open, opts.seq_close), opts.seq_sep)


def _doc_row(doc) -> dict:
    return {"id": doc.id, "text": doc.text, "source": doc.subset, "accession": doc.meta.get("accession")}


def _sft_row(ins: Instruction) -> dict:
    return {
        "id": ins.id,
        "task": ins.task,
        "instruction": ins.instruction,
        "input": ins.input,
        "output": ins.output,
        "accession": ins.meta.get("accession"),
    }


def _write_subset(
    out: Path, subset: str, index: int, rows: list[dict], key: str, stats: ChunkStats
) -> dict[str, tuple[bytes, bytes, int]]:
    """Write one chunk of a subset, split by accession, in every requested format; for SFT rows,
    return their export parts per split."""
    opts: UniprotBuildOptions = _worker["opts"]
    by_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for row in rows:
        by_split[split_of(row["accession"] or row["id"], opts.val_fraction, opts.seed)].append(row)
    exports = {}
    for split, part in by_split.items():
        name = f"{subset}/{split}"
        stats.rows[name] = len(part)
        memo = _worker["memo"]  # counts of an entry's sequence text, shared by its document and tasks
        if key == "sft":  # counted as the SFT text "instruction\ninput\noutput"
            counts = _worker["tokens"].count_joined(
                [(r["instruction"], r["input"], r["output"]) for r in part], memo=memo
            )
            for r in part:
                stats.tasks[f"{r['task']}/{split}"] = stats.tasks.get(f"{r['task']}/{split}", 0) + 1
            encoded: list[dict] = []
            lines = json_lines(part, repeated=("input",), keep=encoded)
            exports[split] = (*export_parts(part, encoded), len(part))
        else:  # documents: paragraphs joined by blank lines
            counts = _worker["tokens"].count_joined([r[key].split("\n\n") for r in part], "\n\n", memo)
        stats.tokens[name] = sum(counts) if counts is not None else None
        if not part:
            continue
        base = out / subset / f"{split}-{index:05d}"
        if "jsonl.gz" in opts.formats:
            write_jsonl_gz(base.with_name(base.name + ".jsonl.gz"), lines if key == "sft" else part)
        if "parquet" in opts.formats:
            write_parquet(base.with_name(base.name + ".parquet"), part)
    return exports


def build_chunk(index: int, entries: list[ProteinEntry]) -> tuple[ChunkStats, dict]:
    from proteinlm.dataset.instruct.uniprot_tasks import entry_instructions
    from proteinlm.dataset.pretrain.swissprot import entry_document, section_texts
    from proteinlm.dataset.seqtext import seq_to_text

    opts: UniprotBuildOptions = _worker["opts"]
    out = Path(opts.out)
    tags = (opts.seq_open, opts.seq_close)
    stats = ChunkStats(index, entries=len(entries))
    _worker["memo"] = {}
    docs, sft = [], []
    for e in entries:
        # the cleaned topic texts and the sequence text are made once, for the document and the tasks
        sections = section_texts(e)
        seq = seq_to_text(e.sequence, open_tag=tags[0], close_tag=tags[1], sep=opts.seq_sep) if e.sequence else None
        docs.append(_doc_row(entry_document(e, seq_tags=tags, seq_sep=opts.seq_sep, sections=sections, seq_text=seq)))
        sft += [
            _sft_row(i)
            for i in entry_instructions(e, tasks=opts.tasks, seq_tags=tags, seq_sep=opts.seq_sep, sections=sections, seq_text=seq)
        ]
    _write_subset(out, "pretrain/swissprot", index, docs, "text", stats)
    return stats, _write_subset(out, "sft/uniprot", index, sft, "sft", stats)


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
def _check_state(out: Path, opts: UniprotBuildOptions) -> dict[int, ChunkStats]:
    state = out / ".state"
    state.mkdir(parents=True, exist_ok=True)
    fp = state / "options.json"
    want = json.dumps(opts.fingerprint(), sort_keys=True)
    if fp.exists() and fp.read_text() != want:
        raise ProteinLMError(
            f"{out} holds a build made with other options ({fp}); use a new --out directory or delete it"
        )
    fp.write_text(want)
    done = {}
    for f in sorted(state.glob("chunk-*.json")):
        d = json.loads(f.read_text())
        done[d["index"]] = ChunkStats(**d)
    return done


def _entries(opts: UniprotBuildOptions, skipped: list[str]) -> Iterator[ProteinEntry]:
    from proteinlm.sources import uniprot

    def on_error(err: RecordError) -> None:
        skipped.append(str(err))

    seen: set[str] = set()  # the same protein from two inputs (e.g. a .dat and an .xml) is kept once
    for path in opts.inputs:
        for entry in uniprot.parse(path, on_error=on_error):
            if entry.accession in seen:
                skipped.append(f"{entry.source}: duplicate accession {entry.accession} (kept the first)")
                continue
            seen.add(entry.accession)
            yield entry


def build_uniprot(opts: UniprotBuildOptions, progress: Callable[[int], None] | None = None) -> dict:
    from proteinlm.dataset.instruct import ecot
    from proteinlm.sources import enzyme as enzyme_source

    started = time.perf_counter()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    done = _check_state(out, opts)
    skipped: list[str] = []
    enzymes, dr_map, transfers = {}, {}, {}
    if opts.enzyme:  # enzyme.dat is ~8k entries: held in memory
        entries = [
            e for path in opts.enzyme for e in enzyme_source.parse(path, on_error=lambda e: skipped.append(str(e)))
        ]
        enzymes, dr_map = ecot.ec_index(entries)
        transfers = ecot.transfer_index(entries)
    sifts = ecot.load_sifts_enzyme(opts.sifts_enzyme) if opts.sifts_enzyme else None

    exports = _start_exports(out, done)
    pool = mp.get_context("spawn").Pool(opts.workers, _init_worker, (opts,)) if opts.workers > 1 else None
    _init_worker(opts)  # the main process writes the ECoT shards itself
    pending, results = [], []
    buffer: list[ProteinEntry] = []
    chunk_index = 0

    def flush() -> None:
        nonlocal buffer, chunk_index
        if buffer and chunk_index not in done:
            if pool is None:
                results.append(_record(out, exports, *build_chunk(chunk_index, buffer)))
            else:
                if len(pending) >= 2 * opts.workers:  # back-pressure: parsing outruns building
                    results.append(_record(out, exports, *pending.pop(0).get()))
                pending.append(pool.apply_async(build_chunk, (chunk_index, buffer)))
        if progress and buffer:
            progress(len(buffer))
        buffer, chunk_index = [], chunk_index + 1

    def stream() -> Iterator[ProteinEntry]:
        # ECoT sampling needs every entry; chunking rides along as the entries pass.
        for entry in _entries(opts, skipped):
            buffer.append(entry)
            if len(buffer) >= opts.shard_entries:
                flush()
            yield entry
        flush()

    try:
        examples = list(
            ecot.ecot_examples(stream(), enzymes, dr_map, sifts, transfers=transfers, per_ec=opts.per_ec, seed=opts.seed)
        )
        if pool is not None:
            results.extend(_record(out, exports, *p.get()) for p in pending)
            pool.close()
    finally:
        if pool is not None:
            pool.terminate()
    ecot_stats = ChunkStats(index=0)
    _worker["memo"] = {}
    ecot_rows = [_sft_row(e) | {"ec": e.meta.get("ec")} for e in examples]
    exports.append(_write_subset(out, "sft/ecot", 0, ecot_rows, "sft", ecot_stats))
    export_counts = exports.finish(lambda split: shard_rows(out, split))

    chunks = sorted(list(done.values()) + results, key=lambda s: s.index)
    manifest = _manifest(opts, out, chunks, ecot_stats, skipped, export_counts)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    wall = time.perf_counter() - started
    run = {"wall_time_s": round(wall, 3), "chunks_built": len(results), "chunks_resumed": len(done), "workers": opts.workers}
    (out / ".state" / "last_run.json").write_text(json.dumps(run) + "\n")
    return manifest


def _sum(dicts) -> dict:
    total: Counter = Counter()
    for d in dicts:
        for k, v in d.items():
            if v is not None:
                total[k] += v
    return dict(sorted(total.items()))


def _manifest(opts, out: Path, chunks, ecot_stats, skipped, exports) -> dict:
    """Everything that describes the output and nothing that varies between identical builds
    (timings go to .state/last_run.json)."""
    all_stats = list(chunks) + [ecot_stats]
    outputs = sorted(
        p for p in out.rglob("*") if p.is_file() and ".state" not in p.parts and p.name != "manifest.json"
    )
    return {
        "builder": "uniprot",
        "version": __version__,
        "options": opts.fingerprint(),
        "inputs": [file_info(Path(p)) for p in opts.inputs]
        + [file_info(Path(p)) for p in [*opts.enzyme, opts.sifts_enzyme] if p],
        "entries": sum(c.entries for c in chunks),
        "rows": _sum(s.rows for s in all_stats),
        "tasks": _sum(s.tasks for s in all_stats),
        "tokens": {"tokenizer": _tokenizer_name(opts), "counts": _sum(s.tokens for s in all_stats)},
        "exports": exports,
        "skipped": {"count": len(skipped), "records": skipped},
        "outputs": [file_info(p, out) for p in outputs],
    }


def _tokenizer_name(opts: UniprotBuildOptions) -> str | None:
    return None if opts.tokenizer == "none" else ("SmolLM2-135M-Instruct" if opts.tokenizer == "smollm2" else opts.tokenizer)
