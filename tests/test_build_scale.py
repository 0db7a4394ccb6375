"""Scaling the literature builds: datatrove executors give the local build's output, resume per
task, Slurm/Ray executors are built right (not submitted), the local pool keeps a bounded number
of results in flight, and a SIGKILLed local build resumes to identical files."""

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proteinlm.cli import app
from proteinlm.dataset.engine import executors
from proteinlm.dataset.engine.executors import ExecutorSpec
from proteinlm.dataset.literature import pipeline as lit_pipeline
from proteinlm.dataset.literature import stages
from proteinlm.dataset.literature.pipeline import (
    LiteratureOptions,
    _pool_map,
    build_literature,
)
from proteinlm.dataset.literature.stages import make_executors, run_build
from proteinlm.errors import ProteinLMError

DATA = Path(__file__).parents[1].parent / "shared" / "data"
FIX = Path(__file__).parent / "fixtures" / "literature"
PUBMED = DATA / "pubmed"
PUBMED_INPUTS = [PUBMED / "pubmed1.xml", PUBMED / "pubmed2.xml", PUBMED / "test_current_medline.xml.gz",
                 PUBMED / "pubmed-29768149.xml", PUBMED / "medline16n0902.xml.gz", FIX / "pubmed_update.xml"]
needs_pubmed = pytest.mark.skipif(not PUBMED.is_dir(), reason="shared real data not found")
needs_datatrove = pytest.mark.skipif(stages.PipelineStep is object, reason="datatrove not installed (the scale extra)")
runner = CliRunner()


def opts(out, subset="pubmed", inputs=PUBMED_INPUTS, **kw):
    kw.setdefault("tokenizer", "none")
    kw.setdefault("shard_docs", 100)
    return LiteratureOptions(subset=subset, inputs=[str(p) for p in inputs], out=str(out), **kw)


def outputs(out):
    """Every shard's bytes and the manifest's: what must not depend on how the build ran."""
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(Path(out).glob("pretrain/*/train-*"))}
    return files, (Path(out) / "manifest.json").read_bytes()


# ------------------------------------------------------------------------------- datatrove local
@needs_pubmed
@needs_datatrove
def test_datatrove_local_gives_the_local_builds_bytes(tmp_path):
    local = build_literature(opts(tmp_path / "local", workers=1))
    dt = run_build(opts(tmp_path / "dt", workers=2), ExecutorSpec("datatrove-local", tasks=4))
    assert local["shards"] >= 4 and dt["documents"] == local["documents"] and dt["counts"] == local["counts"]
    assert outputs(tmp_path / "dt") == outputs(tmp_path / "local")
    done = tmp_path / "dt" / ".state" / "datatrove"
    assert sorted(p.name for p in (done / "events-4tasks" / "completions").iterdir()) == ["00000", "00001", "00002", "00003"]
    assert len(list((tmp_path / "dt" / ".state" / "stage" / "docs").glob("*.pkl.gz"))) == len(PUBMED_INPUTS)
    # pmc: the context stage (SIFTS selection) runs once and feeds the docs tasks
    pmc = sorted((DATA / "pmc").glob("*.nxml"))
    sel = dict(pdb_pubmed=[str(FIX / "pdb_pubmed.csv")], pmc_ids=[str(FIX / "PMC-ids.csv")])
    build_literature(opts(tmp_path / "pmc_local", "pmc", pmc, **sel))
    run_build(opts(tmp_path / "pmc_dt", "pmc", pmc, **sel), ExecutorSpec("datatrove-local", tasks=3))
    assert outputs(tmp_path / "pmc_dt") == outputs(tmp_path / "pmc_local")
    # seq_in_text: events, then the context stage builds the name index the docs tasks open
    seq = dict(uniprot=[str(DATA / "swissprot" / n) for n in ("multi_ex.txt", "Q13454.txt")], min_chars=100)
    pubs = [FIX / "pubmed_update.xml", PUBMED / "pubmed1.xml"]
    build_literature(opts(tmp_path / "seq_local", "seq_in_text", pubs, **seq))
    m = run_build(opts(tmp_path / "seq_dt", "seq_in_text", pubs, workers=2, **seq), ExecutorSpec("datatrove-local", tasks=2))
    assert m["documents"] == 2 and outputs(tmp_path / "seq_dt") == outputs(tmp_path / "seq_local")


