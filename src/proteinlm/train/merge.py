"""Fold a LoRA adapter into its base model and save a plain Hugging Face model directory."""

from __future__ import annotations

import json
from pathlib import Path

from proteinlm.train.model import TrainError, require_training_packages, resolve_model_dir


def adapter_dir(path: str | Path) -> Path:
    """The adapter in `path`: the directory itself, its `adapter/`, or its newest checkpoint."""
    path = Path(path)
    for cand in (path, path / "adapter"):
        if (cand / "adapter_config.json").is_file():
            return cand
    checkpoints = sorted(path.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    if checkpoints and (checkpoints[-1] / "adapter_config.json").is_file():
        return checkpoints[-1]
    raise TrainError(f"{path}: no LoRA adapter (adapter_config.json) here, in adapter/ or in a checkpoint")


def merge_lora(adapter: str | Path, out: str | Path, *, base: str | None = None, dtype: str = "float32",
               trust_remote_code: bool = False) -> Path:
    """Load base (full precision, even for QLoRA runs) + adapter, merge, save to `out`."""
    require_training_packages("peft")
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = adapter_dir(adapter)
    if base is None:
        base = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
        if not base:
            raise TrainError(f"{adapter}: the adapter does not name its base model; pass --base")
    base = resolve_model_dir(base)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    out = Path(out)
    merged.save_pretrained(str(out))
    tok_src = adapter if (adapter / "tokenizer_config.json").is_file() else Path(base)
    AutoTokenizer.from_pretrained(str(tok_src), trust_remote_code=trust_remote_code).save_pretrained(str(out))
    return out
