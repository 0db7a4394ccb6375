"""Does fine-tuning on the built SFT data help on questions about proteins never seen in training?

Runs the user's commands end to end on the real Swiss-Prot and ENZYME entries of ../shared/data:

  1. proteinlm build uniprot      (split by accession hash; --val-fraction 0.5 so enough proteins are held out)
  2. proteinlm benchgen from-uniprot --split validation    (template MCQs on held-out proteins only)
  3. proteinlm bench  (SmolLM2 before)
  4. proteinlm train sft --model smollm2 --data BUILD      (train split only)
  5. proteinlm bench  (the trained model, RUN/final)

and prints both accuracies with 95% Wilson intervals, McNemar's exact test on the paired answers,
and how many questions a difference of the observed size (or of 10 points, if none was observed)
would need to be significant (two-proportion test, alpha 0.05, power 0.8).

    python benchmarks/train_gain.py [--steps 60] [--lora] [--method loglik] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"


def sh(cmd: list[str]) -> None:
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (b: only before right, c: only after)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(0, min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def questions_needed(p1: float, p2: float, z_a: float = 1.959964, z_b: float = 0.841621) -> int:
    """Questions per arm for a two-proportion test to detect p1 -> p2 (alpha 0.05 two-sided, power 0.8)."""
    pbar = (p1 + p2) / 2
    num = (z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
    return math.ceil(num / (p2 - p1) ** 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--lora", action="store_true", help="LoRA (merged) instead of full fine-tuning")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--method", default="loglik")
    ap.add_argument("--max-length", type=int, default=384)
    ap.add_argument("--keep", type=Path, default=None, help="keep the work directory here")
    args = ap.parse_args()
    inputs = sorted((DATA / "swissprot").glob("*.txt")) + [DATA / "swissprot" / "sp016"]
    if not (DATA / "swissprot").is_dir():
        sys.exit(f"needs the real entries in {DATA}")
    cli = [sys.executable, "-m", "proteinlm"]
    work = args.keep or Path(tempfile.mkdtemp(prefix="proteinlm-gain-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        build, questions = work / "build", work / "heldout.json"
        sh(cli + ["build", "uniprot", *[a for f in inputs for a in ("-i", str(f))],
                  *[a for f in sorted((DATA / "enzyme").glob("*.txt")) for a in ("--enzyme", str(f))],
                  "--val-fraction", "0.5", "--out", str(build)])
        sh(cli + ["benchgen", "from-uniprot", "--build", str(build), "--split", "validation", "--out", str(questions)])
        # Same kind of questions on the proteins trained on: shows whether training moved the model at all.
        seen = work / "seen.json"
        sh(cli + ["benchgen", "from-uniprot", "--build", str(build), "--split", "train", "--out", str(seen)])
        sh(cli + ["bench", "--model", "smollm2", "--bench", str(questions), "--method", args.method, "--out", str(work / "before")])
        sh(cli + ["bench", "--model", "smollm2", "--bench", str(seen), "--method", args.method, "--out", str(work / "before-seen")])
        train = cli + ["train", "sft", "--model", "smollm2", "--data", str(build), "--out", str(work / "run"),
                       "--max-steps", str(args.steps), "--batch-size", "2", "--max-length", str(args.max_length),
                       "--save-steps", str(max(args.steps, 1))]
        if args.lora:
            train.append("--lora")
        if args.lr:
            train += ["--lr", str(args.lr)]
        sh(train)
        final = str(work / "run" / "final")
        sh(cli + ["bench", "--model", final, "--bench", str(questions), "--method", args.method, "--out", str(work / "after")])
        sh(cli + ["bench", "--model", final, "--bench", str(seen), "--method", args.method, "--out", str(work / "after-seen")])
        report(work, args, time.perf_counter() - started)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def seen_result(work: Path) -> dict:
    """Accuracy before/after on questions about the proteins trained on (a check that training did something)."""
    out = {}
    for name in ("before-seen", "after-seen"):
        preds = [json.loads(x) for x in (work / name / "predictions.jsonl").open()]
        k, n = sum(bool(p["correct"]) for p in preds), len(preds)
        out[name.split("-")[0]] = {"correct": k, "n": n, "accuracy": k / n, "ci95": wilson(k, n)}
    return out


def report(work: Path, args, wall: float) -> None:
    def preds(run: str) -> dict[str, bool]:
        return {p["id"]: bool(p["correct"]) for p in map(json.loads, (work / run / "predictions.jsonl").open())}

    before, after = preds("before"), preds("after")
    n = len(before)
    k0, k1 = sum(before.values()), sum(after.values())
    b = sum(before[q] and not after[q] for q in before)
    c = sum(after[q] and not before[q] for q in before)
    p0, p1 = k0 / n, k1 / n
    target = p1 if p1 > p0 else min(1.0, p0 + 0.10)
    need = questions_needed(p0, target) if target > p0 else None
    train = json.loads((work / "run" / "train_summary.json").read_text())
    stats = json.loads((work / "before" / "summary.json").read_text())
    result = {
        "questions": n, "heldout_proteins": len({q.split("-")[-1] for q in before}),
        "by_category": stats.get("per_category"),
        "before": {"correct": k0, "accuracy": p0, "ci95": wilson(k0, n)},
        "after": {"correct": k1, "accuracy": p1, "ci95": wilson(k1, n)},
        "mcnemar": {"only_before": b, "only_after": c, "p_value": mcnemar_exact(b, c)},
        "seen_proteins": seen_result(work),
        "questions_needed_per_arm": need, "for_difference": round(target - p0, 4),
        "train": {k: train[k] for k in ("global_step", "train_loss", "wall_s", "lora", "data")},
        "steps": args.steps, "method": args.method, "wall_s": round(wall, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train_gain.json").write_text(json.dumps(result, indent=2) + "\n")
    lo0, hi0 = result["before"]["ci95"]
    lo1, hi1 = result["after"]["ci95"]
    print("\n| model | held-out questions | accuracy | 95% CI |\n|---|---|---|---|")
    print(f"| SmolLM2-135M-Instruct | {n} | {p0:.1%} ({k0}/{n}) | {lo0:.1%}–{hi0:.1%} |")
    print(f"| + SFT {args.steps} steps{' (LoRA)' if args.lora else ''} | {n} | {p1:.1%} ({k1}/{n}) | {lo1:.1%}–{hi1:.1%} |")
    for label, key in (("SmolLM2, trained-on proteins", "before"), ("+ SFT, trained-on proteins", "after")):
        r = result["seen_proteins"][key]
        print(f"| {label} | {r['n']} | {r['accuracy']:.1%} ({r['correct']}/{r['n']}) | {r['ci95'][0]:.1%}–{r['ci95'][1]:.1%} |")
    print(f"\nMcNemar exact p = {result['mcnemar']['p_value']:.3f} (only before right: {b}, only after right: {c})")
    if need:
        print(f"a difference of {target - p0:+.1%} needs ≈ {need} questions per arm to be significant (α 0.05, power 0.8)")
    print(f"train: {train['global_step']} steps, loss {train['train_loss']:.3f}, {train['wall_s']:.0f} s; total {wall:.0f} s")


if __name__ == "__main__":
    main()
