"""Peak memory of `build uniprot` at the size of a whole Swiss-Prot release.

`bench_swissprot.py` measures speed on 200 MB; the memory target (peak RSS < 500 MB whatever the
input size) also needs what only grows with the input: the accessions seen (duplicates across
inputs), the token counter's word caches (every entry brings new words) and the ECoT candidates
kept until the end (at most `--per-ec` per EC number, so O(#ECs)). This script makes a workload
that exercises all three at release scale:

* `--entries` (default 572,000, the size of a current Swiss-Prot release) entries, drawn from the
  real entries of ../shared/data/swissprot with fresh accessions and entry names;
* every entry with an EC number gets one of `--ecs` (default 6,000, about the ECs Swiss-Prot
  entries name) EC numbers, in turn, so that every EC has more candidates than `--per-ec` keeps:
  the worst case for the ECoT heaps; an ENZYME file with those ECs goes with it.

The build runs on one core (and with `--workers 2`) in a child process, which reports its
resident memory after every chunk; the table shows how it grows with the entries read.

    python benchmarks/bench_swissprot_memory.py [--entries 572000] [--ecs 6000] [--workers 1]
        [--executor datatrove-local]   # the same build as datatrove tasks (uniprot/stages.py)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_swissprot import CHILD_ENV, real_entries, renamed, warm_tokenizer  # the same real entries, renamed alike

_EC = re.compile(r"EC=[0-9n.-]+")


def ec_of(k: int) -> str:
    return f"{k // 1000 + 1}.{k // 100 % 10 + 1}.{k // 10 % 10 + 1}.{k % 10 + 1}"


def make_enzyme_file(path: Path, n_ecs: int) -> None:
    with path.open("w") as out:
        for k in range(n_ecs):
            out.write(
                f"ID   {ec_of(k)}\nDE   Benchmark enzyme number {k}.\nAN   Benchmark hydrolase {k}.\n"
                f"CA   Substrate {k} + H(2)O = product {k} + a carboxylate.\n"
                "CC   -!- Hydrolyzes the benchmark substrate.\n//\n"
            )


def make_workload(path: Path, n_entries: int, n_ecs: int) -> int:
    entries = real_entries()
    with_ec = 0
    with path.open("w") as out:
        for n in range(1, n_entries + 1):
            e = renamed(entries[n % len(entries)], n)
            if "EC=" in e:
                e = _EC.sub(f"EC={ec_of(with_ec % n_ecs)}", e)
                with_ec += 1
            out.write(e)
    return with_ec


CHILD = r"""
import json, resource, sys, time
from proteinlm.dataset.engine.executors import ExecutorSpec
from proteinlm.dataset.uniprot.options import UniprotBuildOptions
from proteinlm.dataset.uniprot.stages import run_build
path, out, enzyme, workers, executor = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

seen, marks = [0], []
def progress(n):
    seen[0] += n
    marks.append((seen[0], round(rss_mb())))
t = time.perf_counter()
opts = UniprotBuildOptions(inputs=[path], out=out, enzyme=[enzyme], workers=workers)
# datatrove: one chunk task per worker (datatrove logs its own progress: no RSS marks then)
m = run_build(opts, ExecutorSpec(executor, tasks=workers), progress=progress if executor == "local" else None)
print(json.dumps({"entries": m["entries"], "ecot": m["rows"].get("sft/ecot/train", 0) + m["rows"].get("sft/ecot/validation", 0),
                  "wall_s": time.perf_counter() - t, "marks": marks,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=572_000)
    ap.add_argument("--ecs", type=int, default=6_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--executor", default="local", choices=("local", "datatrove-local"),
                    help="datatrove-local: the plan → chunks → ecot → merge chain, tasks = workers")
    args = ap.parse_args()
    # a first run's GGUF-to-tokenizer.json conversion imports torch: not the build's memory
    print(f"token counter ready in {warm_tokenizer():.1f} s (a first run converts and caches the tokenizer)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        work, enzyme = tmp / "sprot.dat", tmp / "enzyme.dat"
        t = time.perf_counter()
        with_ec = make_workload(work, args.entries, args.ecs)
        make_enzyme_file(enzyme, args.ecs)
        print(f"workload: {args.entries} entries ({with_ec} with an EC number, over {args.ecs} ECs), "
              f"{work.stat().st_size / 1e6:.0f} MB (made in {time.perf_counter() - t:.0f} s)")
        results = {}
        ok = True
        for workers in args.workers:
            res = subprocess.run([sys.executable, "-c", CHILD, str(work), str(tmp / f"out-{workers}"), str(enzyme), str(workers),
                                  args.executor],
                                 check=True, capture_output=True, text=True, env=CHILD_ENV)
            r = json.loads(res.stdout.strip().splitlines()[-1])
            shutil.rmtree(tmp / f"out-{workers}")  # ~5 GB of output per build
            marks = r.pop("marks")
            step = max(1, len(marks) // 8)
            growth = ", ".join(f"{n // 1000}k: {mb}" for n, mb in marks[::step] + marks[-1:])
            print(f"{args.executor}, workers {workers}: {r['entries']} entries, {r['ecot']} ECoT examples, wall {r['wall_s']:.0f} s, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB main, {r['workers_peak_rss_mb']:.0f} MB per worker")
            if marks:
                print(f"  main-process RSS (MB) after entries read: {growth}")
            ok &= max(r["peak_rss_mb"], r["workers_peak_rss_mb"]) < 500
            results[f"{args.executor}_workers_{workers}"] = {k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()}
    name = "swissprot_memory.json" if args.executor == "local" else f"swissprot_memory_{args.executor}.json"
    out = Path(__file__).parent / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"entries": args.entries, "ecs": args.ecs, **results}, indent=2) + "\n")
    print("TARGET MET (peak RSS < 500 MB)" if ok else "TARGET MISSED (peak RSS < 500 MB)")


if __name__ == "__main__":
    main()
