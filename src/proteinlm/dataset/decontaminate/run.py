"""`proteinlm build decontaminate`: which benchmark questions a build's documents contain, and the
build without them.

    bench files ──► BenchNgrams (every question's n-grams, in memory: small)
    provenance  ──► source article ids of generated questions
    build dirs  ──► shards ──(one task per shard, `workers` processes or rank/world_size tasks)──►
                   .state/shards/<shard>.json ──(merge)──► decontamination.json (+ OUT/<build>/ in drop mode)

A question is contaminated when a document holds one of its n-grams (13 words by default, as the
GPT-3 and OLMo reports count overlap; normalisation in ngrams.py). Fields shorter than n words
have no n-gram: a question whose fields are all that short is reported as not checkable. A
document is dropped (mode "drop") when it holds an n-gram of any question or is the source
article of a generated question listed in a provenance file (`benchgen from-papers`).

Work is per shard and a pure function of the shard, so it runs on any number of processes or
datatrove tasks (`run_tasks(plan, rank, world_size)`) and merges into the same report. Each shard's
result is stored when done (after its filtered copy, in drop mode): a killed run skips done shards;
a shard whose file changed since is scanned again. Memory is one batch of documents per process.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from proteinlm import __version__
from proteinlm.dataset.decontaminate.ngrams import BenchNgrams
from proteinlm.dataset.decontaminate.shards import (
    Provenance,
    ShardRef,
    find_shards,
    scan_shard,
    write_without,
)
from proteinlm.errors import ProteinLMError

MODES = ("report", "drop")


@dataclass
class DecontaminateOptions:
    builds: list[str]
    benches: list[str]  # load_bench specs: paths or "sample"
    out: str
    provenance: list[str] = field(default_factory=list)
    ngram: int = 13
    mode: str = "report"
    workers: int = 1


@dataclass
class Plan:
    """What every task needs: the bench index, provenance ids, shards and where results go."""

    opts: DecontaminateOptions
    questions: list[dict]  # {"bench", "id"} per question index
    bench: BenchNgrams
    provenance: Provenance | None
    shards: list[ShardRef]
    names: list[str]  # per build: its folder's name, made unique
    drop_dirs: list[str | None]  # per build: OUT/<name> in drop mode
    sources: dict  # benches / provenance file info for the report

    @property
    def state(self) -> Path:
        return Path(self.opts.out) / ".state" / "shards"

    def result_path(self, shard: ShardRef) -> Path:
        return self.state / f"{shard.build:03d}-{shard.stem.replace('/', '__')}.json"


# ------------------------------------------------------------------------------- plan
def _load_benches(specs: list[str]) -> tuple[list[dict], list[list[str]], list[dict]]:
    from proteinlm.bench.loaders import load_bench

    questions, fields, info = [], [], []
    for spec in specs:
        b = load_bench(spec)
        info.append({"name": b.name, "source": b.source, "sha256": b.sha256, "questions": len(b.records)})
        for m in b.records:
            questions.append({"bench": b.name, "id": m.id})
            fields.append([m.question, *m.options, m.explanation or ""])
    return questions, fields, info


def load_provenance(paths: list[str]) -> tuple[Provenance | None, list[dict]]:
    """Article id / PMID (and the digits of a "PMID123" id) → generated question ids."""
    import re

    from proteinlm.dataset.steps.writers import file_info

    if not paths:
        return None, []
    by_key: dict[str, list[str]] = {}
    info = []
    for path in paths:
        if not Path(path).is_file():
            raise ProteinLMError(f"{path}: no such provenance file")
        articles: set[str] = set()
        n = 0
        with open(path, encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    art = rec.get("article") or {}
                    qid, aid, pmid = str(rec.get("id")), art.get("id"), art.get("pmid")
                except (json.JSONDecodeError, AttributeError) as exc:
                    raise ProteinLMError(f"{path}:{line_no}: not a provenance record ({exc})") from exc
                if not aid and not pmid:
                    raise ProteinLMError(f"{path}:{line_no}: question {qid} names no article id or pmid")
                keys = {str(k) for k in (aid, pmid) if k}
                if aid and (m := re.fullmatch(r"PMID(\d+)", str(aid))):
                    keys.add(m[1])
                for k in keys:
                    by_key.setdefault(k, []).append(qid)
                articles.add(str(aid or pmid))
                n += 1
        info.append(dict(file_info(Path(path)), questions=n, articles=len(articles)))
    return Provenance(by_key), info


def make_plan(opts: DecontaminateOptions) -> Plan:
    if opts.mode not in MODES:
        raise ProteinLMError(f"--mode must be report or drop, not {opts.mode!r}")
    if opts.ngram < 1:
        raise ProteinLMError(f"--ngram must be at least 1, not {opts.ngram}")
    if not opts.builds or not opts.benches:
        raise ProteinLMError("give at least one --build and one --bench")
    questions, fields, bench_info = _load_benches(opts.benches)
    bench = BenchNgrams.build(fields, opts.ngram)
    if not bench.grams:
        raise ProteinLMError(f"no field of any question has {opts.ngram} words: nothing to look for (try a smaller --ngram)")
    provenance, prov_info = load_provenance(opts.provenance)
    shards, drop_dirs, names = [], [], []
    for b, d in enumerate(opts.builds):
        if not Path(d).is_dir():
            raise ProteinLMError(f"{d}: no such build directory")
        found = find_shards(b, d)
        if not found:
            raise ProteinLMError(f"{d}: no shards (pretrain/*/ or sft/*/ <split>-NNNNN.jsonl.gz or .parquet): not a build directory?")
        shards += found
        name = Path(d).resolve().name
        while name in names:  # two builds of the same name: the second gets a suffix
            name += f"-{b}"
        names.append(name)
        drop_dirs.append(str(Path(opts.out) / name) if opts.mode == "drop" else None)
        if opts.mode == "drop" and Path(opts.out).resolve() == Path(d).resolve():
            raise ProteinLMError(f"{d}: --out must not be the build itself (drop mode writes a new copy)")
    return Plan(opts, questions, bench, provenance, shards, names, drop_dirs,
                {"benches": bench_info, "provenance": prov_info})


def check_state(plan: Plan) -> None:
    """A resumed run must look for the same n-grams in the same builds."""
    o = plan.opts
    want = json.dumps({"ngram": o.ngram, "mode": o.mode, "builds": [str(Path(b).resolve()) for b in o.builds],
                       "benches": [b["sha256"] for b in plan.sources["benches"]],
                       "provenance": [p["sha256"] for p in plan.sources["provenance"]]}, sort_keys=True)
    fp = Path(o.out) / ".state" / "options.json"
    plan.state.mkdir(parents=True, exist_ok=True)
    if fp.exists() and fp.read_text() != want:
        raise ProteinLMError(f"{o.out} holds a decontamination run with other options ({fp}); use a new --out or delete it")
    fp.write_text(want)


# ------------------------------------------------------------------------------- per-shard tasks
def load_done(plan: Plan, shard: ShardRef) -> dict | None:
    """The stored result of a shard, unless missing, made from a shard file that has changed, or
    (drop mode) its filtered copy is gone."""
    p = plan.result_path(shard)
    if not p.is_file():
        return None
    result = json.loads(p.read_text())
    root = plan.drop_dirs[shard.build]
    if root is not None and not all((Path(root) / f"{shard.stem}.{fmt}").is_file() for fmt in shard.formats):
        return None
    return result if result.get("signature") == shard.signature() else None


def run_shard(plan: Plan, shard: ShardRef) -> dict:
    """Scan one shard, write its filtered copy (drop mode), then store the result (last: the
    shard counts as done only now)."""
    from proteinlm.dataset.steps.writers import write_bytes_atomic

    done = load_done(plan, shard)
    if done is not None:
        return done
    result = scan_shard(shard, plan.bench, plan.provenance)
    root = plan.drop_dirs[shard.build]
    if root is not None:
        write_without(shard, {c["row"] for c in result["contaminated"]}, Path(root))
    write_bytes_atomic(plan.result_path(shard), json.dumps(result).encode())
    return result


def run_tasks(plan: Plan, rank: int = 0, world_size: int = 1) -> list[dict]:
    """Task `rank` of `world_size`: the shards plan.shards[rank::world_size] (any process, any
    machine that sees the files; datatrove's own file sharding does the same)."""
    return [run_shard(plan, s) for s in plan.shards[rank::world_size]]


_worker: dict = {}


def _init_worker(plan: Plan) -> None:
    _worker["plan"] = plan


def _pool_task(index: int) -> dict:
    plan = _worker["plan"]
    return run_shard(plan, plan.shards[index])


# ------------------------------------------------------------------------------- the run
def decontaminate(opts: DecontaminateOptions, progress: Callable[[int], None] | None = None) -> dict:
    """Scan (or resume) every shard of the builds, merge, write OUT/decontamination.json (and the
    builds without their contaminated documents in drop mode); returns the report."""
    started = time.perf_counter()
    plan = make_plan(opts)
    out = Path(opts.out)
    check_state(plan)
    todo = [i for i, s in enumerate(plan.shards) if load_done(plan, s) is None]
    resumed = len(plan.shards) - len(todo)
    if opts.workers > 1 and len(todo) > 1:
        with mp.get_context("spawn").Pool(min(opts.workers, len(todo)), _init_worker, (plan,)) as pool:
            for _ in pool.imap_unordered(_pool_task, todo):
                if progress:
                    progress(1)
    else:
        for i in todo:
            run_shard(plan, plan.shards[i])
            if progress:
                progress(1)
    results = [load_done(plan, s) for s in plan.shards]
    if any(r is None for r in results):  # a shard changed while the run was going on
        raise ProteinLMError(f"{out}: a shard changed during the run; run the command again")
    from proteinlm.dataset.decontaminate.report import (
        build_report,
        write_drop_manifests,
    )

    report = build_report(plan, results)
    report["run"] = {"wall_time_s": round(time.perf_counter() - started, 3), "workers": opts.workers,
                     "shards_scanned": len(plan.shards) - resumed, "shards_resumed": resumed, "version": __version__}
    if opts.mode == "drop":
        write_drop_manifests(plan, results, report)
    from proteinlm.dataset.steps.writers import write_bytes_atomic

    write_bytes_atomic(out / "decontamination.json", (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode())
    return report
