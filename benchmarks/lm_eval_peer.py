"""Run lm-evaluation-harness (HF backend) on a task exported by `proteinlm bench export-lm-eval`."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def run_lm_eval(model_dir: Path, task_dir: Path, task: str, batch_size: int = 1):
    """Returns (wall seconds excluding model load, {doc index: argmax}, {doc index: argmax of
    length-normalised scores})."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=str(model_dir), batch_size=batch_size, device="cpu", dtype="float32")
    tm = TaskManager(include_path=str(task_dir))
    t = time.perf_counter()
    out = lm_eval.simple_evaluate(model=lm, tasks=[task], task_manager=tm, log_samples=True, verbosity="ERROR")
    wall = time.perf_counter() - t
    raw, norm = {}, {}
    for s in out["samples"][task]:
        lls = np.array([r[0] for r in s["filtered_resps"]])
        lens = np.array([float(len(c)) for c in s["doc"]["options"]])
        raw[s["doc_id"]] = int(np.argmax(lls))
        norm[s["doc_id"]] = int(np.argmax(lls / lens))
    return wall, raw, norm
