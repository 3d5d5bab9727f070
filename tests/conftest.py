"""Shared fixtures: isolated caches, a CLI runner, helpers to run ganzoo in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep ganzoo's caches (classifiers, fidelity stats, data) out of the user's home."""
    if "GANZOO_CACHE_DIR" not in os.environ or os.environ.get("GANZOO_TEST_SHARED_CACHE") is None:
        cache = tmp_path_factory.getbasetemp() / "ganzoo-cache"
        monkeypatch.setenv("GANZOO_CACHE_DIR", str(cache))
    yield


def run_ganzoo(*args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``ganzoo`` CLI in a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ganzoo", *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd,
    )


@pytest.fixture
def ganzoo_cli():
    return run_ganzoo
