"""Shared test set-up: offline Hub, the ../shared fixtures, and the CI rule that missing fixtures fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("HF_VIDEOMODELS_SHARED", REPO_ROOT.parent / "shared"))
REFERENCE_DIR = SHARED_DIR / "reference"
DATA_DIR = SHARED_DIR / "data"
SAMPLE_GIF = DATA_DIR / "v_CricketShot_g04_c01_rgb.gif"


def require_shared(path: Path) -> Path:
    """Return ``path`` if it exists; otherwise fail under CI (``CI=true``) and skip elsewhere."""
    if path.exists():
        return path
    message = f"reference data missing: {path} (expected ../shared beside the repository)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return require_shared(SHARED_DIR)


@pytest.fixture(scope="session")
def sample_gif() -> Path:
    return require_shared(SAMPLE_GIF)


# The suite runs in two pytest-xdist workers on a 2-core machine (pyproject's addopts). One torch thread per
# worker: two workers with two threads each oversubscribe the cores, and torch's spinning threads then slow
# small ops by orders of magnitude.
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)
