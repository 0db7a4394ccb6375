"""`build decontaminate` on datatrove executors (datatrove-local, Slurm, Ray): the shard scans run as
datatrove tasks, task `rank` of `world_size` taking the shards `shards[rank::world_size]`
(`decontaminate.run_tasks`), each shard's result stored as the local run stores it; the merge
then runs here, finding every shard done. On Slurm the tasks are submitted and the command
returns; run it again once they have ended to merge (and to redo any task that failed).

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
