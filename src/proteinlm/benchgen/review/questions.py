"""What the review reads: a `benchgen from-papers` run directory or any ProteinLMBench-shaped file.

A run directory holds bench.json and, when the generator wrote one, provenance.jsonl (one object per
question, same "id"; every key optional, see the from-papers contract). A plain file is read by the
bench loader, so every format `proteinlm bench` takes is reviewable; its extra fields (category,
accession, evidence, ...) are kept and shown.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proteinlm.bench.loaders import load_bench
from proteinlm.errors import BenchDataError

BENCH_NAME = "bench.json"
PROVENANCE_NAME = "provenance.jsonl"
DB_NAME = "review.sqlite"


@dataclass
class Item:
    """One question to review: its original content, the record's other fields and its provenance."""

    qid: str
    content: dict[str, Any]  # {"question", "options" (texts), "answer" (0-based), "explanation"}
    extra: dict[str, Any] = field(default_factory=dict)  # category and the record's other fields
    provenance: dict[str, Any] = field(default_factory=dict)


def bench_path(source: str | Path) -> Path:
    """The question file of `source`: RUN_DIR/bench.json for a directory, else the file itself."""
    path = Path(source)
    if path.is_dir():
        path = path / BENCH_NAME
        if not path.is_file():
            raise BenchDataError(f"{source}: no {BENCH_NAME} in this run directory")
    return path


def default_db(source: str | Path) -> Path:
    """RUN_DIR/review.sqlite for a run directory, <file stem>.review.sqlite beside a plain file."""
    path = Path(source)
    if path.is_dir():
        return path / DB_NAME
    return path.with_name(path.name.split(".")[0] + ".review.sqlite")


def text_id(question: str) -> str:
    """A stable id from the question text, for records that carry none."""
    return "q-" + hashlib.sha256(question.encode("utf-8")).hexdigest()[:12]


def read_provenance(path: Path) -> dict[str, dict]:
    """provenance.jsonl as {question id: record}; a broken line is an error naming file and line."""
    found: dict[str, dict] = {}
    if not path.is_file():
        return found
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise BenchDataError(f"{path}: line {number}: invalid JSON: {e.msg}") from None
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                raise BenchDataError(f"{path}: line {number}: expected an object with a string 'id'")
            found[record["id"]] = record
    return found


def read_items(source: str | Path) -> list[Item]:
    """The questions of `source` in file order, with provenance where the run directory has it."""
    path = bench_path(source)
    bench = load_bench(str(path))
    provenance = read_provenance(path.parent / PROVENANCE_NAME) if Path(source).is_dir() else {}
    items: list[Item] = []
    seen: set[str] = set()
    for index, mcq in enumerate(bench.records):
        qid = mcq.id
        # the loader names a record without an id by its position ("q0003"); a hash of the text
        # keeps decisions attached to the question when the file is regenerated in another order
        if qid == f"q{index:04d}":
            qid = text_id(mcq.question)
            while qid in seen:
                qid += "+"
        seen.add(qid)
        extra = dict(mcq.meta)
        if mcq.category is not None:
            extra["category"] = mcq.category
        items.append(Item(
            qid=qid,
            content={"question": mcq.question, "options": list(mcq.options), "answer": mcq.answer,
                     "explanation": mcq.explanation},
            extra=extra,
            provenance=provenance.get(mcq.id, {}),
        ))
    return items
