"""Step 10: RUN_DIR/bench.json, provenance.jsonl and manifest.json (see notes in the package
README for the fields). Each file is written to a temporary name and renamed into place, so a
killed run never leaves a half-written file that looks finished."""

from __future__ import annotations

import json
from pathlib import Path

from proteinlm.benchgen.atomic_file import write_text_atomic
from proteinlm.benchgen.papers.stages import Candidate


def bench_record(c: Candidate) -> dict:
    m = c.mcq
    return {"id": m.id, "question": m.question,
            "options": [f"option {i + 1}: {t}" for i, t in enumerate(m.options)],
            "answer": m.answer_label, "explanation": m.explanation}


def _label(choice: int | None, order: list[int] | None) -> str | None:
    """A validator's choice (generator order) as bench.json numbers the options after the shuffle."""
    if choice is None:
        return None
    return f"option {(order.index(choice) if order else choice) + 1}"


def provenance_record(c: Candidate, models: dict, prompts: dict, seed) -> dict:
    ch = c.chunk
    ev = c.evidence
    return {
        "id": c.id,
        "article": dict(ch.article),
        "chunk": {"id": ch.id, "start": ch.start, "end": ch.end, "sections": list(ch.sections), "text": ch.text},
        "evidence": {"quote": c.quote, "quote_match": c.quote_match, "passage": ev.get("passage", ""),
                     "passage_id": ev.get("passage_id"), "passage_chunk_id": ev.get("passage_chunk_id"),
                     "score": ev.get("score", 0.0), "fused": ev.get("fused", 0.0), "own_chunk": ev.get("own_chunk", False)},
        "scores": {"coherence": c.coherence, "evidence": ev.get("score", 0.0), "combined": round(c.combined, 4)},
        "validator": {mode: {"answer": _label(v.get("choice"), c.shuffle_order), "correct": v.get("correct", False),
                             "abstained": v.get("abstained", False)}
                      for mode, v in c.validator.items()},
        "difficulty": c.difficulty,
        "models": models,
        "prompts": prompts,
        "shuffle": {"seed": seed, "order": c.shuffle_order},
    }



def write_run(out: Path, selected: list[Candidate], manifest: dict, models: dict, prompts: dict, seed) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "bench.json", json.dumps([bench_record(c) for c in selected], indent=1,
                                                 ensure_ascii=False) + "\n")
    lines = [json.dumps(provenance_record(c, models, prompts, seed), ensure_ascii=False) for c in selected]
    write_text_atomic(out / "provenance.jsonl", "".join(line + "\n" for line in lines))
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
