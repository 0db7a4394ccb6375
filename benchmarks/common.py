"""Shared pieces of the benchmark scripts: the workload, the model, and timing helpers.

Workload: the packaged sample bench, cycled with its options rotated (answer moved along with
them) until there are N distinct questions, so every script measures the same questions.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from proteinlm.bench.loaders import Bench, load_bench  # noqa: E402
from proteinlm.models import load_backend  # noqa: E402
from proteinlm.models.smollm2 import gguf_cache_dir  # noqa: E402
from proteinlm.models.smollm2 import smollm2_gguf_path  # noqa: E402
from proteinlm.records import MCQ  # noqa: E402


def workload(n: int) -> Bench:
    base = load_bench("sample")
    out: list[MCQ] = []
    shift = 0
    while len(out) < n:
        for q in base.records:
            if len(out) == n:
                break
            k = shift % len(q.options)
            opts = q.options[k:] + q.options[:k]
            ans = (q.answer - k) % len(q.options)
            out.append(replace(q, id=f"{q.id}-r{shift}", options=opts, answer=ans))
        shift += 1
    return Bench(name=f"sample-x{n}", source="sample (options rotated)", sha256="", records=out, skipped=[])


def smollm2_backend(**kw):
    """SmolLM2 through our hf backend; also makes sure the dequantised copy exists on disk, so the
    peer harness can load exactly the same weights from a plain transformers directory."""
    backend = load_backend("smollm2", "hf", **kw)
    converted = gguf_cache_dir(smollm2_gguf_path())
    assert converted is not None and (converted / "config.json").is_file(), "GGUF cache missing"
    return backend, converted


@torch.inference_mode()
def peak_forward_tokens_per_s(model, seq_len: int, repeats: int = 5) -> float:
    """Best observed tokens/s of one plain forward pass over a single sequence of seq_len tokens:
    the prefill limit that no scorer of whole prompts can beat."""
    ids = torch.randint(100, 20000, (1, seq_len))
    model(ids, logits_to_keep=1)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        model(ids, logits_to_keep=1)
        best = min(best, time.perf_counter() - t)
    return seq_len / best


def median(xs):
    return statistics.median(xs) if xs else 0


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
