"""`build decontaminate` on datatrove executors (datatrove-local, Slurm, Ray): the shard scans run as
datatrove tasks, task `rank` of `world_size` taking the shards `shards[rank::world_size]`
(`decontaminate.run_tasks`), each shard's result stored as the local run stores it; the merge
then runs here, finding every shard done. On Slurm the tasks are submitted and the command
returns; run it again once they have ended to merge (and to redo any task that failed).
`decontaminate_step` is the same run as a step of `build all`, on the config's executor.

Each task also marks itself complete in datatrove's logging dir (OUT/.state/datatrove/ by
default), but what counts is the stored shard results: a rerun skips done shards either way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from proteinlm.dataset.decontaminate.run import (
    DecontaminateOptions,
    check_state,
    decontaminate,
    load_done,
    make_plan,
    run_tasks,
)
from proteinlm.dataset.engine.executors import (
    ExecutorSpec,
    Stage,
    executor_chain,
    refuse_local_settings,
)
from proteinlm.dataset.engine.step_base import PipelineStep
from proteinlm.errors import ProteinLMError


class DecontaminateShards(PipelineStep):
    """Scan (and in drop mode rewrite) this task's shards; the stats count shards and hits."""

    type, name = "🧬 proteinlm", "decontaminate shards"

    def __init__(self, opts: DecontaminateOptions):
        super().__init__()
        self.opts = opts

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        plan = make_plan(self.opts)
        for result in run_tasks(plan, rank, world_size):
            self.stat_update("shards")
            self.stat_update("documents", value=result["documents"])
            self.stat_update("contaminated", value=len(result["contaminated"]))


def run_decontaminate(opts: DecontaminateOptions, spec: ExecutorSpec | None = None,
                      progress: Callable[[int], None] | None = None) -> dict | None:
    """Decontaminate on `spec` (default: local processes). Returns the report, or None when the
    scans were handed to Slurm and some are not done yet."""
    if spec is None or spec.type == "local":
        if spec is not None:
            refuse_local_settings(spec)
        return decontaminate(opts, progress)
    plan = make_plan(opts)  # bad inputs and a run dir of other options are refused before any task starts
    check_state(plan)
    tasks = max(1, min(spec.tasks or len(plan.shards), len(plan.shards)))
    # the task count is in the folder name: completion markers hold for one rank → shards mapping
    scan = Stage("scan", [DecontaminateShards(opts)], tasks, parallel=True, folder=f"scan-{tasks}tasks")
    (executor,) = executor_chain(spec, [scan], Path(opts.out) / ".state" / "datatrove", "decontaminate", opts.workers)
    executor.run()
    if any(load_done(plan, s) is None for s in plan.shards):
        return None
    return decontaminate(opts, progress)  # every shard is done: this only merges


def decontaminate_step(cfg: dict, base: Path, dirs: list[str], out: Path, workers: int,
                       spec: ExecutorSpec | None = None) -> tuple[dict, list[str]] | None:
    """The `decontaminate:` section of `build all` ({bench: [files or sample], provenance: [...],
    ngram: 13, mode: report|drop}, paths relative to the YAML's folder `base`) over the subset
    dirs just built; writes OUT/decontamination/. Returns (manifest section, the dirs to pack:
    the filtered copies in drop mode), or None when the scans were handed to Slurm (`spec`, the
    config's executor) and are not all done yet."""
    if not isinstance(cfg, dict):
        raise ProteinLMError(f"decontaminate: expected a mapping (bench, provenance, ngram, mode), not {cfg!r}")
    unknown = set(cfg) - {"bench", "provenance", "ngram", "mode"}
    if unknown:
        raise ProteinLMError(f"decontaminate: unknown keys {sorted(unknown)}")

    def paths(value) -> list[str]:
        items = value if isinstance(value, list) else ([] if value is None else [value])
        return [str(v) if str(v) == "sample" or Path(str(v)).is_absolute() else str((base / str(v)).resolve()) for v in items]

    if not dirs:
        raise ProteinLMError("decontaminate: no subset was built to decontaminate")
    target = out / "decontamination"
    opts = DecontaminateOptions(builds=dirs, benches=paths(cfg.get("bench")), provenance=paths(cfg.get("provenance")),
                                ngram=int(cfg.get("ngram", 13)), mode=str(cfg.get("mode", "report")),
                                workers=workers, out=str(target))
    report = run_decontaminate(opts, spec)
    if report is None:
        return None
    section = {"dir": "decontamination", "mode": opts.mode, "ngram": opts.ngram, **report["totals"],
               "subsets": {k: v["contaminated"] for k, v in report["subsets"].items()}}
    kept = [b["out"] for b in report["builds"]] if opts.mode == "drop" else dirs
    return section, kept
