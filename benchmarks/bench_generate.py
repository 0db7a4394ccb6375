"""`generate` against a faithful re-implementation of the published evaluation loop: one question
at a time, raw prompt, `model.generate(..., do_sample=True, temperature=0.1, max_new_tokens=20)`,
and the first number anywhere in the output taken as the answer.

Ours: the default `proteinlm bench --method generate` settings (chat template, greedy, batched,
shared-prefix cache, answer extraction). Target: ≥ 5× faster, parse rate not lower.

    python benchmarks/bench_generate.py [--n 120]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import torch
from common import smollm2_backend, workload, write_json

from proteinlm.bench.prompts import OFFICIAL
from proteinlm.bench.runner import RunSettings, run_bench
from proteinlm.models.base import GenerationParams


def published_loop(backend, records, seed: int = 0):
    """One question at a time, as the published script does (same model object as ours)."""
    torch.manual_seed(seed)
    tok, model = backend.tokenizer, backend.model
    digit_found = valid = correct = 0
    t = time.perf_counter()
    for q in records:
        prompt = OFFICIAL.render(q)
        ids = tok(prompt, return_tensors="pt").input_ids
        with torch.inference_mode():
            out = model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=20, do_sample=True,
                temperature=0.1, pad_token_id=tok.eos_token_id,
            )
        text = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        m = re.search(r"\d+", text)
        if m:
            digit_found += 1
            n = int(m.group())
            valid += 1 <= n <= len(q.options)
            correct += n == q.answer + 1
    return time.perf_counter() - t, digit_found, valid, correct


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--dtype", default="float32", help="both sides run the same model object, so the same dtype")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()

    bench = workload(args.n)
    backend, _ = smollm2_backend(batch_size=args.batch_size, dtype=args.dtype)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        s = run_bench(backend, bench, OFFICIAL, Path(tmp) / "run", RunSettings("generate", GenerationParams(stop_regex=OFFICIAL.answer_regex), chunk_size=4 * args.batch_size))
        ours_wall = time.perf_counter() - t
    peer_wall, digit_found, valid, peer_correct = published_loop(backend, bench.records)
    n = len(bench.records)
    result = {
        "questions": n,
        "ours_wall_s": round(ours_wall, 2),
        "published_loop_wall_s": round(peer_wall, 2),
        "speedup": round(peer_wall / ours_wall, 2),
        "ours_parse_rate": round(s["parsed"] / n, 4),
        "ours_abstained": s["abstained"],
        "ours_accuracy": round(s["accuracy"], 4),
        "published_digit_found_rate": round(digit_found / n, 4),
        "published_valid_option_rate": round(valid / n, 4),
        "published_accuracy": round(peer_correct / n, 4),
        "dtype": args.dtype,
        "ours_settings": "chat template, greedy, max_new_tokens=32, stop at answer, batch %d" % args.batch_size,
    }
    write_json(args.out / f"generate_{args.dtype}.json", result)
    for k, v in result.items():
        print(f"{k:>28}: {v}")
    ok = result["speedup"] >= 5 and result["ours_parse_rate"] >= result["published_valid_option_rate"]
    print("TARGETS MET" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
