"""Continued pretraining and SFT on top of TRL's `SFTTrainer` (transformers `Trainer` underneath).

One code path for a laptop CPU and a GPU cluster: run it directly, or under `accelerate launch
--config_file configs/accelerate/<setup>.yaml` for DDP / FSDP / DeepSpeed (Trainer reads the
launcher's environment). A run directory holds:

- `checkpoint-N/` (model or adapter, optimizer, scheduler, RNG, trainer state): a killed run started
  again with the same `--out` resumes from the newest one;
- `loss.jsonl` (one line per logging step, written as training goes) and `loss.json` (the whole
  curve, at the end);
- `final/`: a plain Hugging Face model directory that `proteinlm bench --backend hf` reads (for LoRA
  runs the merged model; the adapter alone is in `adapter/`);
- `train_options.json`, `train_summary.json`, and `README.md` (in the run and in `final/`), the model
  card: base model, data counts, steps, loss.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from proteinlm import __version__
from proteinlm.train.model_card import model_card
from proteinlm.train.model import (
    TrainError,
    load_for_training,
    lora_config,
    pick_dtype,
    require_training_packages,
    resolve_model_dir,
)

log = logging.getLogger(__name__)

# Options that change what is trained: a run directory cannot be resumed with other values.
_IDENTITY = ("kind", "model", "data", "split", "lora", "qlora", "lora_r", "lora_alpha", "lora_targets",
             "max_length", "batch_size", "grad_accum", "learning_rate", "seed", "chat")


@dataclass
class TrainOptions:
    kind: str  # "sft" | "pretrain"
    model: str
    data: list[str]
    out: str
    split: str = "train"
    max_steps: int = -1
    epochs: float = 1.0
    learning_rate: Optional[float] = None  # None: 2e-4 with LoRA, 2e-5 full fine-tuning
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 1024
    warmup_ratio: float = 0.03
    lora: bool = False
    qlora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: str = "all-linear"
    gradient_checkpointing: bool = False
    dtype: str = "auto"
    seed: int = 0
    save_steps: int = 100
    save_total_limit: int = 2
    logging_steps: int = 1
    chat: Optional[bool] = None  # None: use the tokenizer's chat template when it has one
    resume: bool = True
    merge: bool = True
    report_to: str = "none"
    threads: Optional[int] = None
    trust_remote_code: bool = False
    extra: dict = field(default_factory=dict)  # passed to SFTConfig as is (power users)

    def __post_init__(self):
        if self.kind not in ("sft", "pretrain"):
            raise TrainError(f"unknown training kind {self.kind!r}")
        if self.learning_rate is None:
            self.learning_rate = 2e-4 if (self.lora or self.qlora) else 2e-5
        if self.max_steps == 0 or self.batch_size < 1 or self.grad_accum < 1:
            raise TrainError("max-steps, batch-size and grad-accum must be positive")


def _check_run_dir(out: Path, opts: TrainOptions) -> None:
    """Refuse to resume a run directory written with different training options."""
    saved = out / "train_options.json"
    mine = {k: v for k, v in asdict(opts).items() if k in _IDENTITY}
    if saved.is_file() and any(out.glob("checkpoint-*")):
        theirs = {k: v for k, v in json.loads(saved.read_text()).items() if k in _IDENTITY}
        if theirs != mine:
            diff = sorted(k for k in mine if theirs.get(k) != mine[k])
            raise TrainError(f"{out} holds a run with other options ({', '.join(diff)}): use a new --out")
    out.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(asdict(opts), indent=2) + "\n", encoding="utf-8")


def _loss_callback(path: Path):
    from transformers import TrainerCallback

    class LossLog(TrainerCallback):
        """Appends each logged step to loss.jsonl; on resume, forgets lines past the checkpoint."""

        def on_train_begin(self, args, state, control, **kw):
            if args.process_index != 0:
                return
            kept = []
            if path.is_file():
                kept = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= state.global_step]
            path.write_text("".join(ln + "\n" for ln in kept))

        def on_log(self, args, state, control, logs=None, **kw):
            if args.process_index == 0 and logs:
                with path.open("a") as fh:
                    fh.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")

    return LossLog()


def _checkpointing(config_cls, on: bool) -> dict:
    """Activation (gradient) checkpointing flags under their current name (transformers 5 renamed them)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_cls)}
    key = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return {key: on, f"{key}_kwargs": {"use_reentrant": False} if on else None}


def _config(opts: TrainOptions, out: Path, packing: bool, completion_only: bool):
    import torch
    from trl import SFTConfig

    dtype = pick_dtype(opts.dtype)
    cuda = torch.cuda.is_available()
    return SFTConfig(
        output_dir=str(out),
        max_steps=opts.max_steps,
        num_train_epochs=opts.epochs,
        per_device_train_batch_size=opts.batch_size,
        gradient_accumulation_steps=opts.grad_accum,
        learning_rate=opts.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=opts.warmup_ratio,  # a float in [0, 1) is a fraction of the steps
        logging_steps=opts.logging_steps,
        save_strategy="steps",
        save_steps=opts.save_steps,
        save_total_limit=opts.save_total_limit,
        seed=opts.seed,
        data_seed=opts.seed,
        bf16=cuda and dtype == torch.bfloat16,
        fp16=cuda and dtype == torch.float16,
        use_cpu=not cuda,
        **_checkpointing(SFTConfig, opts.gradient_checkpointing),
        max_length=opts.max_length,
        packing=packing,
        completion_only_loss=completion_only if not packing else None,
        dataset_text_field="text",
        report_to=[] if opts.report_to == "none" else opts.report_to.split(","),
        dataloader_num_workers=0,
        disable_tqdm=False,
        **opts.extra,
    )


