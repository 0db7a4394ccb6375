"""Literature builds past one machine: the per-file work runs as datatrove tasks.

Why datatrove (not a scheduler of our own, not Ray Data): its executors run the same pipeline
on local processes, Slurm job arrays or Ray, each task marks itself complete in
`logging_dir/completions/`, and a rerun skips completed tasks, which is resume per task for free.
Slurm is what most protein/NLP labs have; Ray Data would need a Ray cluster everywhere.

A build is a chain of datatrove executors, each depending on the previous one:

    [PubMed subsets:] events (N) → versions (1) → context (1) → docs (N) → [dedup_stages.py:] clean (N)
        → exact (N) → signatures (N) → buckets (one per band) → clusters (1) → filter (N) → merge (1)

- events/docs: task `rank` of `world_size` handles the input files `inputs[rank::world_size]`
  (datatrove's own file sharding) and stores each file's result (`_pubmed_events` / `_file_docs`,
  the very functions the local build runs) as OUT/.state/stage/<stage>/NNNNN.pkl.gz, NNNNN being
  the input's index. A file already stored is not redone, so a task killed half-way loses only
  the file it was on, and changing the task count reuses every stored file.
- versions: the stored events reduced to each PMID's last event (`pubmed_versions.py`, the
  local build's reduce), with its counts as datatrove stats; stored as OUT/.state/stage/versions.pkl.gz
  for the context stage (manifest section, check for inputs without records) and the docs tasks.
- context: `_context` once (PMC selection, the seq-in-text index; the versions as stored),
  pickled for the docs tasks.
- clean … merge: normalisation, length filter, exact and near dedup in shards, then shards and
  manifest by the local build's `output.write_build` (see dedup_stages.py): the output is
  byte-identical to `--executor local` whatever the task or worker count, where the two dedups
  agree (README, "Scaling out").

Stage files are kept after the build (they let a rerun skip all parsing); delete
OUT/.state/stage and OUT/.state/datatrove to reclaim the space or to force a full redo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from proteinlm.dataset.engine.executors import (
    ExecutorSpec,
    Stage,
    executor_chain,
    refuse_local_settings,
    run_chain,
)
from proteinlm.dataset.engine.stage_results import dump, load
from proteinlm.dataset.engine.step_base import PipelineStep
from proteinlm.dataset.literature import pipeline as lit
from proteinlm.dataset.literature.dedup_stages import dedup_stages
from proteinlm.dataset.literature.stage_files import (
    _stage_dir,
    _stage_file,
    _versions_file,
)

_STAGE_FNS = {"events": lit._pubmed_events, "docs": lit._file_docs}


def stored_results(opts: lit.LiteratureOptions, ctx: dict, fn: Callable, tasks: list) -> Iterator:
    """A `build_literature` mapper: the stored result of `fn` for each task, in task order."""
    stage = next(name for name, f in _STAGE_FNS.items() if f is fn)
    for index, _ in tasks:
        yield load(_stage_file(opts, stage, index))


# ------------------------------------------------------------------------------- datatrove steps


class FileStage(PipelineStep):
    """events/docs: the input files `inputs[rank::world_size]`, one stored result each."""

    type = "🧬 proteinlm"

    def __init__(self, opts: lit.LiteratureOptions, stage: str):
        super().__init__()
        self.opts, self.stage, self.name = opts, stage, f"literature {stage}"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        mine = list(enumerate(self.opts.inputs))[rank::world_size]
        todo = [t for t in mine if not _stage_file(self.opts, self.stage, t[0]).is_file()]
        self.stat_update("files_stored_before", value=len(mine) - len(todo))
        if not todo:
            return
        ctx = load(_stage_dir(self.opts) / "context.pkl.gz") if self.stage == "docs" else {}
        if self.stage == "docs" and self.opts.subset in ("pubmed", "seq_in_text"):
            ctx["last"] = load(_versions_file(self.opts))[0]
        lit._init_worker(self.opts, ctx)
        for task in todo:
            with self.track_time("file"):
                dump(_stage_file(self.opts, self.stage, task[0]), _STAGE_FNS[self.stage](task))
            self.stat_update("files_done")


class VersionsStage(PipelineStep):
    """versions: the stored events of every input, in input order, reduced to each PMID's last
    event (one task: the rule needs every earlier file); the result goes to the context stage and
    the docs tasks, its counts to datatrove's stats and (through the context stage) the manifest."""

    type, name = "🧬 proteinlm", "literature versions"

    def __init__(self, opts: lit.LiteratureOptions):
        super().__init__()
        self.opts = opts

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        versions = lit.reduce_versions(self.opts, stored_results)
        dump(_versions_file(self.opts), versions)
        for key, value in versions[1].as_dict().items():  # events: per input file, summed here
            self.stat_update(key, value=sum(value) if key == "events" else value)


class ContextStage(PipelineStep):
    """context: `_context` once, with the stored versions; its outputs go to the docs tasks and
    (skipped records, manifest sections) to the merge."""

    type, name = "🧬 proteinlm", "literature context"

    def __init__(self, opts: lit.LiteratureOptions):
        super().__init__()
        self.opts = opts

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        skipped: list[str] = []
        extra: dict = {}
        pubmed = self.opts.subset in ("pubmed", "seq_in_text")
        versions = load(_versions_file(self.opts)) if pubmed else None
        ctx = lit._context(self.opts, Path(self.opts.out), skipped, extra, stored_results, versions)
        ctx.pop("last", None)  # the docs tasks read it from the versions stage's file
        dump(_stage_dir(self.opts) / "context.pkl.gz", ctx)
        dump(_stage_dir(self.opts) / "prepared.pkl.gz", (skipped, extra))


def make_executors(opts: lit.LiteratureOptions, spec: ExecutorSpec) -> list:
    """The chain of datatrove executors for one build, first to last; nothing is started."""
    tasks = max(1, spec.tasks or len(opts.inputs))
    stages = [("context", [ContextStage(opts)], 1), ("docs", [FileStage(opts, "docs")], tasks)]
    if opts.subset in ("pubmed", "seq_in_text"):
        stages[:0] = [("events", [FileStage(opts, "events")], tasks), ("versions", [VersionsStage(opts)], 1)]
    stages += dedup_stages(opts, tasks)
    one_task = ("versions", "context", "clusters", "merge")
    # the task count is in the folder name where completion markers hold for one rank → files mapping
    chain = [Stage(name, pipeline, n, parallel=name not in one_task,
                   folder=name if name in ("versions", "context", "merge") else f"{name}-{tasks}tasks")
             for name, pipeline, n in stages]
    return executor_chain(spec, chain, Path(opts.out) / ".state" / "datatrove", opts.subset, opts.workers)


def run_build(opts: lit.LiteratureOptions, spec: ExecutorSpec,
              progress: Callable[[int], None] | None = None) -> dict | None:
    """Run (or resume) a build on `spec`. Returns the manifest, or None when the work was handed
    to Slurm (the chain's last job writes OUT/manifest.json; rerun the command to resume)."""
    if spec.type == "local":
        refuse_local_settings(spec)
        return lit.build_literature(opts, progress)
    lit.validate(opts)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    lit._check_state(out, opts)  # refuse other options before any task starts
    return run_chain(make_executors(opts, spec), out)
