"""Questions per second of `benchgen from-papers`' model steps against a scripted OpenAI-compatible
server that takes 1 s per request, at concurrency 1, 8 and 32.

Ours: the generate step (one call per chunk, JSON read and checked) then the re-answer step (three
calls per question: with the passage, closed-book, options-only), through the run cache and the
openai backend (its timeouts and retries), on real PMC chunks. Peer, measured in the same run: the
same number of bare requests through the `openai` client on as many threads, with nothing around
them: the most any client can get from this server. Target: ours >= 0.8 x concurrency / latency in
calls per second (questions/s is that divided by the 4 calls a question costs).
The embedding and index steps are not timed here (see bench_index.py): they use no server.

    python benchmarks/bench_benchgen.py [--latency 1.0] [--concurrency 1 8 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

import openai  # noqa: E402
from scripted_llm_server import ScriptedLLMServer  # noqa: E402

from proteinlm.benchgen.papers.cache import CallCache, LLMCaller  # noqa: E402
from proteinlm.benchgen.papers.chunk import chunk_article, read_articles  # noqa: E402
from proteinlm.benchgen.papers.generate import SCHEMA, generate_questions  # noqa: E402
from proteinlm.benchgen.papers.prompts import load_templates  # noqa: E402
from proteinlm.benchgen.papers.reanswer import answer_params, reanswer  # noqa: E402
from proteinlm.benchgen.papers.stages import StageCounts  # noqa: E402
from proteinlm.benchgen.papers.validate import validate  # noqa: E402
from proteinlm.models.base import GenerationParams  # noqa: E402
from proteinlm.models.openai_api import OpenAIBackend  # noqa: E402

PMC = REPO.parent / "shared" / "data" / "pmc"
CALLS_PER_QUESTION = 4


def chunks(n: int):
    base = [c for a in read_articles(sorted(PMC.glob("*.nxml")), lambda e: None) for c in chunk_article(a)]
    return [replace(base[i % len(base)], id=f"{base[i % len(base)].id}-{i}") for i in range(n)]


def ours(url: str, concurrency: int, n_chunks: int, tmp: Path) -> tuple[float, int, int]:
    """(seconds, questions kept, calls made) of generate + re-answer over n_chunks chunks."""
    backend = OpenAIBackend("bench", url, concurrency=concurrency, timeout=30, max_retries=2)
    cache = CallCache(tmp / f"calls-{concurrency}.sqlite")
    templates = load_templates()
    gen = LLMCaller(backend, cache, GenerationParams(max_new_tokens=512), json_schema=SCHEMA)
    val = LLMCaller(backend, cache, answer_params())
    work = chunks(n_chunks)
    t = time.perf_counter()
    generated = list(generate_questions(work, gen, templates, per_chunk=1, n_options=6, summarise=False,
                                        counts=StageCounts("generate")))
    cands = list(validate(generated, StageCounts("validate")))
    kept = list(reanswer(cands, val, templates["context"], StageCounts("reanswer")))
    seconds = time.perf_counter() - t
    cache.close()
    backend.close()
    return seconds, len(kept), sum(gen.asked.values()) + sum(val.asked.values())


def peer(url: str, concurrency: int, n_calls: int) -> float:
    client = openai.OpenAI(api_key="EMPTY", base_url=url, max_retries=0, timeout=30)

    def one(i: int) -> None:
        client.chat.completions.create(model="bench", max_tokens=16,
                                       messages=[{"role": "user", "content": f"Answer {i}"}])

    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(n_calls)))
    client.close()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = ap.parse_args()
    server = ScriptedLLMServer()
    server.delay = args.latency
    server.start()
    print(f"scripted server, {args.latency:g} s per request; {CALLS_PER_QUESTION} calls per question")
    print(f"{'conc':>4} {'chunks':>6} {'calls':>5} {'ours q/s':>8} {'ours calls/s':>12} {'peer calls/s':>12} "
          f"{'ideal':>6} {'ours/ideal':>10} {'ours/peer':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for conc in args.concurrency:
            n_chunks = max(8, 4 * conc)
            seconds, kept, calls = ours(server.base_url, conc, n_chunks, Path(tmp))
            peer_s = peer(server.base_url, conc, calls)
            ideal = conc / args.latency
            ours_cps, peer_cps = calls / seconds, calls / peer_s
            print(f"{conc:>4} {n_chunks:>6} {calls:>5} {kept / seconds:>8.2f} {ours_cps:>12.2f} {peer_cps:>12.2f} "
                  f"{ideal:>6.1f} {ours_cps / ideal:>10.2f} {ours_cps / peer_cps:>9.2f}")
    server.stop()


if __name__ == "__main__":
    main()
