"""`benchgen export`: the reviewed questions as a bench, with the full review log and a summary.

Written next to each other: the bench (ProteinLMBench shape, accepted questions in their latest
version, options shuffled with the answer and the explanation's option numbers rewritten),
review_log.jsonl (every decision, oldest first, with the before/after of edits) and
review_summary.json (the counts and agreement) with review_summary.txt (the same as the tables
the CLI prints).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from proteinlm.benchgen.atomic_file import write_text_atomic
from proteinlm.benchgen.review.agreement import POLICIES, kept, summary
from proteinlm.benchgen.review.report import summary_text
from proteinlm.benchgen.review.store import ReviewStore
from proteinlm.benchgen.shuffle import shuffle_seeded
from proteinlm.errors import ProteinLMError
from proteinlm.records import MCQ

LOG_NAME = "review_log.jsonl"
SUMMARY_NAME = "review_summary.json"
SUMMARY_TEXT_NAME = "review_summary.txt"


@dataclass
class ExportResult:
    out: Path
    log: Path
    summary_path: Path
    written: int
    summary: dict



def bench_record(question: dict, seed: int | str | None) -> dict:
    """One question in the ProteinLMBench shape (its other fields kept), options shuffled by seed."""
    content = question["content"]
    mcq = MCQ(id=question["qid"], question=content["question"], options=tuple(content["options"]),
              answer=int(content["answer"]), explanation=content["explanation"])
    if seed is not None:
        mcq = shuffle_seeded(mcq, seed)
    record = {k: v for k, v in question["extra"].items() if k not in ("id", "question", "options", "answer", "explanation")}
    record.update({
        "id": mcq.id, "question": mcq.question,
        "options": [f"option {i}: {text}" for i, text in enumerate(mcq.options, 1)],
        "answer": mcq.answer_label, "explanation": mcq.explanation,
    })
    if question["version"]:
        record["review_version"] = question["version"]
    return record


def export(db: str | Path, out: str | Path, *, policy: str = "all-accept", seed: int | str | None = 0) -> ExportResult:
    """Write the bench, the log and the summary; raises when nothing could be exported."""
    if policy not in POLICIES:
        raise ProteinLMError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    db_path = Path(db)
    if not db_path.is_file():
        raise ProteinLMError(f"review database not found: {db_path}")
    store = ReviewStore(db_path)
    try:
        questions = store.questions()
        if not questions:
            raise ProteinLMError(f"{db_path}: the review database holds no questions")
        finals, needed = store.finals(), store.reviews_needed
        chosen = [q for q in questions if kept(finals.get(q["qid"], {}), needed, policy)]
        info = summary([q["qid"] for q in questions], finals, needed)
        info.update(policy=policy, seed=seed, exported=len(chosen), database=str(db_path))
        out_path = Path(out)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        log_path, summary_path = out_path.with_name(LOG_NAME), out_path.with_name(SUMMARY_NAME)
        log_lines = [json.dumps(row, ensure_ascii=False, sort_keys=True) for row in store.decisions()]
        write_text_atomic(log_path, "".join(line + "\n" for line in log_lines))
        write_text_atomic(summary_path, json.dumps(info, indent=1, ensure_ascii=False) + "\n")
        write_text_atomic(out_path.with_name(SUMMARY_TEXT_NAME), summary_text(info))
        if chosen:
            records = [bench_record(q, seed) for q in chosen]
            write_text_atomic(out_path, json.dumps(records, indent=1, ensure_ascii=False) + "\n")
    finally:
        store.close()
    return ExportResult(out=out_path, log=log_path, summary_path=summary_path, written=len(chosen), summary=info)
