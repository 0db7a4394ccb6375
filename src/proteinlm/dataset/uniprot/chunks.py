"""The work of one chunk of `build uniprot`, in a worker process or in the main one: parse the
chunk's flat-file pieces (entries from XML/TSV arrive parsed), build and write its documents and
SFT rows, and hand back what the main process needs in order: the chunk's stats, its SFT export
parts, its ECoT candidates and its skipped-record messages.

Parsing here rather than in the main process is what lets `--workers` scale: the main process only
cuts the input into pieces (str.find) and collects results.
"""

from __future__ import annotations

import gc
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, Union

from proteinlm.dataset.steps.sft_exports import DirectPart, ExportParts, encoded_rows
from proteinlm.dataset.steps.writers import GzipShard, split_of, write_parquet
from proteinlm.errors import RecordError
from proteinlm.records import Instruction, ProteinEntry

if TYPE_CHECKING:
    from proteinlm.dataset.uniprot.options import UniprotBuildOptions

SPLITS = ("train", "validation")
# One item of a chunk: a flat-file piece (file name, text, first line) or an entry parsed already.
Item = Union[tuple[str, str, int], ProteinEntry]


@dataclass
class ChunkStats:
    index: int
    entries: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # "pretrain/swissprot/train" -> rows
    tokens: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)  # "function/train" -> rows
    exports: dict[str, int] = field(default_factory=dict)  # "alpaca/train" -> file size after this chunk


_worker: dict = {}


def init_worker(opts: UniprotBuildOptions, mapped: frozenset[str]) -> None:
    """Per process: the options, a token counter and the accessions ENZYME/SIFTS map to ECs."""
    from proteinlm.dataset.steps.tokens import TokenCounter

    _worker["opts"] = opts
    _worker["mapped"] = mapped
    _worker["tokens"] = TokenCounter(opts.tokenizer, (opts.seq_open, opts.seq_close), opts.seq_sep)


def set_direct_exports(exports) -> None:
    """In the process that holds the build's `SftExports`: its chunks append their export parts
    straight to the exports' files (`DirectPart`); None in workers (part files, see `ExportParts`)."""
    _worker["exports"] = exports


def sft_row(ins: Instruction) -> dict:
    return task_row(ins.id, ins.task, ins.instruction, ins.input, ins.output, ins.meta.get("accession"))


def task_row(id: str, task: str, instruction: str, input: str, output: str, accession: str | None) -> dict:
    """The columns of an SFT row in the shards, in their order."""
    return {
        "id": id, "task": task, "instruction": instruction, "input": input, "output": output, "accession": accession,
    }


# The text columns whose values repeat, per subset (Parquet dictionary pages): an SFT row's task
# and instruction paraphrase, a UniProt entry's sequence and accession in each of its task rows,
# the EC shared by up to --per-ec ECoT rows.
_REPEATED = {
    "pretrain/swissprot": ("source",),
    "sft/uniprot": ("task", "instruction", "input", "accession"),
    "sft/ecot": ("task", "instruction", "ec"),
}

# Rows are turned into JSON a batch at a time: a chunk's JSON text, its gzip input and its export
# parts (~100 MB for 5,000 entries) are never in memory at once.
_BATCH = 1000


def write_subset(
    out: Path,
    subset: str,
    index: int,
    rows: list[dict],
    key: str,
    stats: ChunkStats,
    memo: dict | None = None,
    parts: list[Sequence[str]] | None = None,
    splits: list[str] | None = None,
) -> dict[str, tuple[Path, Path, int]]:
    """Write one chunk of a subset, split by accession, in every requested format; for SFT rows,
    return their export parts per split (files that `SftExports.append` moves into the exports, or
    `WRITTEN` where this process holds the exports and wrote them there: see `set_direct_exports`).
    `memo` (text -> token count) is shared by the subsets of one chunk: an entry's sequence text
    is its document's paragraph and each task's input. `parts`: each row's counted texts, which its
    token count adds up (a document's paragraphs, joined by blank lines; an SFT row's instruction,
    input and output, joined by newlines), else read from the row. `splits`: each row's split,
    else computed from its accession."""
    opts: UniprotBuildOptions = _worker["opts"]
    if splits is None:
        splits = [split_of(row["accession"] or row["id"], opts.val_fraction, opts.seed) for row in rows]
    if parts is None:
        parts = (
            [(r["instruction"], r["input"], r["output"]) for r in rows] if key == "sft"
            else [r[key].split("\n\n") for r in rows]
        )
    if "validation" not in splits:  # most chunks of a build with the default 2% hold a few
        by_split, parts_by_split = {"train": rows, "validation": []}, {"train": parts, "validation": []}
    else:
        by_split = {s: [r for r, x in zip(rows, splits) if x == s] for s in SPLITS}
        parts_by_split = {s: [p for p, x in zip(parts, splits) if x == s] for s in SPLITS}
    exports = {}
    memo = {} if memo is None else memo
    for split, part in by_split.items():
        name = f"{subset}/{split}"
        stats.rows[name] = len(part)
        # SFT rows are counted as the text "instruction\ninput\noutput", documents as paragraphs
        # joined by blank lines
        counts = _worker["tokens"].count_joined(parts_by_split[split], "\n" if key == "sft" else "\n\n", memo)
        if key == "sft":
            for task, n in Counter(map(itemgetter("task"), part)).items():
                stats.tasks[f"{task}/{split}"] = stats.tasks.get(f"{task}/{split}", 0) + n
        stats.tokens[name] = sum(counts) if counts is not None else None
        if not part:
            continue
        base = out / subset / f"{split}-{index:05d}"
        shard = GzipShard(base.with_name(base.name + ".jsonl.gz")) if "jsonl.gz" in opts.formats else None
        export = None  # this split's export parts (SFT rows only)
        if key == "sft":  # the exports' files themselves where this process holds them
            direct = _worker.get("exports")
            part_name = f"{subset.replace('/', '-')}-{index:05d}-{split}"
            export = DirectPart(direct, split) if direct else ExportParts(out, part_name)
        for i in range(0, len(part), _BATCH):
            lines, alpaca, chat = encoded_rows(part[i : i + _BATCH], export is not None)
            if export is not None:
                export.add(alpaca, chat)
            if shard is not None:
                shard.write(lines)
            del lines, alpaca, chat
        if shard is not None:
            shard.close()
        if export is not None:
            exports[split] = (*export.close(), len(part))
        if "parquet" in opts.formats:
            write_parquet(base.with_name(base.name + ".parquet"), part, _REPEATED.get(subset))
    return exports


