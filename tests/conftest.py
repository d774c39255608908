"""Shared fixtures: where ../shared is, and a clean asset environment."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STREAMER_ASSETS") or REPO.parent / "shared")
VIDEOS = SHARED / "videos"
DATASETS = SHARED / "datasets"
CASCADE_PATH = SHARED / "models" / "lbpcascade_animeface.xml"
MOBILENET_PATH = SHARED / "models" / "mobilenet_2_5_224_tf_no_top.h5"

# Module- and session-scoped fixtures run before the per-test fixture below: give them the same
# offline asset lookup and a throwaway cache (never the user's).
os.environ["STREAMER_ASSETS"] = str(SHARED)
os.environ["STREAMER_CACHE"] = tempfile.mkdtemp(prefix="streamer-test-cache-")


@pytest.fixture(autouse=True)
def _isolated_assets(monkeypatch, tmp_path_factory):
    """Every test sees the shared folder as STREAMER_ASSETS and an empty, private cache."""
    monkeypatch.setenv("STREAMER_ASSETS", str(SHARED))
    monkeypatch.setenv("STREAMER_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set STREAMER_ASSETS")
    return SHARED
