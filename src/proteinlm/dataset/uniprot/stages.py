"""`build uniprot` past one machine: the same chunks, as datatrove tasks.

    plan (1) → chunks (N) → ecot (1: the cap-per-EC reduce) → merge (1)

- plan: reads ENZYME/SIFTS (`enzyme_context`), cuts the inputs into entry items and skips repeated
  accessions exactly as the local build does (`pipeline.entry_items`), and stores chunk k's items
  (`shard_entries` of them) as OUT/.state/stage/uniprot/items/NNNNN.pkl.gz, with what cutting
  reported for each chunk and the inputs' hashes.
- chunks: task `rank` of `world_size` builds chunks `k ≡ rank (mod world_size)` with the local
  build's own `run_chunk`: chunk k writes shard k of every output and its SFT export parts, and
  stores its stats (chunks/NNNNN) and its ECoT candidates (candidates/NNNNN). A chunk already
  stored is not redone, so a task killed half-way loses only the chunk it was on, and a rerun
  with another task count reuses every stored chunk.
- ecot: the reduce that needs every entry: all stored candidates, in chunk order, through
  `EnzymeContext.examples` (at most `per_ec` per EC, by a seeded hash: order-free), into the
  ECoT shards.
- merge: the export parts appended in chunk order, then ECoT's; the manifest by the local
  build's `manifest_of`. The output is byte-identical to `--executor local` whatever the task or
  worker count (tests/test_build_uniprot_stages.py).

Why datatrove: see `literature/stages.py`. Stage files are kept after the build (a rerun skips
everything); delete OUT/.state/stage and OUT/.state/datatrove to reclaim the space or force a redo.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

from proteinlm.dataset.engine.executors import (
    ExecutorSpec,
    Stage,
    executor_chain,
    refuse_local_settings,
    run_chain,
)
from proteinlm.dataset.engine.stage_results import dump, load
from proteinlm.dataset.engine.step_base import PipelineStep
from proteinlm.dataset.steps.sft_exports import SftExports, shard_rows
from proteinlm.dataset.steps.writers import remove_temporaries
from proteinlm.dataset.uniprot import pipeline
from proteinlm.dataset.uniprot.candidate_store import DiskStore
from proteinlm.dataset.uniprot.chunks import (
    SPLITS,
    init_worker,
    run_chunk,
    set_direct_exports,
)
from proteinlm.dataset.uniprot.enzyme_context import enzyme_context
from proteinlm.dataset.uniprot.options import UniprotBuildOptions


def stage_dir(opts: UniprotBuildOptions) -> Path:
    return Path(opts.out) / ".state" / "stage" / "uniprot"


def _file(opts: UniprotBuildOptions, kind: str, index: int) -> Path:
    return stage_dir(opts) / kind / f"{index:05d}.pkl.gz"


class _Step(PipelineStep):
    type = "🧬 proteinlm"

    def __init__(self, opts: UniprotBuildOptions):
        super().__init__()
        self.opts = opts


class PlanStage(_Step):
    """plan: the ENZYME context, the inputs cut into chunks of items, what cutting reported."""

    name = "uniprot plan"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        opts = self.opts
        enzyme_skipped: list[str] = []
        ctx = enzyme_context(opts, enzyme_skipped)
        hashed: dict = {}
        read: Counter = Counter({path: 0 for path in opts.inputs})
        messages: list[str] = []  # what cutting and XML/TSV parsing report, per chunk
        per_chunk: list[list[str]] = []
        buffer: list = []

        def flush() -> None:
            dump(_file(opts, "items", len(per_chunk)), buffer)
            per_chunk.append(messages[:])
            messages.clear()  # the same list: entry_items reports into it
            buffer.clear()
            self.stat_update("chunks")

        for item in pipeline.entry_items(opts, messages, hashed, read):
            buffer.append(item)
            if len(buffer) >= opts.shard_entries:
                flush()
        if buffer:
            flush()
        self.stat_update("items", value=sum(read.values()))
        dump(stage_dir(opts) / "context.pkl.gz", ctx)
        dump(stage_dir(opts) / "plan.pkl.gz", {
            "chunks": len(per_chunk), "messages": per_chunk, "trailing": messages, "enzyme_skipped": enzyme_skipped,
            "read": dict(read), "inputs": [pipeline.input_info(p, hashed) for p in opts.inputs], "mapped": ctx.mapped,
        })


class ChunkStage(_Step):
    """chunks: this task's share of the chunks, each built by `run_chunk` and stored."""

    name = "uniprot chunks"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        opts = self.opts
        plan = load(stage_dir(opts) / "plan.pkl.gz")
        mine = range(plan["chunks"])[rank::world_size]
        todo = [k for k in mine if not _file(opts, "chunks", k).is_file()]
        self.stat_update("chunks_stored_before", value=len(mine) - len(todo))
        if not todo:
            return
        init_worker(opts, plan["mapped"])
        set_direct_exports(None)  # export parts go to files, appended by the merge
        for k in todo:
            items_file = _file(opts, "items", k)
            with self.track_time("chunk"):
                result = run_chunk(k, load(items_file), True)
            dump(_file(opts, "candidates", k), result.candidates)
            result.candidates = []
            dump(_file(opts, "chunks", k), result)  # last: the chunk counts as done only now
            items_file.unlink()  # its text is in the shards now; a plan rerun writes it again
            self.stat_update("chunks_done")
            self.stat_update("entries", value=result.stats.entries)