@needs_pubmed
@needs_datatrove
def test_datatrove_failed_task_resumes_without_redoing_finished_ones(tmp_path):
    inputs = [tmp_path / p.name for p in PUBMED_INPUTS]
    for src, dst in zip(PUBMED_INPUTS, inputs):
        shutil.copy(src, dst)
    build_literature(opts(tmp_path / "whole", inputs=inputs))
    o = opts(tmp_path / "o", inputs=inputs, workers=1)  # one worker: ranks run in order 0, 1, 2, 3
    spec = ExecutorSpec("datatrove-local", tasks=4)
    (tmp_path / "o").mkdir()
    lit_pipeline._check_state(tmp_path / "o", o)  # what run_build does first: claim the directory for these options
    events, versions, context, docs, *dedup = make_executors(o, spec)
    context.run()  # runs events and versions first
    # the input of rank 2 (inputs[2::4] = [inputs[2]]) is cut short: that docs task fails
    good = inputs[2].read_bytes()
    inputs[2].write_bytes(good[: len(good) // 2])
    with pytest.raises(Exception, match=inputs[2].name):
        docs.run()
    inputs[2].write_bytes(good)
    logs = tmp_path / "o" / ".state" / "datatrove"
    stage = tmp_path / "o" / ".state" / "stage"
    assert sorted(p.name for p in (logs / "docs-4tasks" / "completions").iterdir()) == ["00000", "00001"]
    finished = [*(logs / "events-4tasks" / "completions").iterdir(), *(logs / "versions" / "completions").iterdir(),
                *(logs / "context" / "completions").iterdir(), *(logs / "docs-4tasks" / "completions").iterdir(),
                *(stage / "events").iterdir(), stage / "versions.pkl.gz", stage / "context.pkl.gz",
                *(stage / "docs" / f"{i:05d}.pkl.gz" for i in (0, 1, 4, 5))]
    assert len(finished) == 4 + 1 + 1 + 2 + 6 + 1 + 1 + 4
    before = {p: p.stat().st_mtime_ns for p in finished}
    assert not (stage / "docs" / "00002.pkl.gz").exists() and not (tmp_path / "o" / "manifest.json").exists()
    time.sleep(0.05)  # mtimes would move if anything were rewritten
    m = run_build(opts(tmp_path / "o", inputs=inputs, workers=2), spec)
    assert {p: p.stat().st_mtime_ns for p in finished} == before
    assert sorted(p.name for p in (logs / "docs-4tasks" / "completions").iterdir()) == ["00000", "00001", "00002", "00003"]
    assert m["documents"] > 0 and outputs(tmp_path / "o") == outputs(tmp_path / "whole")


@needs_datatrove
def test_cli_and_build_all_config_run_on_datatrove(tmp_path):
    res = runner.invoke(app, ["build", "bilingual", "-i", str(FIX / "bilingual.jsonl"), "--out", str(tmp_path / "b"),
                              "--tokenizer", "none", "--executor", "datatrove-local", "--tasks", "2",
                              "--executor-opt", f"logging_dir={tmp_path / 'logs'}", "--executor-opt", "skip_completed=true"])
    assert res.exit_code == 0, res.output
    assert "3 documents" in res.output and (tmp_path / "logs" / "bilingual" / "merge" / "completions" / "00000").is_file()
    res = runner.invoke(app, ["build", "bilingual", "-i", str(FIX / "bilingual.jsonl"), "--out", str(tmp_path / "c"),
                              "--executor", "datatrove-local", "--executor-opt", "no_such_setting=1"])
    assert res.exit_code == 2 and "no_such_setting" in res.output
    cfg = tmp_path / "build.yaml"
    cfg.write_text(f"bilingual:\n  inputs: [{FIX / 'bilingual.jsonl'}]\nexecutor:\n  type: datatrove-local\n  tasks: 2\n")
    from proteinlm.dataset.build_all import build_all

    m = build_all(cfg, tmp_path / "all", tokenizer="none")
    assert m["subsets"]["bilingual"]["documents"] == 3
    assert (tmp_path / "all" / "bilingual" / ".state" / "datatrove" / "merge" / "completions" / "00000").is_file()
    assert outputs(tmp_path / "all" / "bilingual") == outputs(tmp_path / "b")


# ------------------------------------------------------------------------------- slurm, ray
SLURM = {"type": "slurm", "tasks": 8, "partition": "cpu", "time": "04:00:00", "cpus_per_task": 2,
         "env_command": "source /shared/venv/bin/activate", "merge": {"time": "24:00:00", "mem_per_cpu_gb": 16}}


@needs_datatrove
def test_slurm_chain_is_built_and_submitted_with_dependencies(tmp_path, slurm_jobs):
    import dill
    from datatrove.executor import SlurmPipelineExecutor

    o = opts(tmp_path / "o", inputs=[FIX / "pubmed_update.xml"] * 3)
    spec = ExecutorSpec.from_config(dict(SLURM, logging_dir=str(tmp_path / "logs")))
    chain = make_executors(o, spec)
    assert all(type(e) is SlurmPipelineExecutor for e in chain)
    assert [type(e.pipeline[-1]).__name__ for e in chain] == [
        "FileStage", "VersionsStage", "ContextStage", "FileStage", "CleanStage", "ExactStage", "ShingleSignature", "MinhashDedupBuckets",
        "FirstKeptCluster", "KeptWriter", "MergeDedupStage"]
    # one task per MinHash band (9 × 13 rows, datasketch's choice for 0.8); the one-task stages get merge settings
    assert [e.tasks for e in chain] == [8, 1, 1, 8, 8, 8, 8, 9, 1, 8, 1]
    assert [e.time for e in chain] == ["24:00:00" if e.tasks == 1 else "04:00:00" for e in chain]
    assert {e.partition for e in chain} == {"cpu"} and chain[1].mem_per_cpu_gb == 16 and chain[0].cpus_per_task == 2
    assert [e.depends for e in chain] == [None, *chain[:-1]]
    assert chain[3].logging_dir.path == str(tmp_path / "logs" / "pubmed" / "docs-8tasks")
    assert chain[1].logging_dir.path == str(tmp_path / "logs" / "pubmed" / "versions")
    assert chain[-1].job_name == "proteinlm-pubmed-merge" and chain[0].env_command.startswith("source")
    script = chain[3].get_launch_file_contents(chain[3].get_sbatch_args(8), "run")
    assert "#SBATCH --partition=cpu" in script and "#SBATCH --time=04:00:00" in script and "#SBATCH --array=0-7" in script
    assert type(dill.loads(dill.dumps(chain[-1])).pipeline[0]).__name__ == "MergeDedupStage"  # what the jobs unpickle
    # run_build submits the chain (sbatch replaced by slurm_jobs), each job after the previous one, and returns
    assert run_build(o, spec) is None
    jobs = slurm_jobs
    assert [j[0] for j in jobs] == [f"proteinlm-pubmed-{s}" for s in ("events", "versions", "context", "docs", "clean", "exact",
                                                                      "signatures", "buckets", "clusters", "filter", "merge")]
    assert jobs[0][1] == [] and all(dep and dep[0].startswith("--dependency=afterok:") for _, dep in jobs[1:])


@needs_datatrove
def test_executor_settings_are_checked(tmp_path, monkeypatch):
    o = opts(tmp_path / "o", "bilingual", [FIX / "bilingual.jsonl"])
    with pytest.raises(ProteinLMError, match="partition"):
        make_executors(o, ExecutorSpec.from_config({"type": "slurm", "time": "1:00:00"}))
    with pytest.raises(ProteinLMError, match="quote"):
        make_executors(o, ExecutorSpec.from_config({"type": "slurm", "partition": "p", "time": 14400}))
    with pytest.raises(ProteinLMError, match="partitoin"):
        make_executors(o, ExecutorSpec.from_config({"type": "slurm", "partitoin": "p", "partition": "p", "time": "1:00"}))
    with pytest.raises(ProteinLMError, match="unknown executor"):
        make_executors(o, ExecutorSpec("dask"))
    with pytest.raises(ProteinLMError, match="datatrove executors"):
        run_build(o, ExecutorSpec("local", settings={"partition": "p"}))
    spec = ExecutorSpec.from_cli("slurm", 4, ["partition=gpu", "time=04:00:00", "cpus_per_task=4", "merge.time=2-00:00:00"])
    assert spec.settings == {"partition": "gpu", "time": "04:00:00", "cpus_per_task": 4} and spec.merge == {"time": "2-00:00:00"}
    # ray: a clear error without ray; with it, RayPipelineExecutors carrying the settings
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        with pytest.raises(ProteinLMError, match="pip install ray"):
            make_executors(o, ExecutorSpec("ray"))
    monkeypatch.setattr(executors, "_require", lambda module, hint: None)
    from datatrove.executor import RayPipelineExecutor

    chain = make_executors(o, ExecutorSpec.from_config({"type": "ray", "tasks": 3, "cpus_per_task": 2, "mem_per_cpu_gb": 4}))
    assert all(type(e) is RayPipelineExecutor for e in chain) and [e.tasks for e in chain] == [1, 3, 3, 3, 3, 9, 1, 3, 1]
    assert {e.cpus_per_task for e in chain} == {2} and chain[2].depends is chain[1]


def test_missing_datatrove_is_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "datatrove" else real(name, *a))
    with pytest.raises(ProteinLMError, match=r"proteinlm\[scale\]"):
        run_build(opts(tmp_path / "o", "bilingual", [FIX / "bilingual.jsonl"]), ExecutorSpec("datatrove-local"))


# ------------------------------------------------------------------------------- back-pressure
def _note_start(task):
    """Runs in a pool worker: appends the task's index to a log, so the parent can count starts."""
    index, log = task
    with open(log, "a") as fh:
        fh.write(f"{index}\n")
    return index


@pytest.mark.parametrize("ahead", [None, 1])
def test_pool_keeps_a_bounded_number_of_results_in_flight(tmp_path, ahead):
    log = tmp_path / "started.log"
    log.touch()
    tasks = [(i, str(log)) for i in range(16)]
    bound = ahead or 2 * 2  # default: twice the workers
    got, worst = [], 0
    for k, result in enumerate(_pool_map(opts(tmp_path, "bilingual", [], workers=2), {}, _note_start, tasks, ahead)):
        time.sleep(0.1)  # a slow consumer: without a bound every task would have started by now
        started = len(log.read_text().split())
        worst = max(worst, started - (k + 1))
        assert started <= k + 1 + bound, f"{started} tasks started while consuming result {k}"
        got.append(result)
    assert got == list(range(16))
    assert worst >= 1  # workers do run ahead of the consumer, within the bound


# ------------------------------------------------------------------------------- local kill/resume
def _copies(dst: Path, n_files: int) -> list[Path]:
    """n_files PubMed files of real citations, each copy with its own PMIDs and titles."""
    src = PUBMED / "medline16n0902.xml.gz" if PUBMED.is_dir() else FIX / "pubmed_update.xml"
    if not src.is_file():
        pytest.skip("no PubMed data")
    raw = (gzip.open(src, "rt", encoding="utf-8") if src.suffix == ".gz" else open(src, encoding="utf-8")).read()
    m = re.search(r"<(MedlineCitationSet|PubmedArticleSet)>", raw)
    head, body, tail = raw[: m.end()], raw[m.end(): raw.rindex("</")], raw[raw.rindex("</"):]
    reps = max(1, 600 // max(1, body.count("<PMID")))  # keeps small fixtures worth a few seconds too
    files = []
    for k in range(n_files):
        t = "".join(re.sub(r'(<PMID Version="\d+">)(\d+)', lambda g: f"{g.group(1)}9{k:02d}{r:03d}{g.group(2)}", body)
                    .replace("<ArticleTitle>", f"<ArticleTitle>Copy {k}.{r}: ") for r in range(reps))
        f = dst / f"part{k:02d}.xml"
        f.write_text(head + t + tail, encoding="utf-8")
        files.append(f)
    return files


def test_killed_local_literature_build_resumes_to_identical_outputs(tmp_path):
    inputs = _copies(tmp_path, 12)
    common = [sys.executable, "-m", "proteinlm.cli", "build", "pubmed", *[a for f in inputs for a in ("-i", str(f))],
              "--tokenizer", "none", "--no-near-dedup", "--shard-docs", "250"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    subprocess.run(common + ["--out", str(tmp_path / "full")], check=True, capture_output=True, env=env)
    total = json.loads((tmp_path / "full" / "manifest.json").read_text())["shards"]
    assert total >= 10
    proc = subprocess.Popen(common + ["--out", str(tmp_path / "killed")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    state = tmp_path / "killed" / ".state"
    deadline, done = time.time() + 120, 0
    while time.time() < deadline and proc.poll() is None:
        done = len(list(state.glob("shard-*.json"))) if state.exists() else 0
        if done >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert 2 <= done < total, "the build must be killed part-way"
    assert not (tmp_path / "killed" / "manifest.json").exists()
    kept = {p: p.stat().st_mtime_ns for p in state.glob("shard-*.json")}
    subprocess.run(common + ["--out", str(tmp_path / "killed")], check=True, capture_output=True, env=env)
    run = json.loads((state / "last_run.json").read_text())
    assert run["shards_resumed"] == len(kept) and run["shards_built"] == total - len(kept)
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # recorded shards were not rewritten
    assert outputs(tmp_path / "killed") == outputs(tmp_path / "full")
