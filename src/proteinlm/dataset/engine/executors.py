"""Where a build runs: `ExecutorSpec` (local processes, or datatrove's local, Slurm and Ray
executors with their settings) and the datatrove executor class it names, its settings checked
against that class's arguments. The pipelines that run on them: `literature/stages.py` and
`decontaminate/executors.py`.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path

from proteinlm.errors import ProteinLMError

EXECUTORS = ("local", "datatrove-local", "slurm", "ray")
_RESERVED = {"pipeline", "tasks", "depends", "depends_job_id"}  # set by the pipeline, per stage


@dataclass
class ExecutorSpec:
    """Where a build runs (literature subsets, decontamination). `settings` go to the datatrove
    executor as keyword arguments (e.g. partition, time, cpus_per_task, env_command for Slurm);
    `merge` overrides them for the one-task stages (context, merge), which need more time and memory."""

    type: str = "local"
    tasks: int | None = None  # datatrove tasks per parallel stage; default one per input file
    settings: dict = field(default_factory=dict)
    merge: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: dict | str | None) -> "ExecutorSpec":
        """From the `executor:` section of a build config: a type name, or
        {type, tasks, merge: {...}, any datatrove executor argument...}."""
        if cfg is None:
            return cls()
        if isinstance(cfg, str):
            return cls(type=cfg)
        if not isinstance(cfg, dict):
            raise ProteinLMError(f"executor: expected a type name or a mapping, not {cfg!r}")
        rest = dict(cfg)
        spec = cls(type=str(rest.pop("type", "local")), tasks=rest.pop("tasks", None), merge=dict(rest.pop("merge", None) or {}))
        spec.settings = rest
        return spec

    @classmethod
    def from_cli(cls, type: str, tasks: int | None, options: list[str] | None) -> "ExecutorSpec":
        """`--executor-opt key=value`: values are JSON when they parse (numbers, true/false),
        strings otherwise (so `time=04:00:00` stays a string); `merge.key=value` for the
        one-task stages."""
        spec = cls(type=type, tasks=tasks)
        for item in options or []:
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise ProteinLMError(f"--executor-opt {item!r}: expected KEY=VALUE")
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw
            key = key.strip()
            if key.startswith("merge."):
                spec.merge[key[len("merge."):]] = value
            else:
                spec.settings[key] = value
        return spec


def _require(module: str, hint: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ProteinLMError(f"{hint} needs the `{module}` package: pip install {'proteinlm[scale]' if module == 'datatrove' else module}")


def _executor_class(kind: str):
    _require("datatrove", f"--executor {kind}")
    if kind == "datatrove-local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor
    if kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        return SlurmPipelineExecutor
    if kind == "ray":
        _require("ray", "--executor ray")
        from datatrove.executor import RayPipelineExecutor

        return RayPipelineExecutor
    raise ProteinLMError(f"unknown executor {kind!r} (one of {', '.join(EXECUTORS)})")


def _check_settings(cls, spec: ExecutorSpec) -> None:
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"} - _RESERVED
    for where, settings in (("executor", spec.settings), ("executor merge", spec.merge)):
        unknown = sorted(set(settings) - accepted)
        if unknown:
            raise ProteinLMError(f"{where} settings {unknown} are not arguments of datatrove's {cls.__name__} "
                                 f"(accepted: {', '.join(sorted(accepted))})")
    if spec.type == "slurm":
        missing = [k for k in ("partition", "time") if k not in spec.settings]
        if missing:
            raise ProteinLMError(f"--executor slurm needs {' and '.join(missing)} (e.g. --executor-opt partition=cpu "
                                 f"--executor-opt time=04:00:00, or executor: {{partition: ..., time: ...}} in the config)")
        if not all(isinstance(s.get("time", ""), str) for s in (spec.settings, spec.merge)):
            # YAML reads an unquoted 04:00:00 as 14400 (base 60), which Slurm would take as minutes
            raise ProteinLMError('slurm time must be a string such as "04:00:00" (quote it in YAML)')


@dataclass
class Stage:
    """One executor of a build's chain. `parallel` stages run with the executor's settings and
    `--workers` processes (datatrove-local); the others with the `merge` settings, one process.
    `folder`: its logging folder under the chain's (default: its name); name the task count in it
    where the completion markers hold for one task → work mapping."""

    name: str
    pipeline: list
    tasks: int = 1
    parallel: bool = False
    folder: str | None = None


def executor_chain(spec: ExecutorSpec, stages: list[Stage], logs: Path, label: str, workers: int) -> list:
    """The datatrove executors of `stages`, each depending on the one before; nothing is started.
    Their logs and completion markers go under `logs`, or under `<logging_dir>/<label>` where the
    settings name one (one logging_dir serves every subset of `build all`: each keeps its own
    markers); Slurm jobs are named `<job_name>-<label>-<stage>`."""
    cls = _executor_class(spec.type)
    _check_settings(cls, spec)
    base = dict(spec.settings)
    shared = base.pop("logging_dir", None)
    logs = Path(shared) / label if shared else Path(logs)
    job_name = base.pop("job_name", "proteinlm")
    chain: list = []
    for stage in stages:
        kw = dict(base) if stage.parallel else dict(base, **spec.merge)
        if spec.type == "datatrove-local":
            kw.setdefault("workers", workers if stage.parallel else 1)
        if spec.type == "slurm":
            kw["job_name"] = f"{job_name}-{label}-{stage.name}"
        chain.append(cls(pipeline=stage.pipeline, tasks=stage.tasks, logging_dir=str(logs / (stage.folder or stage.name)),
                         depends=chain[-1] if chain else None, **kw))
    return chain


def refuse_local_settings(spec: ExecutorSpec) -> None:
    """`--executor local` takes no datatrove settings: say so rather than ignore them."""
    if spec.settings or spec.merge:
        raise ProteinLMError("executor settings are for datatrove executors (--executor datatrove-local|slurm|ray)")


def run_chain(chain: list, out: Path) -> dict | None:
    """Run a build's chain (the last executor runs, or on Slurm submits, its dependencies first).
    Returns the manifest its last stage wrote to OUT, or None while the jobs are queued (rerun the
    command once they have ended: finished tasks are skipped)."""
    last = chain[-1]
    last.run()
    if not last.is_rank_completed(0):
        return None
    return json.loads((Path(out) / "manifest.json").read_text())