def last_complete_checkpoint(out: Path) -> str | None:
    """The newest `checkpoint-N` that was written to the end. Trainer writes a checkpoint in place and
    its `trainer_state.json` last, so a run killed while saving leaves a newer folder without it,
    from which resuming would fail (transformers' own `get_last_checkpoint` would pick it)."""
    done = [p for p in out.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    return str(max(done, key=lambda p: int(p.name.split("-")[-1]))) if done else None


def _finished(checkpoint: str) -> bool:
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    return state.get("max_steps", 0) > 0 and state["global_step"] >= state["max_steps"]


def _reload_finished(trainer, checkpoint: str):
    """A run killed after its last checkpoint but before `final/`: load that checkpoint instead of
    resuming (Trainer would run one step past max_steps when resumed at the end)."""
    from transformers import TrainerState
    from transformers.trainer_utils import TrainOutput

    trainer._load_from_checkpoint(checkpoint)  # weights (or adapter) as Trainer's own resume loads them
    trainer.state = TrainerState.load_from_json(str(Path(checkpoint) / "trainer_state.json"))
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    ends = [h["train_loss"] for h in trainer.state.log_history if "train_loss" in h]
    loss = ends[-1] if ends else (sum(losses) / len(losses) if losses else float("nan"))
    return TrainOutput(trainer.state.global_step, loss, {})


def build_trainer(opts: TrainOptions):
    """(trainer, tokenizer, info): the model loaded, the data prepared, nothing trained yet."""
    import torch
    from trl import SFTTrainer

    from proteinlm.train import data as train_data

    if opts.threads:
        torch.set_num_threads(opts.threads)
    out = Path(opts.out)
    _check_run_dir(out, opts)
    model_dir = resolve_model_dir(opts.model, scratch=out)
    model, tokenizer = load_for_training(model_dir, dtype=opts.dtype, qlora=opts.qlora,
                                         trust_remote_code=opts.trust_remote_code)
    chat = bool(getattr(tokenizer, "chat_template", None)) if opts.chat is None else opts.chat
    if chat and not getattr(tokenizer, "chat_template", None):
        raise TrainError(f"{opts.model}: --chat asked for, but the tokenizer has no chat template")
    if opts.kind == "sft":
        dataset, data_stats = train_data.sft_dataset(opts.data, tokenizer, split=opts.split,
                                                     max_length=opts.max_length, chat=chat)
        packing = False
    else:
        dataset, data_stats, prepacked = train_data.pretrain_dataset(opts.data, tokenizer, split=opts.split)
        packing = not prepacked
    config = _config(opts, out, packing=packing, completion_only=opts.kind == "sft")
    peft = lora_config(opts.lora_r, opts.lora_alpha, opts.lora_dropout, opts.lora_targets) if (opts.lora or opts.qlora) else None
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=peft, callbacks=[_loss_callback(out / "loss.jsonl")])
    return trainer, tokenizer, {"model_dir": model_dir, "chat": chat, "data": data_stats, "lora": bool(peft)}


def run_training(opts: TrainOptions, on_data: Callable[[dict], None] | None = None) -> dict:
    """Train (or resume) and write the run directory; returns the summary. `on_data` gets the data
    counts (examples kept, dropped and shortened, with reasons) before training starts."""
    require_training_packages("trl", *(["peft"] if (opts.lora or opts.qlora) else []))
    out = Path(opts.out)
    trainer, tokenizer, info = build_trainer(opts)
    if on_data is not None and trainer.is_world_process_zero():
        on_data(info["data"])
    model_dir = info["model_dir"]
    checkpoint = last_complete_checkpoint(out) if opts.resume and out.is_dir() else None
    if checkpoint:
        log.info("resuming from %s", checkpoint)
    started = time.perf_counter()
    if checkpoint and _finished(checkpoint):
        result = _reload_finished(trainer, checkpoint)
    else:
        result = trainer.train(resume_from_checkpoint=checkpoint)
    wall = time.perf_counter() - started

    summary = {"kind": opts.kind, "model": opts.model, **info, "resumed_from": checkpoint,
               "global_step": trainer.state.global_step, "train_loss": result.training_loss, "wall_s": round(wall, 2),
               "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
               "processes": trainer.args.world_size,
               "package_version": __version__}
    if trainer.is_world_process_zero():
        curve = [h for h in trainer.state.log_history if "loss" in h]
        (out / "loss.json").write_text(json.dumps(curve, indent=1) + "\n")
    trainer.accelerator.wait_for_everyone()
    summary["final"] = _save_final(trainer, tokenizer, out, opts, model_dir)
    if trainer.is_world_process_zero():
        (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        card = model_card(opts, summary, curve)  # TRL's draft names no base model ("[None]") for local weights
        for folder in {out, Path(summary["final"])}:
            (folder / "README.md").write_text(card, encoding="utf-8")
    return summary


def _save_final(trainer, tokenizer, out: Path, opts: TrainOptions, model_dir: str) -> str:
    if not (opts.lora or opts.qlora):
        trainer.save_model(str(out / "final"))
        if trainer.is_world_process_zero():
            tokenizer.save_pretrained(str(out / "final"))
        return str(out / "final")
    trainer.save_model(str(out / "adapter"))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(out / "adapter"))
    if not opts.merge:
        return str(out / "adapter")
    if trainer.is_world_process_zero():
        from proteinlm.train.merge import merge_lora

        merge_lora(out / "adapter", out / "final", base=model_dir, trust_remote_code=opts.trust_remote_code)
    return str(out / "final")
