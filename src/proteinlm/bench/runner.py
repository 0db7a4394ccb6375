"""A benchmark run: ask a backend every question, score, and record it in a run directory.

Run directory:
  predictions.jsonl  one line per question, in bench order (deterministic: no timings in it)
  summary.json       accuracy with a Wilson 95% interval, counts, per-category accuracy, timing
  cache/<key>.jsonl  answers already obtained, appended after every chunk; the key hashes the model,
                     backend, method, prompt format and decoding settings, so a killed run resumes
                     without asking a finished question again, and a changed setting starts afresh
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from proteinlm import __version__
from proteinlm.bench.extract import extract_answer
from proteinlm.bench.prompts import PromptFormat
from proteinlm.bench.report import wilson_interval
from proteinlm.errors import RunError
from proteinlm.models.base import Backend, GenerationParams
from proteinlm.records import MCQ

METHODS = ("loglik", "loglik-norm", "generate")
LOGPROB_DECIMALS = 4  # rounding keeps predictions.jsonl identical whatever the batch layout


@dataclass(frozen=True)
class RunSettings:
    method: str = "loglik"
    generation: GenerationParams = field(default_factory=GenerationParams)
    chunk_size: int = 16  # questions per backend call; the cache is flushed after each

    def __post_init__(self):
        if self.method not in METHODS:
            raise RunError(f"unknown method {self.method!r}: use one of {', '.join(METHODS)}")


def prompt_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cache_key(backend: Backend, fmt: PromptFormat, settings: RunSettings) -> str:
    ident = {k: v for k, v in backend.describe().items() if k not in ("threads", "device")}
    parts = {"backend": ident, "method": settings.method, "prompt": fmt.fingerprint()}
    if settings.method == "generate":
        parts["decoding"] = asdict(settings.generation) | {"stop": list(settings.generation.stop)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


class AnswerCache:
    """Append-only JSONL of answers keyed by (question id, prompt hash)."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[tuple[str, str], dict] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that question is simply asked again
                self.entries[(entry["id"], entry["prompt_hash"])] = entry
        path.parent.mkdir(parents=True, exist_ok=True)

    def get(self, qid: str, phash: str) -> dict | None:
        return self.entries.get((qid, phash))

    def add_many(self, entries: list[dict]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            for entry in entries:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self.entries[(entry["id"], entry["prompt_hash"])] = entry
            fh.flush()


def _ask(backend: Backend, fmt: PromptFormat, settings: RunSettings, mcqs: list[MCQ], progress) -> list[dict]:
    """Query the backend for a chunk of questions; returns raw answers (no scoring)."""
    method = settings.method
    if method == "generate":
        prompts = [fmt.prompt(q, chat=backend.chat, for_scoring=False) for q in mcqs]
        gens = _call(backend.generate, prompts, settings.generation, progress=progress)
        return [{"output": g.text, "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens} for g in gens]
    if method == "loglik":
        prompts = [fmt.prompt(q, chat=backend.chat, for_scoring=True) for q in mcqs]
        conts = [fmt.label_continuations(q) for q in mcqs]
    else:  # loglik-norm: the option texts themselves are the continuations
        prompts = [fmt.prompt(q, chat=backend.chat, for_scoring=False) for q in mcqs]
        conts = [[" " + opt for opt in q.options] for q in mcqs]
    results = _call(backend.loglikelihood, prompts, conts, progress=progress)
    return [
        {
            "option_logprobs": [round(s.logprob, LOGPROB_DECIMALS) for s in r.scores],
            "option_tokens": [s.n_tokens for s in r.scores],
            "prompt_tokens": r.prompt_tokens,
        }
        for r in results
    ]


def _call(fn, *args, progress):
    """Pass the progress callback to backends that report per batch; advance it per call otherwise."""
    if "progress" in inspect.signature(fn).parameters:
        return fn(*args, progress=progress)
    out = fn(*args)
    if progress:
        progress(len(args[0]))
    return out


def score(mcq: MCQ, answer: dict, fmt: PromptFormat, method: str) -> dict:
    """Turn a raw answer into a prediction record."""
    pred = {"id": mcq.id, "prompt_hash": answer["prompt_hash"], "category": mcq.category}
    if method == "generate":
        ext = extract_answer(answer["output"], len(mcq.options), fmt.label_style, fmt.abstain_number)
        choice, abstained, rule = ext.choice, ext.abstained, ext.rule
        pred |= {"raw_output": answer["output"], "option_logprobs": None}
    else:
        lps = answer["option_logprobs"]
        if method == "loglik-norm":  # lm-eval acc_norm: log-likelihood per character of the option text
            keys = [lp / max(1, len(opt)) for lp, opt in zip(lps, mcq.options)]
        else:
            keys = lps
        choice = max(range(len(keys)), key=lambda i: (keys[i], -i))
        abstained, rule = False, method
        pred |= {"raw_output": None, "option_logprobs": lps}
    pred |= {
        "parsed": None if choice is None else fmt.label(choice),
        "parsed_index": choice,
        "gold": fmt.label(mcq.answer),
        "gold_index": mcq.answer,
        "correct": choice == mcq.answer,
        "abstained": abstained,
        "rule": rule,
        "prompt_tokens": answer["prompt_tokens"],
    }
    return pred


def summarize(preds: list[dict], method: str) -> dict:
    n = len(preds)
    correct = sum(p["correct"] for p in preds)
    abstained = sum(p["abstained"] for p in preds)
    parsed = sum(p["parsed_index"] is not None for p in preds)
    per_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in preds:
        if p["category"]:
            per_cat[p["category"]][0] += 1
            per_cat[p["category"]][1] += p["correct"]
    return {
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "ci95": list(wilson_interval(correct, n)),
        "parsed": parsed,
        "unparsed": n - parsed - abstained,
        "abstained": abstained,
        "rules": dict(sorted(Counter(p["rule"] for p in preds).items())),
        "per_category": {
            c: {"n": k, "correct": m, "accuracy": m / k, "ci95": list(wilson_interval(m, k))}
            for c, (k, m) in sorted(per_cat.items())
        },
        "prompt_tokens": sum(p["prompt_tokens"] for p in preds),
        "chance": sum(1 / len(p["option_logprobs"]) for p in preds) / n if method != "generate" and n else None,
    }


def run_bench(
    backend: Backend,
    bench,
    fmt: PromptFormat,
    out_dir: Path,
    settings: RunSettings,
    *,
    progress_factory: Callable[[int], Callable[[int], None]] | None = None,
    limit: int | None = None,
) -> dict:
    """Run (or resume) `bench` on `backend`; writes and returns the summary."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = bench.records[:limit] if limit else bench.records
    key = cache_key(backend, fmt, settings)
    cache = AnswerCache(out_dir / "cache" / f"{key}.jsonl")
    scoring = settings.method == "loglik"  # only label scoring appends the answer prefix
    texts = {q.id: backend.render(fmt.prompt(q, chat=backend.chat, for_scoring=scoring)) for q in records}
    hashes = {qid: prompt_hash(t) for qid, t in texts.items()}
    pending = [q for q in records if cache.get(q.id, hashes[q.id]) is None]
    # Longest first: batches of similar length pad little, and the slowest work shows up early.
    pending.sort(key=lambda q: -len(texts[q.id]))
    advance = progress_factory(len(pending)) if progress_factory and pending else None
    started = time.perf_counter()
    for i in range(0, len(pending), settings.chunk_size):
        chunk = pending[i : i + settings.chunk_size]
        answers = _ask(backend, fmt, settings, chunk, advance)
        cache.add_many([{"id": q.id, "prompt_hash": hashes[q.id]} | a for q, a in zip(chunk, answers)])
    wall = time.perf_counter() - started

    preds = [score(q, cache.get(q.id, hashes[q.id]), fmt, settings.method) for q in records]
    with (out_dir / "predictions.jsonl").open("w", encoding="utf-8") as fh:
        for p in preds:
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    ident = backend.describe()
    summary = {
        "run_id": out_dir.name,
        "model": ident.get("model"),
        "backend": ident.get("backend"),
        "backend_details": ident,
        "method": settings.method,
        "prompt_format": fmt.name,
        "prompt_fingerprint": fmt.fingerprint(),
        "decoding": asdict(settings.generation) if settings.method == "generate" else None,
        "cache_key": key,
        "bench": {
            "name": bench.name,
            "source": bench.source,
            "sha256": bench.sha256,
            "n_records": len(bench.records),
            "n_skipped": len(bench.skipped),
            "skipped": [{"index": i, "reason": r} for i, r in bench.skipped],
        },
        **summarize(preds, settings.method),
        "questions_asked": len(pending),
        "wall_time_s": round(wall, 3),
        "questions_per_s": round(len(pending) / wall, 3) if wall > 0 and pending else None,
        "package_version": __version__,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary
