"""`build uniprot` on datatrove executors: the local build's bytes whatever the task or worker count,
resume per task (a failed chunk task is redone alone), the CLI and `build all` (subsets and
decontamination) on datatrove, and the Slurm chain built right (submission replaced)."""

import json
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proteinlm.cli import app
from proteinlm.dataset.engine.executors import ExecutorSpec
from proteinlm.dataset.uniprot import stages
from proteinlm.dataset.uniprot.options import UniprotBuildOptions
from proteinlm.dataset.uniprot.pipeline import build_uniprot, check_state
from proteinlm.dataset.uniprot.stages import make_executors, run_build

DATA = Path(__file__).parents[1].parent / "shared" / "data"
FIX = Path(__file__).parent / "fixtures"
pytestmark = [
    pytest.mark.skipif(not (DATA / "swissprot").is_dir(), reason="shared real data not found"),
    pytest.mark.skipif(stages.PipelineStep is object, reason="datatrove not installed (the scale extra)"),
]
runner = CliRunner()
SWISSPROT = sorted(str(p) for p in (DATA / "swissprot").iterdir())  # .dat, .xml, an old release; repeated proteins
ENZYME = sorted(str(p) for p in (DATA / "enzyme").iterdir()) + [str(FIX / "enzyme" / "real_entries_ecs.dat")]


def opts(out, **kw) -> UniprotBuildOptions:
    kw.setdefault("tokenizer", "none")
    kw.setdefault("shard_entries", 5)  # 17 proteins: 4 chunks
    return UniprotBuildOptions(inputs=SWISSPROT, out=str(out), enzyme=ENZYME, **kw)


def outputs(out) -> dict[str, bytes]:
    """Every output file's bytes, the manifest's with the build directory left out: what must not
    depend on how the build ran."""
    out = Path(out)
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
             if p.is_file() and ".state" not in p.parts}
    files["manifest.json"] = files["manifest.json"].replace(str(out).encode(), b"<out>")
    return files


def test_datatrove_local_gives_the_local_builds_bytes(tmp_path):
    local = build_uniprot(opts(tmp_path / "local"))
    assert local["entries"] == 17 and local["rows"]["sft/ecot/train"] + local["rows"]["sft/ecot/validation"] == 2
    want = outputs(tmp_path / "local")
    assert len([f for f in want if f.startswith("pretrain/swissprot/train-")]) == 8  # 4 chunks, JSONL.gz + Parquet
    for tasks, workers in ((1, 1), (3, 2), (8, 2)):  # more tasks than chunks: the extra tasks have nothing to do
        out = tmp_path / f"dt{tasks}"
        m = run_build(opts(out, workers=workers), ExecutorSpec("datatrove-local", tasks=tasks))
        assert outputs(out) == want, f"{tasks} tasks"
        assert m["skipped"] == local["skipped"] and m["entries"] == 17
        done = out / ".state" / "datatrove"
        assert len(list((done / f"chunks-{tasks}tasks" / "completions").iterdir())) == tasks
        assert sorted(p.name for p in (out / ".state" / "stage" / "uniprot" / "chunks").iterdir()) == [
            f"{k:05d}.pkl.gz" for k in range(4)]
        assert not list((out / ".state" / "stage" / "uniprot" / "items").iterdir())  # the pieces, once built, go
    # the ECoT reduce keeps at most per_ec per EC over all chunks, as the local build does
    capped = build_uniprot(opts(tmp_path / "local1", per_ec=1, shard_entries=2))
    m = run_build(opts(tmp_path / "dt_capped", per_ec=1, shard_entries=2, workers=2), ExecutorSpec("datatrove-local", tasks=4))
    assert m["rows"] == capped["rows"] and outputs(tmp_path / "dt_capped") == outputs(tmp_path / "local1")
    ecs = [json.loads(line)["ec"] for split in ("train", "validation") if (f := tmp_path / "dt_capped" / "sft" / "ecot" / f"{split}-00000.jsonl.gz").exists()
           for line in __import__("gzip").open(f, "rt")]
    assert len(ecs) == len(set(ecs)) >= 1


def test_failed_chunk_task_resumes_without_redoing_finished_ones(tmp_path):
    build_uniprot(opts(tmp_path / "whole"))
    o = opts(tmp_path / "o", workers=1)  # one worker: ranks run in order 0, 1, 2, 3
    spec = ExecutorSpec("datatrove-local", tasks=4)
    (tmp_path / "o").mkdir()
    check_state(tmp_path / "o", o)  # what run_build does first: claim the directory for these options
    plan, chunks, ecot, merge = make_executors(o, spec)
    plan.run()
    # chunk 2 (task 2's only chunk) cannot put its first shard in place: that task fails
    blocker = tmp_path / "o" / "pretrain" / "swissprot" / "train-00002.jsonl.gz"
    blocker.mkdir(parents=True)
    with pytest.raises(Exception):
        chunks.run()
    blocker.rmdir()
    logs = tmp_path / "o" / ".state" / "datatrove"
    stage = tmp_path / "o" / ".state" / "stage" / "uniprot"
    assert sorted(p.name for p in (logs / "chunks-4tasks" / "completions").iterdir()) == ["00000", "00001"]
    finished = [*(logs / "chunks-4tasks" / "completions").iterdir(), *(logs / "plan" / "completions").iterdir(),
                stage / "plan.pkl.gz", *(stage / "chunks" / f"{k:05d}.pkl.gz" for k in (0, 1)),
                *(tmp_path / "o" / "pretrain" / "swissprot").glob("train-0000[01].*")]
    assert len(finished) == 2 + 1 + 1 + 2 + 4
    before = {p: p.stat().st_mtime_ns for p in finished}
    assert not (stage / "chunks" / "00002.pkl.gz").exists() and not (tmp_path / "o" / "manifest.json").exists()
    time.sleep(0.05)  # mtimes would move if anything were rewritten
    m = run_build(opts(tmp_path / "o", workers=2), spec)
    assert {p: p.stat().st_mtime_ns for p in finished} == before
    assert sorted(p.name for p in (logs / "chunks-4tasks" / "completions").iterdir()) == ["00000", "00001", "00002", "00003"]
    assert m["entries"] == 17 and outputs(tmp_path / "o") == outputs(tmp_path / "whole")
    # a merge killed after it moved export parts: the rerun rebuilds the exports from the shards
    (logs / "merge" / "completions" / "00000").unlink()
    (tmp_path / "o" / "manifest.json").unlink()
    parts = stage.parent.parent / "parts"
    assert not list(parts.iterdir())  # the merge moved every part into the exports
    run_build(opts(tmp_path / "o"), spec)
    assert outputs(tmp_path / "o") == outputs(tmp_path / "whole")
    # other options are refused while the directory holds datatrove work
    with pytest.raises(Exception, match="other options"):
        run_build(opts(tmp_path / "o", per_ec=3), spec)


def test_cli_and_build_all_run_uniprot_on_datatrove(tmp_path):
    args = ["build", "uniprot", *[a for p in SWISSPROT for a in ("-i", p)], *[a for p in ENZYME for a in ("--enzyme", p)],
            "--tokenizer", "none", "--shard-entries", "5"]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "cli"), "--executor", "datatrove-local", "--tasks", "2",
                              "--executor-opt", f"logging_dir={tmp_path / 'logs'}"])
    assert res.exit_code == 0, res.output
    assert "17 entries" in res.output and (tmp_path / "logs" / "uniprot" / "merge" / "completions" / "00000").is_file()
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "local")])
    assert res.exit_code == 0, res.output
    assert outputs(tmp_path / "cli") == outputs(tmp_path / "local")
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "bad"), "--executor", "datatrove-local", "--executor-opt", "no_such_setting=1"])
    assert res.exit_code == 2 and "no_such_setting" in res.output
    # build all: one logging_dir for two subsets, each keeps its own completion markers
    cfg = tmp_path / "build.yaml"
    cfg.write_text(f"uniprot:\n  inputs: {json.dumps(SWISSPROT)}\n  enzyme: {json.dumps(ENZYME)}\n"
                   f"bilingual:\n  inputs: [{FIX / 'literature' / 'bilingual.jsonl'}]\n"
                   f"decontaminate:\n  bench: [sample]\n"
                   f"executor:\n  type: datatrove-local\n  tasks: 2\n  logging_dir: {tmp_path / 'all_logs'}\n")
    from proteinlm.dataset.build_all import build_all

    m = build_all(cfg, tmp_path / "all", tokenizer="none")
    assert m["subsets"]["swissprot"]["documents"] > 0 and m["subsets"]["bilingual"]["documents"] == 3
    for subset in ("uniprot", "bilingual"):
        assert (tmp_path / "all_logs" / subset / "merge" / "completions" / "00000").is_file()
    assert (tmp_path / "all_logs" / "uniprot" / "chunks-2tasks" / "completions" / "00001").is_file()
    # the decontamination step scans the subsets' shards on the same executor
    scans = tmp_path / "all_logs" / "decontaminate" / "scan-2tasks" / "completions"
    assert sorted(p.name for p in scans.iterdir()) == ["00000", "00001"]
    assert m["decontamination"]["questions"] == 48 and "uniprot/sft/uniprot" in m["decontamination"]["subsets"]


SLURM = {"type": "slurm", "tasks": 8, "partition": "cpu", "time": "04:00:00", "cpus_per_task": 2,
         "env_command": "source /shared/venv/bin/activate", "merge": {"time": "24:00:00", "mem_per_cpu_gb": 16}}


def test_slurm_chain_is_built_and_submitted_with_dependencies(tmp_path, slurm_jobs):
    import dill
    from datatrove.executor import SlurmPipelineExecutor

    o = opts(tmp_path / "o")
    spec = ExecutorSpec.from_config(dict(SLURM))
    chain = make_executors(o, spec)
    assert all(type(e) is SlurmPipelineExecutor for e in chain)
    assert [type(e.pipeline[-1]).__name__ for e in chain] == ["PlanStage", "ChunkStage", "EcotStage", "MergeStage"]
    assert [e.tasks for e in chain] == [1, 8, 1, 1] and [e.depends for e in chain] == [None, *chain[:-1]]
    assert [e.time for e in chain] == ["24:00:00", "04:00:00", "24:00:00", "24:00:00"]
    assert chain[1].logging_dir.path == str(tmp_path / "o" / ".state" / "datatrove" / "chunks-8tasks")
    assert chain[0].mem_per_cpu_gb == 16 and chain[1].cpus_per_task == 2
    script = chain[1].get_launch_file_contents(chain[1].get_sbatch_args(8), "run")
    assert "#SBATCH --array=0-7" in script and "#SBATCH --partition=cpu" in script
    assert type(dill.loads(dill.dumps(chain[2])).pipeline[0]).__name__ == "EcotStage"  # what the job unpickles
    assert run_build(o, spec) is None
    assert [name for name, _ in slurm_jobs] == [f"proteinlm-uniprot-{s}" for s in ("plan", "chunks", "ecot", "merge")]
    deps = [d for _, d in slurm_jobs]
    assert deps[0] == [] and all(d and d[0].startswith("--dependency=afterok:") for d in deps[1:])
    shutil.rmtree(tmp_path / "o")


def test_an_empty_datatrove_build_stops_and_the_corrected_command_runs_in_the_same_directory(tmp_path):
    pubmed = str(DATA / "pubmed" / "pubmed1.xml")  # not a UniProt file: no entry read
    res = runner.invoke(app, ["build", "uniprot", "-i", pubmed, "--out", str(tmp_path / "o"), "--tokenizer", "none",
                              "--executor", "datatrove-local", "--tasks", "2"])
    assert res.exit_code == 2 and "no UniProt entry" in res.output and pubmed in res.output
    assert not (tmp_path / "o" / "manifest.json").exists()
    # the released directory takes the corrected command: no completion marker of the empty build is left to skip
    m = run_build(opts(tmp_path / "o"), ExecutorSpec("datatrove-local", tasks=2))
    build_uniprot(opts(tmp_path / "local"))
    assert m["entries"] == 17 and outputs(tmp_path / "o") == outputs(tmp_path / "local")
