"""Benchmark rows from the Hugging Face Hub ("hf:owner/name"), offline-aware (hub_access.py): an
unreachable Hub, or HF_HUB_OFFLINE, means a cached copy loads at once and anything else fails at
once with the advice to pass a local file.
"""

from __future__ import annotations

import hashlib
import json
import re

from proteinlm.errors import BenchDataError
from proteinlm.hub_access import forced_offline, hub_unreachable, offline_requested

HF_CONFIG = "evaluation"
HF_DATASET = "tsynbio/ProteinLMBench"
HF_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # owner/name


def hub_rows(spec: str, split: str) -> tuple[str, str, str, list[dict]]:
    # "owner/name" or, as `Bench.source` writes it, "owner/name/config"
    dataset, _, config = spec.rpartition("/") if spec.count("/") == 2 else (spec, "", HF_CONFIG)
    if not HF_NAME.match(dataset):
        raise BenchDataError(f"not a Hugging Face dataset name: {spec!r} (expected hf:owner/name)")
    # Offline when asked (even if the hub library was imported before the variable was set) or when
    # the Hub is unreachable: a cached copy still loads, anything else fails at once.
    unreachable = "" if offline_requested() else hub_unreachable()
    try:
        import datasets
        import datasets.config

        with forced_offline(offline_requested() or bool(unreachable), (datasets.config, "HF_HUB_OFFLINE")):
            rows = [dict(row) for row in datasets.load_dataset(dataset, config, split=split)]
    except Exception as e:  # offline, missing dataset/config/split, HTTP errors, ...: all the same advice
        raise BenchDataError(
            f"could not fetch the Hugging Face dataset '{dataset}' (config '{config}', split '{split}'): "
            f"{unreachable}{type(e).__name__}: {e}\n"
            f"If you are offline or the Hub is unreachable, download the benchmark file (e.g. ProteinLMBench.json "
            f"from https://huggingface.co/datasets/{HF_DATASET}) where you have network access and pass it as a "
            "local file: --bench path/to/file.json (JSON, JSONL and CSV files are accepted, optionally .gz)."
        ) from None
    canonical = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    source = f"hf:{dataset}/{config}" + ("" if split == "train" else f"@{split}")
    return dataset, source, hashlib.sha256(canonical.encode()).hexdigest(), rows
