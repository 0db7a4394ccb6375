"""`proteinlm train ...`: thin wrappers (registered by cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from proteinlm.cli_console import console, fail as _fail
from proteinlm.errors import ProteinLMError

train_app = typer.Typer(help="Continued pretraining and SFT (TRL + PEFT; run under `accelerate launch` for GPUs).",
                        no_args_is_help=True)


def _data_counts(kind: str, max_length: int):
    """What the training data became, on screen before training starts."""

    def show(data: dict) -> None:
        if kind == "sft":
            console.print(
                f"data: {data['examples']} examples kept, {data['skipped_too_long']} dropped (longer than --max-length "
                f"{max_length} even with the sequence shortened), {data['sequence_shortened']} shortened "
                f"(sequence cut to fit --max-length {max_length}, marked '...')"
            )
        elif "rows" in data:
            console.print(f"data: {data['rows']} packed rows")
        else:
            console.print(f"data: {data['documents']} documents kept, {data['empty_dropped']} dropped (empty text); "
                          f"packed to --max-length {max_length} as they are read")

    return show


def _train(kind: str, **kw) -> None:
    from proteinlm.train.recipe import TrainOptions, run_training

    try:
        summary = run_training(TrainOptions(kind=kind, **kw), on_data=_data_counts(kind, kw["max_length"]))
    except ProteinLMError as exc:
        _fail(exc)
    console.print(f"{summary['global_step']} steps, train loss {summary['train_loss']:.4f} → {summary['final']} "
                  f"(model card: {summary['final']}/README.md)")


def _options(flags: dict) -> dict:
    """CLI flags -> TrainOptions fields (same names, except --lr)."""
    opts = dict(flags)
    opts["learning_rate"] = opts.pop("lr")
    opts["data"], opts["out"] = list(opts["data"]), str(opts["out"])
    return opts


_MODEL = typer.Option("smollm2", "--model", "-m", help="`smollm2` (embedded GGUF, dequantised once), a model dir or .gguf.")
_OUT = typer.Option(..., "--out", help="Run directory (checkpoints, loss.json, final/); rerun to resume.")
_STEPS = typer.Option(-1, "--max-steps", help="Stop after N optimizer steps (-1: run --epochs).")
_EPOCHS = typer.Option(1.0, "--epochs", help="Passes over the data (ignored when --max-steps is set).")
_LR = typer.Option(None, "--lr", help="Learning rate (default 2e-4 with LoRA, 2e-5 full).")
_BS = typer.Option(4, "--batch-size", help="Per-device batch size.")
_ACC = typer.Option(1, "--grad-accum", help="Gradient accumulation steps.")
_LORA = typer.Option(False, "--lora", help="Train a LoRA adapter (PEFT) instead of all weights.")
_QLORA = typer.Option(False, "--qlora", help="LoRA on a 4-bit base (bitsandbytes, CUDA only).")
_RANK = typer.Option(16, "--lora-r", help="LoRA rank.")
_ALPHA = typer.Option(32, "--lora-alpha", help="LoRA scaling (alpha / r multiplies the update).")
_GC = typer.Option(False, "--gradient-checkpointing", help="Trade compute for memory.")
_DTYPE = typer.Option("auto", "--dtype", help="auto (bf16 on GPU, fp32 on CPU) | float32 | bfloat16 | float16")
_SAVE = typer.Option(100, "--save-steps", help="Checkpoint every N steps.")
_SEED = typer.Option(0, "--seed", help="Seeds initialisation, data order and dropout.")
_RESUME = typer.Option(True, "--resume/--no-resume", help="Continue from the newest checkpoint in --out.")
_MERGE = typer.Option(True, "--merge/--no-merge", help="LoRA: also write the merged model to OUT/final.")
_REPORT = typer.Option("none", "--report-to", help="none | tensorboard | wandb (comma-separated).")
_THREADS = typer.Option(None, "--threads", help="CPU threads.")
_SPLIT = typer.Option("train", "--split", help="Which split of a build directory to train on (train | validation).")
_TRC = typer.Option(False, "--trust-remote-code", help="Run model code from the model repo (off by default).")


@train_app.command("sft")
def train_sft_cmd(
    data: List[str] = typer.Option(..., "--data", help="`build uniprot` output dir, or alpaca JSON / messages JSONL; repeatable."),
    model: str = _MODEL, out: Path = _OUT, max_steps: int = _STEPS, epochs: float = _EPOCHS,
    lr: Optional[float] = _LR, batch_size: int = _BS, grad_accum: int = _ACC,
    max_length: int = typer.Option(1024, "--max-length", help="Tokens per example; long sequences are shortened so answers fit."),
    lora: bool = _LORA, qlora: bool = _QLORA, lora_r: int = _RANK, lora_alpha: int = _ALPHA,
    gradient_checkpointing: bool = _GC, dtype: str = _DTYPE, save_steps: int = _SAVE, seed: int = _SEED,
    chat: Optional[bool] = typer.Option(None, "--chat/--raw", help="Chat template (default: when the tokenizer has one)."),
    split: str = _SPLIT, resume: bool = _RESUME, merge: bool = _MERGE,
    report_to: str = _REPORT, threads: Optional[int] = _THREADS, trust_remote_code: bool = _TRC,
):
    """Supervised fine-tuning, loss on the responses only."""
    _train("sft", **_options(locals()))


@train_app.command("pretrain")
def train_pretrain_cmd(
    data: List[str] = typer.Option(..., "--data", help="A `build pack` output (packed/) or build dirs with pretrain/ documents; repeatable."),
    model: str = _MODEL, out: Path = _OUT, max_steps: int = _STEPS, epochs: float = _EPOCHS,
    lr: Optional[float] = _LR, batch_size: int = _BS, grad_accum: int = _ACC,
    max_length: int = typer.Option(2048, "--max-length", help="Sequence length when packing documents."),
    lora: bool = _LORA, qlora: bool = _QLORA, lora_r: int = _RANK, lora_alpha: int = _ALPHA,
    gradient_checkpointing: bool = _GC, dtype: str = _DTYPE, save_steps: int = _SAVE, seed: int = _SEED,
    split: str = _SPLIT, resume: bool = _RESUME, merge: bool = _MERGE,
    report_to: str = _REPORT, threads: Optional[int] = _THREADS, trust_remote_code: bool = _TRC,
):
    """Continued pretraining (causal LM over whole documents)."""
    _train("pretrain", **_options(locals()))


@train_app.command("merge")
def train_merge_cmd(
    run: Path = typer.Argument(..., help="A LoRA run dir (its adapter/ or newest checkpoint) or an adapter dir."),
    out: Path = typer.Option(..., "--out", help="Where to write the merged model directory."),
    base: Optional[str] = typer.Option(None, "--base", help="Base model (default: the one the adapter names)."),
    dtype: str = typer.Option("float32", "--dtype", help="float32 | bfloat16 | float16"),
    trust_remote_code: bool = _TRC,
):
    """Fold a LoRA adapter into its base: a plain model dir for `proteinlm bench --backend hf`."""
    from proteinlm.train.merge import merge_lora

    try:
        path = merge_lora(run, out, base=base, dtype=dtype, trust_remote_code=trust_remote_code)
    except ProteinLMError as exc:
        _fail(exc)
    console.print(f"merged model → {path}")
