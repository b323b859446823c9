"""Shared test setup: where the real data lives, and hypothesis settings for a 2-core CI machine."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"  # ../shared beside the repository root; never copied into the repo
FROGS = SHARED / "data" / "cifar-10-frogs" / "cifar-10-batches-py"
CIFAR_TEST = SHARED / "data" / "cifar-10-test" / "cifar-10-batches-py"
REFERENCE = SHARED / "reference"

settings.register_profile("minigan", deadline=None, max_examples=30,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "minigan"))


def require_frogs():
    """Skip (with the reason) when the real CIFAR-10 frogs are not beside the repository."""
    if not FROGS.is_dir():
        pytest.skip(f"real CIFAR-10 frogs not found at {FROGS} (they live in ../shared/data beside the repo)")
    return FROGS


@pytest.fixture
def fresh_names():
    """Layer names restart at dense, dense_1, ... and the random stream at seed 0, for one test."""
    import minigan
    minigan.clear_session()
    minigan.random.seed(0)
    yield
    minigan.clear_session()