class EcotStage(_Step):
    """ecot: the cap-per-EC reduce over every chunk's candidates, into the ECoT shards."""

    name = "uniprot ecot reduce"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        opts = self.opts
        plan = load(stage_dir(opts) / "plan.pkl.gz")
        ctx = load(stage_dir(opts) / "context.pkl.gz")
        init_worker(opts, plan["mapped"])
        set_direct_exports(None)
        seen = Counter()

        def candidates() -> Iterator:
            for k in range(plan["chunks"]):
                for entry in load(_file(opts, "candidates", k)):
                    seen["candidates"] += 1
                    yield entry

        parts: list[dict] = []
        with DiskStore(stage_dir(opts) / "ecot-candidates.pickle") as store:
            stats = pipeline.write_ecot(Path(opts.out), opts, ctx.examples(opts, candidates(), store), parts.append)
        self.stat_update("candidates", value=seen["candidates"])
        self.stat_update("examples", value=sum(sum(s.rows.values()) for s in stats))
        dump(stage_dir(opts) / "ecot.pkl.gz", (stats, parts))


class MergeStage(_Step):
    """merge: the SFT exports in chunk order, the checks of an empty build, the manifest."""

    name = "uniprot merge"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        opts = self.opts
        started = time.perf_counter()
        out = Path(opts.out)
        remove_temporaries(out)  # every chunk task has ended: what is left was killed half-way
        plan = load(stage_dir(opts) / "plan.pkl.gz")
        ecot_stats, ecot_parts = load(stage_dir(opts) / "ecot.pkl.gz")
        results = [load(_file(opts, "chunks", k)) for k in range(plan["chunks"])]  # stats only: small
        exports = SftExports(out, SPLITS)
        exports.start(None, {})
        # a merge killed half-way has moved some parts into its (discarded) exports already:
        # then the exports are rebuilt from the shards, through the same encoder
        parts = [p for r in results for p in r.exports.values()] + [p for ps in ecot_parts for p in ps.values()]
        exports.rebuild = not all(Path(f).is_file() for a, c, _ in parts for f in (a, c))
        skipped = list(plan["enzyme_skipped"])
        for r, messages in zip(results, plan["messages"]):
            skipped.extend(messages)
            skipped.extend(r.skipped)
            r.stats.exports = exports.append(r.exports)
        skipped.extend(plan["trailing"])
        for p in ecot_parts:
            exports.append(p)
        counts = exports.finish(lambda split: shard_rows(out, split))
        chunks = [r.stats for r in results]
        if not opts.allow_empty:  # an input without entries, or no entry read at all, stops the build
            pipeline.check_entries(out, plan["read"], skipped, chunks)
        manifest = pipeline.manifest_of(opts, out, chunks, ecot_stats, skipped, counts, plan["inputs"])
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        run = {"wall_time_s": round(time.perf_counter() - started, 3), "chunks_built": len(chunks), "executor": "datatrove"}
        (out / ".state" / "last_run.json").write_text(json.dumps(run) + "\n")
        self.stat_update("entries", value=manifest["entries"])


def make_executors(opts: UniprotBuildOptions, spec: ExecutorSpec) -> list:
    """The chain of datatrove executors for one build, first to last; nothing is started."""
    tasks = max(1, spec.tasks or opts.workers)
    stages = [
        Stage("plan", [PlanStage(opts)]),
        # the task count is in the folder name: completion markers hold for one rank → chunks mapping
        Stage("chunks", [ChunkStage(opts)], tasks, parallel=True, folder=f"chunks-{tasks}tasks"),
        Stage("ecot", [EcotStage(opts)]),
        Stage("merge", [MergeStage(opts)]),
    ]
    return executor_chain(spec, stages, Path(opts.out) / ".state" / "datatrove", "uniprot", opts.workers)


def run_build(opts: UniprotBuildOptions, spec: ExecutorSpec, progress=None) -> dict | None:
    """Run (or resume) `build uniprot` on `spec`. Returns the manifest, or None when the work was
    handed to Slurm (the chain's last job writes OUT/manifest.json; rerun the command to resume)."""
    if spec.type == "local":
        refuse_local_settings(spec)
        return pipeline.build_uniprot(opts, progress)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    pipeline.check_state(out, opts)  # inputs exist; refuse other options before any task starts
    return run_chain(make_executors(opts, spec), out)
