"""The README's main job as a user runs it: `proteinlm bench --model smollm2 --bench sample` in
`loglik` mode, in a fresh process. Prints wall time (model load included) and peak RSS.
Targets: < 2 minutes on 2 cores, < 2 GB RSS. Also runs `generate` for its peak RSS.

    python benchmarks/bench_sample_run.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_json


def run(method: str, out: Path) -> tuple[float, float]:
    cmd = [sys.executable, "-m", "proteinlm.cli", "bench", "--model", "smollm2", "--bench", "sample",
           "--method", method, "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all children so far; runs go from smallest to largest
    return wall, max(peak_kb, before) / 1024


def main() -> None:
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("loglik", "loglik-norm", "generate"):
            wall, rss = run(method, Path(tmp) / method)
            result[method] = {"wall_s_including_load": round(wall, 1), "peak_rss_mb": round(rss)}
            print(f"{method:>12}: {wall:6.1f} s   peak RSS {rss:6.0f} MB")
    write_json(Path(__file__).parent / "results" / "sample_run.json", result)
    ok = result["loglik"]["wall_s_including_load"] < 120 and all(r["peak_rss_mb"] < 2048 for r in result.values())
    print("TARGETS MET" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
