"""Shared fixtures: the real model once per session, the seed corpus, temporary index dirs."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from search.settings import Settings, seeds_dir  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Default settings (the built-in model, built once into the user cache)."""
    return Settings.from_env()


@pytest.fixture(scope="session")
def embedder(settings):
    from search.embedding import Embedder

    return Embedder.load(settings, log=print)


@pytest.fixture(scope="session")
def seeds() -> Path:
    return seeds_dir()
