"""`loglik` (option labels as the next token) against lm-evaluation-harness, same model and questions.

Prints: our wall time, lm-eval's, the ratio, argmax agreement, and our wall time over the prefill
limit (total prompt tokens ÷ the model's measured peak forward tokens/s).
Targets: not slower than lm-eval, ≥ 99% identical argmax, wall ≤ 1.1 × the prefill limit.

    python benchmarks/bench_loglik.py [--n 120] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import median, peak_forward_tokens_per_s, smollm2_backend, workload, write_json
from lm_eval_peer import run_lm_eval

from proteinlm.bench.lm_eval_export import export_lm_eval
from proteinlm.bench.prompts import OFFICIAL
from proteinlm.bench.runner import RunSettings, run_bench


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()

    bench = workload(args.n)
    # lm-eval scores raw text (no chat template), so ours does too: identical contexts.
    backend, model_dir = smollm2_backend(chat=False, batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        summary = run_bench(backend, bench, OFFICIAL, tmp / "run", RunSettings("loglik", chunk_size=4 * args.batch_size))
        ours_wall = time.perf_counter() - t
        preds = [json.loads(line) for line in (tmp / "run" / "predictions.jsonl").read_text().splitlines()]
        tokens = [p["prompt_tokens"] for p in preds]
        peak = peak_forward_tokens_per_s(backend.model, int(median(tokens)))
        limit = sum(tokens) / peak

        export_lm_eval(bench.records, OFFICIAL, tmp / "task", "plm_bench")
        peer_wall, peer_argmax, _ = run_lm_eval(model_dir, tmp / "task", "plm_bench_label")
    same = sum(peer_argmax[i] == p["parsed_index"] for i, p in enumerate(preds))
    result = {
        "questions": len(preds),
        "prompt_tokens_total": sum(tokens),
        "prompt_tokens_median": median(tokens),
        "peak_forward_tokens_per_s": round(peak, 1),
        "prefill_limit_s": round(limit, 2),
        "ours_wall_s": round(ours_wall, 2),
        "lm_eval_wall_s": round(peer_wall, 2),
        "speedup_vs_lm_eval": round(peer_wall / ours_wall, 2),
        "ours_over_prefill_limit": round(ours_wall / limit, 3),
        "argmax_agreement": round(same / len(preds), 4),
        "ours_accuracy": summary["accuracy"],
    }
    write_json(args.out / "loglik.json", result)
    for k, v in result.items():
        print(f"{k:>28}: {v}")
    ok = result["speedup_vs_lm_eval"] >= 1.0 and result["argmax_agreement"] >= 0.99 and result["ours_over_prefill_limit"] <= 1.1
    print("TARGETS MET" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
