"""Which weights a training run starts from, and how they are loaded.

`smollm2` (the embedded GGUF) is dequantised once into a normal model directory (the same cache the
bench backend uses), because trainers need plain tensors they can update and save.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from proteinlm.errors import ProteinLMError

log = logging.getLogger(__name__)


class TrainError(ProteinLMError):
    """A training run cannot start or continue (bad model, data or options)."""


TRAIN_EXTRA = "pip install 'proteinlm[train]'"


def require_training_packages(*modules: str) -> None:
    """TrainError naming the install command when a package of the `train` extra cannot be imported
    (rather than an ImportError traceback from deep inside the recipe)."""
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{module} ({exc})")
    if missing:
        raise TrainError(f"training needs packages that are not installed: {', '.join(missing)}; run: {TRAIN_EXTRA}")


def resolve_model_dir(model: str, scratch: Path | None = None) -> str:
    """A loadable model directory (or hub id) for `model`: `smollm2`, a directory, or a `.gguf` file.

    GGUF files are dequantised and saved as a model directory (cached; `scratch` when caching is off)."""
    from proteinlm.models.smollm2 import ALIAS, smollm2_gguf_path

    path = Path(model)
    if model == ALIAS:
        path = smollm2_gguf_path()
    if path.suffix == ".gguf":
        return str(_dequantised(path, scratch))
    if path.exists() and not (path / "config.json").is_file():
        raise TrainError(f"{model}: not a model directory (no config.json)")
    return model


def _dequantised(gguf: Path, scratch: Path | None) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from proteinlm.models.hf import save_converted
    from proteinlm.models.smollm2 import gguf_cache_dir

    if not gguf.is_file():
        raise TrainError(f"GGUF file not found: {gguf}")
    target = gguf_cache_dir(gguf) or (scratch or Path(".")) / f"{gguf.stem}-dequantised"
    if (target / "config.json").is_file():
        return target
    log.info("dequantising %s into %s (once)", gguf, target)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="auto")
    save_converted(model, tokenizer, target)
    if not (target / "config.json").is_file():
        raise TrainError(f"could not write the dequantised model to {target}")
    return target


def pick_dtype(dtype: str):
    """`auto`: bfloat16 on a GPU that supports it, else float32 (CPU training in bf16 is slow and lossy)."""
    import torch

    if dtype == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in table:
        raise TrainError(f"unknown dtype {dtype!r}: use auto, {', '.join(table)}")
    return table[dtype]


def load_for_training(model_dir: str, *, dtype: str = "auto", qlora: bool = False, trust_remote_code: bool = False):
    """(model, tokenizer). QLoRA loads the base in 4-bit through bitsandbytes (CUDA only)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = pick_dtype(dtype)
    kwargs: dict = {"dtype": torch_dtype, "trust_remote_code": trust_remote_code}
    if qlora:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            raise TrainError("--qlora needs bitsandbytes (pip install bitsandbytes) and a CUDA GPU") from exc
        if not torch.cuda.is_available():
            raise TrainError("--qlora needs a CUDA GPU (bitsandbytes 4-bit kernels); use --lora on CPU")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16,
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    except OSError as exc:
        raise TrainError(
            f"cannot load model {model_dir!r}: {exc} (pass a local model directory; the hub may be unreachable)"
        ) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def lora_config(r: int = 16, alpha: int = 32, dropout: float = 0.05, target_modules: str = "all-linear"):
    from peft import LoraConfig

    targets: str | list[str] = target_modules if target_modules == "all-linear" else target_modules.split(",")
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, task_type="CAUSAL_LM")
