"""The waitress server in front of the app, through real sockets on 127.0.0.1: the body limit, idle
connections, request ids and the access log, Prometheus metrics."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.request

import pytest

from search.settings import ServerSettings
from web.app import create_app
from web.server import BackgroundServer, create_server

from test_api import ExplodingService, call, raw_call


@pytest.fixture(scope="module")
def live(service, settings):
    """The real app over the seed index, with the server's default limits."""
    with BackgroundServer(create_app(settings=settings, service=service), config=ServerSettings()) as srv:
        yield srv


@pytest.fixture
def access_lines(caplog):
    """The access log lines written so far, waiting a moment for those still being written (a line is
    written once the response has been sent, so it may come just after the client has read it)."""
    caplog.set_level(logging.INFO, logger="sangam.access")

    def lines(at_least: int = 0) -> list[str]:
        deadline = time.monotonic() + 10
        while True:
            found = [r.getMessage() for r in caplog.records if r.name == "sangam.access"]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    return lines


def test_an_8mb_post_is_refused_before_its_body_is_read(live, access_lines):
    # Only the headers and the first 64 KB are sent: the answer must come without the other 8 MB.
    head = (f"POST /api/search?q=treaty HTTP/1.1\r\nHost: {live.host}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {8 * 2**20}\r\nX-Request-Id: big-post-1\r\n\r\n").encode()
    reply = raw_call(live, head + b"x" * 65536, timeout=5)
    status, headers, body = reply.status, reply.headers, reply.body
    assert status == 413
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(body) == {"ok": False, "status": 413, "error": json.loads(body)["error"]}
    assert "64 KB" in json.loads(body)["error"]
    assert headers["x-request-id"] == "big-post-1"
    assert any("big-post-1" in line and "/api/search?q=treaty" in line and " 413 " in line for line in access_lines(1))


def test_a_body_at_the_limit_is_not_refused_by_the_server(live):
    reply = call(live.url, "/api/search?q=treaty", method="POST", data=b"x" * (64 * 1024),
                 headers={"Content-Type": "application/octet-stream"})
    assert reply.status == 405  # reached the app, which answers POST with 405


def test_200_idle_connections_do_not_stop_health(live):
    idle = []
    try:
        for n in range(200):
            sock = socket.create_connection((live.host, live.port), timeout=10)
            if n % 2:  # half of them start a request and never finish it
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
            idle.append(sock)
        reply = call(live.url, "/api/health")
        assert reply.status == 200 and reply.json["ok"] is True
    finally:
        for sock in idle:
            sock.close()


def test_every_response_has_a_request_id_and_an_access_line(live, settings, access_lines):
    paths = ["/api/health", "/api/search?q=", "/api/nope", "/?q=treaty", "/api/documents/003_f3897ac51716b5c2"]
    replies = [call(live.url, path) for path in paths]
    assert [r.status for r in replies] == [200, 400, 404, 200, 200]
    ids = [r.headers["x-request-id"] for r in replies]
    assert len(set(ids)) == len(ids) and all(len(i) == 32 for i in ids)
    given = call(live.url, "/api/health", headers={"X-Request-Id": "trace-abc.42"})
    assert given.headers["x-request-id"] == "trace-abc.42"
    hostile = call(live.url, "/api/health", headers={"X-Request-Id": "<script>" + "x" * 200})
    assert hostile.headers["x-request-id"] != "<script>" + "x" * 200  # not echoed: a fresh id
    lines = access_lines(len(paths) + 2)
    for rid, reply in zip(ids, replies):
        line = next(line for line in lines if f"id={rid}" in line)
        assert f'" {reply.status} ' in line and line.startswith("127.0.0.1 \"GET /")
    malformed = raw_call(live, b"GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    assert malformed.status == 400 and malformed.headers["x-request-id"]
    with BackgroundServer(create_app(settings=settings, service=ExplodingService())) as broken:
        crash = call(broken.url, "/api/search?q=treaty")
    assert crash.status == 500 and crash.headers["x-request-id"]


def test_log_lines_never_carry_control_characters(live, access_lines):
    call(live.url, "/api/search?q=a%0Ab%0D%0Afake%20line")
    line = next(line for line in access_lines(1) if "fake" in line)
    assert "\n" not in line and "\r" not in line


def test_metrics_count_requests_and_describe_the_index(live, service):
    before = _metrics(live)
    for _ in range(3):
        call(live.url, "/api/health")
    call(live.url, "/api/nope")
    after = _metrics(live)
    assert after['sangam_http_requests_total{status="200"}'] >= before.get('sangam_http_requests_total{status="200"}', 0) + 3
    assert after['sangam_http_requests_total{status="404"}'] >= 1
    assert after["sangam_http_request_duration_seconds_count"] >= before["sangam_http_request_duration_seconds_count"] + 4
    assert any(k.startswith("sangam_http_request_duration_seconds_bucket{") for k in after)
    generation = service._data.gen.name
    assert after[f'sangam_index_generation_info{{generation="{generation}"}}'] == 1
    assert after["sangam_index_documents"] == 5 and after["sangam_index_up"] == 1
    assert after["sangam_index_age_seconds"] >= 0


def _metrics(srv) -> dict[str, float]:
    with urllib.request.urlopen(srv.url + "/metrics", timeout=30) as r:
        assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_server_limits_come_from_the_settings(settings, service):
    app = create_app(settings=settings, service=service)
    server = create_server(app, ServerSettings(connections=7, threads=2, idle_timeout=9, max_body_bytes=1000),
                           port=0)
    try:
        adj = server.adj
        assert (adj.connection_limit, adj.threads, adj.channel_timeout, adj.max_request_body_size) == (7, 2, 9, 1001)
        defaults = ServerSettings()
        assert defaults.connections >= 500 and defaults.host == "127.0.0.1" and defaults.max_body_bytes == 65536
    finally:
        server.close()
        server.task_dispatcher.shutdown()
