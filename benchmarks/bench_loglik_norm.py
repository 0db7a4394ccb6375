"""`loglik-norm` (option texts as continuations, length-normalised) against lm-evaluation-harness's
`multiple_choice` over option texts, which runs the question again for every option.

Target: ≥ 3× faster (the question prefix runs once and its key/value cache serves every option),
same argmax.

    python benchmarks/bench_loglik_norm.py [--n 120]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import smollm2_backend, workload, write_json
from lm_eval_peer import run_lm_eval

from proteinlm.bench.lm_eval_export import export_lm_eval
from proteinlm.bench.prompts import OFFICIAL
from proteinlm.bench.runner import RunSettings, run_bench


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lm-eval-batch-size", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()

    bench = workload(args.n)
    backend, model_dir = smollm2_backend(chat=False, batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        run_bench(backend, bench, OFFICIAL, tmp / "run", RunSettings("loglik-norm", chunk_size=4 * args.batch_size))
        ours_wall = time.perf_counter() - t
        preds = [json.loads(line) for line in (tmp / "run" / "predictions.jsonl").read_text().splitlines()]
        export_lm_eval(bench.records, OFFICIAL, tmp / "task", "plm_bench")
        peer_wall, peer_raw, peer_norm = run_lm_eval(model_dir, tmp / "task", "plm_bench_text", args.lm_eval_batch_size)
    same_norm = sum(peer_norm[i] == p["parsed_index"] for i, p in enumerate(preds))
    ours_raw = [max(range(len(p["option_logprobs"])), key=lambda j: p["option_logprobs"][j]) for p in preds]
    same_raw = sum(peer_raw[i] == ours_raw[i] for i in range(len(preds)))
    result = {
        "questions": len(preds),
        "options_total": sum(len(p["option_logprobs"]) for p in preds),
        "ours_wall_s": round(ours_wall, 2),
        "lm_eval_wall_s": round(peer_wall, 2),
        "lm_eval_batch_size": args.lm_eval_batch_size,
        "speedup_vs_lm_eval": round(peer_wall / ours_wall, 2),
        "argmax_agreement_norm": round(same_norm / len(preds), 4),
        "argmax_agreement_unnormalised": round(same_raw / len(preds), 4),
    }
    write_json(args.out / "loglik_norm.json", result)
    for k, v in result.items():
        print(f"{k:>30}: {v}")
    ok = result["speedup_vs_lm_eval"] >= 3.0 and result["argmax_agreement_norm"] >= 0.99
    print("TARGETS MET" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
