"""Benchmark rows from the Hugging Face Hub ("hf:owner/name"), offline-aware.

A dead network would otherwise cost the hub client's retries with backoff (25 s to minutes) before
it gives up; here an unreachable Hub, or HF_HUB_OFFLINE, means a cached copy loads at once and
anything else fails at once with the advice to pass a local file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlparse

from proteinlm.errors import BenchDataError

HF_CONFIG = "evaluation"
HF_DATASET = "tsynbio/ProteinLMBench"
HF_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # owner/name


def _offline_requested() -> bool:
    flags = (os.environ.get(v, "").upper() for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    return any(flag in ("1", "ON", "YES", "TRUE") for flag in flags)


def _hub_unreachable(timeout: float = 3.0) -> str:
    """A reason if a quick TCP probe of the Hub fails, else "". Without it, a dead network costs the
    hub client's 5 retries with backoff (25 s to minutes) before it gives up."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return ""  # a direct probe says nothing about a proxied connection: let the client try
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return ""
    except OSError as e:
        return f"{host}:{port} is unreachable ({e}); "


@contextmanager
def _forced_offline(enabled: bool) -> Iterator[None]:
    """Run as if HF_HUB_OFFLINE=1 (a cached copy still loads, nothing is requested); the flags are
    module globals read once at import, so set them for the call and restore them afterwards."""
    import datasets.config
    import huggingface_hub.constants

    targets = [(huggingface_hub.constants, "HF_HUB_OFFLINE"), (datasets.config, "HF_HUB_OFFLINE")]
    saved = [getattr(module, name) for module, name in targets]
    try:
        if enabled:
            for module, name in targets:
                setattr(module, name, True)
        yield
    finally:
        for (module, name), value in zip(targets, saved):
            setattr(module, name, value)


def hub_rows(spec: str, split: str) -> tuple[str, str, str, list[dict]]:
    # "owner/name" or, as `Bench.source` writes it, "owner/name/config"
    dataset, _, config = spec.rpartition("/") if spec.count("/") == 2 else (spec, "", HF_CONFIG)
    if not HF_NAME.match(dataset):
        raise BenchDataError(f"not a Hugging Face dataset name: {spec!r} (expected hf:owner/name)")
    # Offline when asked (even if the hub library was imported before the variable was set) or when
    # the Hub is unreachable: a cached copy still loads, anything else fails at once.
    unreachable = "" if _offline_requested() else _hub_unreachable()
    try:
        import datasets

        with _forced_offline(_offline_requested() or bool(unreachable)):
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
