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

    return Embedder.load(settings)


@pytest.fixture(scope="session")
def seeds() -> Path:
    return seeds_dir()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, embedder, settings, seeds) -> Path:
    """A real index (Whoosh + vectors) over the five seed articles, built once per session."""
    from index.builder import build_index

    index_dir = tmp_path_factory.mktemp("seed-index")
    build_index([seeds], index_dir, settings, embedder=embedder, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def service(seed_index, embedder, settings):
    """The search service over the seed index, sharing the session's model."""
    from search.service import SearchService

    return SearchService.open(seed_index, settings, embedder=embedder)


@pytest.fixture(scope="session")
def dated_index(tmp_path_factory, embedder, settings) -> Path:
    """A real index over the dated test corpus (292 documents, 24 months, 6 outlets, planted wire copies:
    tests/data/dated/, written by bench/dated_corpus.py), built once per session."""
    from index.builder import build_index

    index_dir = tmp_path_factory.mktemp("dated-index")
    build_index([DATA / "dated" / "corpus.jsonl"], index_dir, settings, embedder=embedder, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def dated_service(dated_index, embedder, settings):
    from search.service import SearchService

    return SearchService.open(dated_index, settings, embedder=embedder)


@pytest.fixture(scope="session")
def server(service, settings):
    """The real app over the seed index, served by waitress on a free loopback port."""
    from web.app import create_app
    from web.server import BackgroundServer

    with BackgroundServer(create_app(settings=settings, service=service)) as srv:
        yield srv


# --------------------------------------------------------------------------- browser
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Playwright). A real browser is part of the suite: missing one is a set-up error,
    not a reason to skip."""
    chromium = os.environ.get("SANGAM_CHROMIUM", "/usr/bin/chromium")
    assert Path(chromium).exists(), f"no Chromium at {chromium}: run `bash .ci/setup` or set SANGAM_CHROMIUM"
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A fresh page whose ``problems`` collects console errors (CSP violations among them)."""
    context = browser.new_context(viewport={"width": 1024, "height": 900}, locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    yield page
    context.close()


# ----------------------------------------------------------------------------- tiers
#: Fixtures that load the real model (directly or through an index built with it).
_MODEL_FIXTURES = {"embedder", "seed_index", "service", "server", "xquad_service", "dated_index", "dated_service"}
_BROWSER_FIXTURES = {"browser", "page"}
_SLOW_MODULES = {"test_quality", "test_follow"}


def pytest_collection_modifyitems(config, items):
    """Mark every test by what it needs, so that ``pytest -m "not model and not browser"`` is a fast tier
    (the README's test command still runs everything)."""
    for item in items:
        names = set(item.fixturenames)
        if names & _MODEL_FIXTURES:
            item.add_marker(pytest.mark.model)
        if names & _BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if item.module.__name__.rsplit(".", 1)[-1] in _SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
