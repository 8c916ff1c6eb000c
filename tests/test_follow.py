"""A long-running server follows the index: a new build is loaded in the background and swapped in
between requests, and a generation a server still reads is never pruned."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.builder import build_index
from search import storage
from sangam.cli import cli


NEW_DOC = "zz_new"
NEW_TEXT = "ज़ेब्राफ़िश अनुसंधान\n\nवैज्ञानिकों ने ज़ेब्राफ़िश पर नया अनुसंधान प्रकाशित किया और प्रयोगशाला का विस्तार हुआ।"
QUERIES = ["उत्तर कोरिया रूस संधि", "treaty ratification", "ज़ेब्राफ़िश"]


@pytest.fixture
def runner(embedder, monkeypatch):
    from search.embedding import Embedder

    monkeypatch.setattr(Embedder, "load", classmethod(lambda cls, *a, **k: embedder))
    return CliRunner()


def _get(url: str, timeout: float = 30) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read() or b"{}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(seed_index, seeds, tmp_path):
    """A real ``search serve`` (its own process) over a copy of the seed index, and the corpus it came from."""
    index_dir, corpus = tmp_path / "index", tmp_path / "corpus"
    shutil.copytree(seed_index, index_dir)
    shutil.copytree(seeds, corpus)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "SANGAM_INDEX"}
    env["SANGAM_RETIRE_AFTER_S"] = "1"  # a replaced build is released a second after the swap
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "sangam.cli", "serve", "--index", str(index_dir),
                             "--port", str(port), "--threads", "8"],
                            cwd=Path(__file__).resolve().parent.parent, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if _get(url + "/api/health", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        yield url, index_dir, corpus
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_a_running_server_follows_an_update_without_failing_a_request(served, runner):
    url, index_dir, corpus = served
    status, health = _get(url + "/api/health")
    first = health["generation"]
    assert status == 200 and health["documents"] == 5 and first == storage.live_generation(index_dir).name

    failures, answered, stop = [], [0], threading.Event()

    def client(n: int) -> None:
        while not stop.is_set():
            q = QUERIES[n % len(QUERIES)]
            try:
                code, body = _get(f"{url}/api/search?" + urllib.parse.urlencode({"q": q, "k": 3}))
                if code != 200 or not isinstance(body.get("hits"), list):
                    failures.append((q, code, body))
            except Exception as err:  # noqa: BLE001 - every kind of failure counts
                failures.append((q, repr(err)))
            answered[0] += 1
            time.sleep(0.02)

    clients = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(8)]
    for thread in clients:
        thread.start()
    try:
        (corpus / f"{NEW_DOC}.txt").write_text(NEW_TEXT, "utf-8")
        built = runner.invoke(cli, ["index", str(corpus), "--index", str(index_dir), "--update", "--quiet"])
        assert built.exit_code == 0, built.output
        new = storage.live_generation(index_dir).name
        assert new != first
        before_swap = answered[0]
        deadline = time.monotonic() + 10
        while True:
            _code, body = _get(f"{url}/api/search?" + urllib.parse.urlencode({"q": "ज़ेब्राफ़िश", "k": 1,
                                                                               "mode": "bm25"}))
            if body.get("hits") and body["hits"][0]["doc_id"] == NEW_DOC:
                break
            assert time.monotonic() < deadline, "the server did not follow the new build within 10 s"
            time.sleep(0.1)
        time.sleep(1.0)  # the clients go on across and after the swap
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
    assert failures == []
    assert answered[0] > before_swap + 8  # requests were answered while the new build was loaded
    status, health = _get(url + "/api/health")
    assert status == 200 and health["generation"] == new and health["documents"] == 6
    assert 0 <= health["age_seconds"] < 120
    assert (index_dir / first).is_dir()  # replaced a moment ago: still leased by the server


def test_a_leased_generation_is_never_pruned(seed_index, seeds, tmp_path, settings, embedder):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    first = storage.live_generation(index_dir)
    held = storage.lease(first)

    def update() -> Path:
        build_index([seeds], index_dir, settings, embedder=embedder, update=True, progress=False)
        return storage.live_generation(index_dir)

    second = update()
    third = update()  # KEEP_GENERATIONS alone would remove the first here
    assert first.is_dir() and second.is_dir() and third.is_dir()
    held.release()
    fourth = update()
    assert not first.exists() and not second.exists() and third.is_dir() and fourth.is_dir()
    assert not (index_dir / storage.LEASES / first.name).exists()


def test_a_build_that_cannot_be_served_keeps_the_old_one(seed_index, tmp_path, settings, service, caplog):
    """A new build that is damaged is logged and refused; the server goes on with what it has."""
    from web.app import create_app
    from web.server import BackgroundServer
    from search.service import SearchService
    from web import state

    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    mine = SearchService.open(index_dir, settings, embedder=service.embedder)
    with BackgroundServer(create_app(settings=settings, service=mine)) as srv:
        first = _get(srv.url + "/api/health")[1]["generation"]
        broken = index_dir / "gen-20991231T000000-1-000001"
        shutil.copytree(index_dir / first, broken)
        (broken / storage.VECTORS).write_bytes(b"not numpy")
        (index_dir / "CURRENT").write_text(broken.name + "\n")
        deadline = time.monotonic() + 10
        while not any("cannot be served" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline
            assert _get(srv.url + "/api/health")[0] == 200
            time.sleep(state.CHECK_EVERY_S / 2)
        status, health = _get(srv.url + "/api/health")
        assert status == 200 and health["generation"] == first


def _wait_for_generation(url: str, name: str, limit_s: float = 10) -> dict:
    deadline = time.monotonic() + limit_s
    while True:
        status, health = _get(url + "/api/health")
        if status == 200 and health["generation"] == name:
            return health
        assert time.monotonic() < deadline, f"the server did not follow {name} within {limit_s} s: {health}"
        time.sleep(0.1)


def test_builds_prune_what_the_server_has_let_go_while_it_serves(served, runner):
    url, index_dir, corpus = served
    first = storage.live_generation(index_dir).name
    failures, stop = [], threading.Event()

    def client(n: int) -> None:
        while not stop.is_set():
            try:
                code, body = _get(f"{url}/api/search?" + urllib.parse.urlencode({"q": QUERIES[n % 3], "k": 3}))
                if code != 200:
                    failures.append((code, body))
            except Exception as err:  # noqa: BLE001 - every kind of failure counts
                failures.append(repr(err))
            time.sleep(0.02)

    clients = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(8)]
    for thread in clients:
        thread.start()
    served_names = [first]
    try:
        for n in range(3):  # an update, then two more builds
            (corpus / f"{NEW_DOC}{n}.txt").write_text(NEW_TEXT + f" {n}", "utf-8")
            built = runner.invoke(cli, ["index", str(corpus), "--index", str(index_dir), "--update", "--quiet"])
            assert built.exit_code == 0, built.output
            served_names.append(storage.live_generation(index_dir).name)
            _wait_for_generation(url, served_names[-1])
            time.sleep(1.5)  # past the server's retire time: it lets the replaced build go
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
    assert failures == []
    health = _wait_for_generation(url, served_names[-1])
    assert health["documents"] == 8
    on_disk = {p.name for p in index_dir.glob("gen-*")}
    assert served_names[0] not in on_disk and served_names[1] not in on_disk  # pruned while serving
    assert served_names[-1] in on_disk


def test_a_kill_while_pruning_leaves_the_index_answering(seed_index, seeds, tmp_path, runner):
    index_dir, corpus = tmp_path / "index", tmp_path / "corpus"
    shutil.copytree(seed_index, index_dir)
    shutil.copytree(seeds, corpus)
    (corpus / f"{NEW_DOC}.txt").write_text(NEW_TEXT, "utf-8")
    assert runner.invoke(cli, ["index", str(corpus), "--index", str(index_dir), "--update", "--quiet"]).exit_code == 0
    oldest = min(index_dir.glob("gen-*"), key=lambda p: p.stat().st_mtime)
    (corpus / f"{NEW_DOC}2.txt").write_text(NEW_TEXT + " 2", "utf-8")
    # the next build is killed (SIGKILL) in the middle of removing the oldest generation
    killer = f"""
import os, signal, shutil, sys
from search import storage
real = shutil.rmtree
def rmtree(path, *a, **k):
    victim = sorted(p for p in __import__('pathlib').Path(path).rglob('*') if p.is_file())[0]
    victim.unlink()
    os.kill(os.getpid(), signal.SIGKILL)
storage.shutil.rmtree = rmtree
sys.argv = ['search', 'index', {str(corpus)!r}, '--index', {str(index_dir)!r}, '--update', '--quiet']
from sangam.cli import main
main()
"""
    done = subprocess.run([sys.executable, "-c", killer], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == -9, done.stderr[-2000:]
    assert oldest.is_dir()  # half removed
    answer = runner.invoke(cli, ["query", "ज़ेब्राफ़िश", "--index", str(index_dir), "--json", "--mode", "bm25"])
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.output)["hits"][0]["doc_id"].startswith(NEW_DOC)
    assert runner.invoke(cli, ["info", "--index", str(index_dir), "--verify"]).exit_code == 0
    (corpus / f"{NEW_DOC}3.txt").write_text(NEW_TEXT + " 3", "utf-8")
    assert runner.invoke(cli, ["index", str(corpus), "--index", str(index_dir), "--update", "--quiet"]).exit_code == 0
    assert not oldest.exists()  # the next build finishes the job
