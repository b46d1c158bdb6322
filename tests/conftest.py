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