def build_chunk(index: int, entries: list[ProteinEntry]) -> tuple[ChunkStats, dict]:
    from proteinlm.dataset.seqtext import seq_to_text
    from proteinlm.dataset.uniprot.swissprot import entry_paragraphs, section_texts, stable_choices
    from proteinlm.dataset.uniprot.topic_tasks import task_names, task_texts

    opts: UniprotBuildOptions = _worker["opts"]
    out = Path(opts.out)
    tags = (opts.seq_open, opts.seq_close)
    stats = ChunkStats(index, entries=len(entries))
    memo: dict[str, int] = {}
    seq_count = _worker["tokens"].seq_text_count
    names = task_names(opts.tasks)
    docs, paragraphs, sft, sft_parts = [], [], [], []
    doc_splits, sft_splits = [], []
    for e in entries:
        # the cleaned topic texts and the sequence text are made once, for the document and the tasks
        sections = section_texts(e)
        seq = seq_to_text(e.sequence, open_tag=tags[0], close_tag=tags[1], sep=opts.seq_sep) if e.sequence else None
        if seq is not None and (n := seq_count(e.sequence)) is not None:
            memo[seq] = n  # its tokens, known without reading it
        acc = e.accession
        split = split_of(acc, opts.val_fraction, opts.seed)  # the entry's document and tasks go together
        choices = stable_choices(acc)  # every phrasing of the entry's document and tasks
        paras, _ = entry_paragraphs(
            e, seq_tags=tags, seq_sep=opts.seq_sep, sections=sections, seq_text=seq, choices=choices
        )
        docs.append({"id": f"swissprot-{acc}", "text": "\n\n".join(paras), "source": "swissprot", "accession": acc})
        paragraphs.append(paras)
        doc_splits.append(split)
        if seq is not None:  # the rows of entry_instructions, made without Instruction records
            for task, ins, output in task_texts(acc, names, sections, choices):
                sft.append(task_row(f"{task}-{acc}", task, ins, seq, output, acc))
                sft_parts.append((ins, seq, output))
                sft_splits.append(split)
    write_subset(out, "pretrain/swissprot", index, docs, "text", stats, memo, paragraphs, doc_splits)
    docs.clear()  # written: free the documents' text before the SFT rows are (peak memory)
    paragraphs.clear()
    return stats, write_subset(out, "sft/uniprot", index, sft, "sft", stats, memo, sft_parts, sft_splits)


@dataclass
class ChunkResult:
    stats: ChunkStats | None  # None: a chunk done by an earlier run, parsed again for ECoT only
    exports: dict = field(default_factory=dict)
    candidates: list[ProteinEntry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@contextmanager
def _gc_paused():
    """A chunk makes and drops some 10^5 small containers (entries, rows, encoded values) that hold
    no reference cycles, so reference counting frees them all; the cyclic collector would only
    walk them again and again (3-4% of a build). It runs as usual between chunks."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_chunk(index: int, items: list[Item], build: bool) -> ChunkResult:
    """Parse the chunk's pieces, keep its ECoT candidates and, if `build`, build and write it."""
    with _gc_paused():
        return _run_chunk(index, items, build)


def _run_chunk(index: int, items: list[Item], build: bool) -> ChunkResult:
    from proteinlm.dataset.uniprot.ecot import candidate
    from proteinlm.sources.uniprot import parse_flat_piece

    skipped: list[str] = []

    def on_error(err: RecordError) -> None:
        skipped.append(str(err))

    entries: list[ProteinEntry] = []
    for item in items:
        if isinstance(item, ProteinEntry):
            entries.append(item)
        elif (entry := parse_flat_piece(item[1], item[0], item[2], on_error)) is not None:
            entries.append(entry)
    items.clear()  # the raw text is parsed now: free it before building (peak memory)
    mapped = _worker["mapped"]
    candidates = [c for e in entries if (c := candidate(e, mapped)) is not None]
    if not build:
        return ChunkResult(None, candidates=candidates, skipped=skipped)
    stats, exports = build_chunk(index, entries)
    return ChunkResult(stats, exports, candidates, skipped)
