"""Whether to ask the Hugging Face Hub at all: offline when the user says so or when a quick probe
finds the Hub unreachable.

A dead network would otherwise cost the hub client's retries with backoff (25 s to minutes) before
it gives up; offline, a cached copy loads at once and anything else fails at once. The bench's Hub
datasets and the hf backend's hub ids both go through here.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlparse


def offline_requested() -> bool:
    flags = (os.environ.get(v, "").upper() for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag in ("1", "ON", "YES", "TRUE") for flag in flags)


def hub_unreachable(timeout: float = 3.0) -> str:
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
def forced_offline(enabled: bool, *more: tuple[object, str]) -> Iterator[None]:
    """Run as if HF_HUB_OFFLINE=1 (a cached copy still loads, nothing is requested). The flags are
    module globals read once at import, so they are set for the call and restored afterwards:
    huggingface_hub's, plus any (module, attribute) pairs in `more` (e.g. datasets.config's)."""
    import huggingface_hub.constants

    targets = [(huggingface_hub.constants, "HF_HUB_OFFLINE"), *more]
    saved = [getattr(module, name) for module, name in targets]
    try:
        if enabled:
            for module, name in targets:
                setattr(module, name, True)
        yield
    finally:
        for (module, name), value in zip(targets, saved):
            setattr(module, name, value)
