"""A benchmark run: ask a backend every question, score, and record it in a run directory.

Run directory:
  predictions.jsonl  one line per question, in bench order (deterministic: no timings in it)
  summary.json       accuracy with a Wilson 95% interval, counts, accuracy per category and per
                     option count, the run's label, timing
  cache/<key>.jsonl  answers already obtained, appended after every chunk; the key hashes the model,
                     backend, method, prompt format and decoding settings, so a killed run resumes
                     without asking a finished question again, and a changed setting starts afresh
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from proteinlm import __version__
from proteinlm.bench.prompts import PromptFormat
from proteinlm.bench.published import published_generation
from proteinlm.bench.scoring import EXTRACTIONS, score, summarize
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
    #: generate only: "faithful" (proteinlm.bench.extract) or "published" (the published evaluator's
    #: decoding and first-integer rule, which replace `generation`'s settings but its seed)
    extract: str = "faithful"

    def __post_init__(self):
        if self.method not in METHODS:
            raise RunError(f"unknown method {self.method!r}: use one of {', '.join(METHODS)}")
        if self.extract not in EXTRACTIONS:
            raise RunError(f"unknown extraction {self.extract!r}: use one of {', '.join(EXTRACTIONS)}")
        if self.extract == "published":
            if self.method != "generate":
                raise RunError("--extract published reads generated replies: use it with --method generate")
            object.__setattr__(self, "generation", published_generation(self.generation.seed))


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
        answers = [{"output": g.text, "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens} for g in gens]
        if settings.generation.decode_prompt:
            # a server returns the reply alone: its prompt and reply are joined as text (nothing to strip wrongly)
            for a, g, p in zip(answers, gens, prompts):
                a["decoded_with_prompt"] = g.meta.get("decoded_with_prompt", backend.render(p) + g.text)
        return answers
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


def run_bench(
    backend: Backend,
    bench,
    fmt: PromptFormat,
    out_dir: Path,
    settings: RunSettings,
    *,
    progress_factory: Callable[[int], Callable[[int], None]] | None = None,
    limit: int | None = None,
    label: str | None = None,
) -> dict:
    """Run (or resume) `bench` on `backend`; writes and returns the summary. `label` names the run
    in reports (default: the run directory's name)."""
    if settings.extract == "published" and fmt.label_style != "number":
        raise RunError(f"--extract published reads option numbers; prompt format {fmt.name!r} letters its options")
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

    preds = [score(q, cache.get(q.id, hashes[q.id]), fmt, settings.method, settings.extract) for q in records]
    with (out_dir / "predictions.jsonl").open("w", encoding="utf-8") as fh:
        for p in preds:
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    ident = backend.describe()
    summary = {
        "run_id": out_dir.name,
        "label": label or out_dir.resolve().name,
        "model": ident.get("model"),
        "backend": ident.get("backend"),
        "backend_details": ident,
        "method": settings.method,
        "extract": settings.extract if settings.method == "generate" else None,
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
        **summarize(preds, settings.method, fmt),
        "questions_asked": len(pending),
        "wall_time_s": round(wall, 3),
        "questions_per_s": round(len(pending) / wall, 3) if wall > 0 and pending else None,
        "package_version": __version__,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary
