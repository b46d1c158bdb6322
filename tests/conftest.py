"""Shared fixtures: paths to the example project and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PROJECT = REPO / "examples" / "assistant"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def example_project() -> Path:
    return EXAMPLE_PROJECT


@pytest.fixture(autouse=True)
def _quiet_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own folder so nothing writes into the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _own_training_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test has its own training cache (on, as for users), never the user's.

    Each test starts with an empty cache, so a test trains as it would
    without one; tests/test_cache.py tests the cache itself.
    """
    folder = tmp_path / "intently-cache"
    monkeypatch.setenv("INTENTLY_CACHE_DIR", str(folder))
    monkeypatch.delenv("INTENTLY_MAX_CACHE_SIZE", raising=False)
    return folder


# Hypothesis profiles: "ci" (the default) is bounded and derandomized so the
# suite is fast and reproducible; "fuzz" runs many more examples locally:
# INTENTLY_HYPOTHESIS_PROFILE=fuzz pytest tests/test_training_data_properties.py
try:
    import os

    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci", max_examples=400, deadline=None, derandomize=True, database=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.register_profile(
        "fuzz", max_examples=20_000, deadline=None, database=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.load_profile(os.environ.get("INTENTLY_HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # Hypothesis is a test extra; the property tests are skipped without it
    pass
