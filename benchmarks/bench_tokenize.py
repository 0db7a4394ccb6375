"""Tokenisation throughput: counting only vs counting + packing to disk, 1 and 2 workers.

Workload: ArticleTitle + AbstractText of the real MEDLINE file in ../shared/data/pubmed, repeated
until it holds >= --mb MB of text (the file alone is ~2 MB of abstracts). Repeating text lets the
BPE word cache hit more often than on fresh text, but a real corpus repeats most words anyway.
`pack` runs proteinlm's packer, which encodes through its per-word cache (dataset/steps/token_cache.py);
the last line gives that cache's speed on the distinct texts alone (cold) and on the repeats (warm).

Each configuration runs in fresh subprocesses, so the thread settings (read once, when the
tokenizers Rayon pool starts) really apply and no run warms the next one's caches:
  1 worker   : 1 process, RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false
  2 procs    : 2 processes, each with half the documents, single-threaded as above
  2 threads  : 1 process, RAYON_NUM_THREADS=2, TOKENIZERS_PARALLELISM=true (encode_batch splits
               a batch over the threads)
Timed: the tokenising loop only (tokenizer loading and reading the workload excluded); for
2 processes the wall time is the slower one's. Usage: python benchmarks/bench_tokenize.py [--mb 50]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
MEDLINE = REPO.parent / "shared" / "data" / "pubmed" / "medline16n0902.xml.gz"
BATCH = 256


def medline_texts(path: Path) -> list[str]:
    from lxml import etree

    texts = []
    with gzip.open(path, "rb") as fh:
        for _, el in etree.iterparse(fh, tag="Article"):
            title = "".join(el.findtext("ArticleTitle") or "")
            abstract = "\n".join("".join(a.itertext()) for a in el.iter("AbstractText"))
            if abstract:
                texts.append(f"{title}\n\n{abstract}".strip())
            el.clear()  # iterparse keeps the tree otherwise
    return texts


def build_workload(target_mb: float, path: Path) -> tuple[int, int]:
    base = medline_texts(MEDLINE)
    docs, size = 0, 0
    with path.open("w", encoding="utf-8") as fh:
        while size < target_mb * 1e6:
            for t in base:
                fh.write(json.dumps(t, ensure_ascii=False) + "\n")
                size += len(t.encode("utf-8"))
                docs += 1
    return docs, size


def worker(args) -> None:
    from proteinlm.dataset.steps.tokens import TokenCounter

    tok = TokenCounter("smollm2").tokenizer
    with open(args.data, encoding="utf-8") as fh:
        texts = [json.loads(line) for line in fh]
    share = len(texts) // args.parts
    texts = texts[args.part * share : (args.part + 1) * share if args.part < args.parts - 1 else None]
    t0 = time.perf_counter()
    if args.mode == "cached":
        # proteinlm's per-word cached counter (dataset/steps/token_cache.py): first over the distinct texts
        # (a cold cache: the honest figure for fresh text), then over the repeats (a warm cache)
        from proteinlm.dataset.steps.token_cache import WordCacheCounter

        counter = WordCacheCounter(tok)
        distinct = len(dict.fromkeys(texts))
        cold = sum(sum(counter.counts(texts[i : min(i + BATCH, distinct)])) for i in range(0, distinct, BATCH))
        cold_s = time.perf_counter() - t0
        warm = sum(sum(counter.counts(texts[i : i + BATCH])) for i in range(distinct, len(texts), BATCH))
        print(json.dumps({"tokens": cold + warm, "seconds": time.perf_counter() - t0, "cold_tokens": cold,
                          "cold_seconds": cold_s}))
        return
    if args.mode == "count":
        # the same call pack_documents makes: encode_batch without offsets where available
        encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
        tokens = 0
        for i in range(0, len(texts), BATCH):
            tokens += sum(len(e.ids) for e in encode(texts[i : i + BATCH], add_special_tokens=False))
    else:
        from proteinlm.dataset.steps.pack import pack_documents

        stats = pack_documents(texts, tok, args.out, seq_len=2048, eos_id=tok.token_to_id("<|endoftext|>"),
                               batch_size=BATCH, tokenizer_name="SmolLM2-135M-Instruct")
        tokens = stats.tokens - stats.documents  # text tokens only, comparable with counting
    print(json.dumps({"tokens": tokens, "seconds": time.perf_counter() - t0}))


def run_config(mode: str, procs: int, threads: int, data: Path, tmp: Path) -> dict:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true" if threads > 1 else "false")
    running = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", mode, "--part", str(k), "--parts", str(procs), "--data", str(data),
             "--out", str(tmp / f"{mode}-{procs}-{threads}-{k}")],
            env=env, stdout=subprocess.PIPE, text=True,
        )
        for k in range(procs)
    ]
    results = []
    for p in running:
        out, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"worker failed ({mode}, {procs} procs, {threads} threads)")
        results.append(json.loads(out.strip().splitlines()[-1]))
    tokens = sum(r["tokens"] for r in results)
    seconds = max(r["seconds"] for r in results)
    cores = procs * threads
    return {"mode": mode, "procs": procs, "threads": threads, "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_s": round(tokens / seconds), "tokens_per_s_per_core": round(tokens / seconds / cores)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=50)
    ap.add_argument("--worker", choices=["count", "pack", "cached"])
    ap.add_argument("--part", type=int, default=0)
    ap.add_argument("--parts", type=int, default=1)
    ap.add_argument("--data")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.worker:
        args.mode = args.worker
        return worker(args)

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        docs, size = build_workload(args.mb, tmp / "texts.jsonl")
        print(f"workload: {docs} documents, {size / 1e6:.1f} MB (built in {time.perf_counter() - t0:.1f} s); "
              f"{os.cpu_count()} CPUs")
        rows = []
        for mode in ("count", "pack"):
            for procs, threads in ((1, 1), (2, 1), (1, 2)):
                r = run_config(mode, procs, threads, tmp / "texts.jsonl", tmp)
                rows.append(r)
                print(f"{mode:5s} {procs} proc x {threads} thread: {r['tokens']:>10,} tokens in {r['seconds']:6.2f} s "
                      f"= {r['tokens_per_s'] / 1e6:.2f} M tok/s, {r['tokens_per_s_per_core'] / 1e6:.2f} M tok/s/core")
        by = {(r["mode"], r["procs"], r["threads"]): r["tokens_per_s"] for r in rows}
        for mode in ("count", "pack"):
            one = by[(mode, 1, 1)]
            print(f"{mode}: speed-up 1 -> 2 workers: processes x{by[(mode, 2, 1)] / one:.2f}, "
                  f"rayon threads x{by[(mode, 1, 2)] / one:.2f}")
        print(f"pack / count throughput (1 worker): {by[('pack', 1, 1)] / by[('count', 1, 1)]:.2f}")
        env = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        out = subprocess.run([sys.executable, __file__, "--worker", "cached", "--data", str(tmp / "texts.jsonl"),
                              "--out", str(tmp / "cached")], env=env, check=True, capture_output=True, text=True).stdout
        c = json.loads(out.strip().splitlines()[-1])
        plain = by[("count", 1, 1)]
        cold_rate = c["cold_tokens"] / c["cold_seconds"]
        warm_rate = (c["tokens"] - c["cold_tokens"]) / max(c["seconds"] - c["cold_seconds"], 1e-9)
        assert c["tokens"] == rows[0]["tokens"], "the cached counter must count exactly what the tokenizer counts"
        print(f"word-cache count, 1 core: cold (distinct texts) {cold_rate / 1e6:.2f} M tok/s = x{cold_rate / plain:.2f}; "
              f"warm {warm_rate / 1e6:.2f} M tok/s = x{warm_rate / plain:.2f} vs the tokenizer alone")
        rows.append({"mode": "cached", "procs": 1, "threads": 1, "tokens": c["tokens"], "cold_tokens_per_s": round(cold_rate),
                     "warm_tokens_per_s": round(warm_rate)})
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
