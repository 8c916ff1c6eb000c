"""Request ids, the access log and Prometheus metrics: a WSGI middleware around the whole app."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)
#: One line per request: ``client "METHOD URI" status bytes duration id=…``.
access_log = logging.getLogger("sangam.access")

#: Where an app keeps its :class:`Observer` (``app.extensions``).
OBSERVER = "sangam.observer"
REQUEST_ID = "X-Request-Id"
ENVIRON_KEY = "sangam.request_id"
#: A request id a client or proxy sends is kept when it looks like one (so a trace can follow it).
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
#: Latency buckets in seconds: queries take 2–100 ms, a first English query up to a few hundred.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def request_id(environ: dict) -> str:
    """The id of this request: the client's ``X-Request-Id`` when it is a plain token, else a new one."""
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if _GIVEN_ID.fullmatch(given) else uuid.uuid4().hex


def _shown_uri(environ: dict) -> str:
    uri = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "") + (
        "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
    # no newline or control character from a client ever reaches the log as such
    return _UNPRINTABLE.sub(lambda m: f"%{ord(m.group()):02X}" if ord(m.group()) < 256 else "?", uri)[:500]


class Observer:
    """Counts and times requests into its own registry (one per app, so apps never share metrics)."""

    def __init__(self, index_state=None):
        """``index_state()`` returns ``(generation, documents, age_seconds)`` of the index being served,
        or ``None`` while none is (read at each scrape)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("sangam_http_requests", "HTTP requests answered, by status.", ["status"],
                                registry=self.registry)
        self.latency = Histogram("sangam_http_request_duration_seconds", "Time to answer a request.",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self._index_state = index_state
        self.registry.register(self)

    def record(self, environ: dict, status: int, size: int, seconds: float, rid: str) -> None:
        self.requests.labels(status=str(status)).inc()
        self.latency.observe(seconds)
        access_log.info('%s "%s %s %s" %d %d %.1fms id=%s', environ.get("REMOTE_ADDR", "-"),
                        _UNPRINTABLE.sub("?", environ.get("REQUEST_METHOD", "-"))[:16], _shown_uri(environ),
                        _UNPRINTABLE.sub("?", environ.get("SERVER_PROTOCOL", "-"))[:16], status, size,
                        seconds * 1000, rid)

    def collect(self):
        """The index gauges (a custom collector: they describe whatever generation serves right now)."""
        state = None
        if self._index_state is not None:
            try:
                state = self._index_state()
            except Exception:  # noqa: BLE001 - a scrape never fails because the index cannot answer
                logger.debug("index state unavailable for metrics", exc_info=True)
        up = GaugeMetricFamily("sangam_index_up", "1 when an index is loaded and answering.")
        up.add_metric([], 1 if state else 0)
        yield up
        if state:
            generation, documents, age = state
            info = GaugeMetricFamily("sangam_index_generation_info", "The index generation served.",
                                     labels=["generation"])
            info.add_metric([generation], 1)
            yield info
            yield GaugeMetricFamily("sangam_index_documents", "Documents in the index served.", value=documents)
            yield GaugeMetricFamily("sangam_index_age_seconds", "Seconds since the generation served was built.",
                                    value=age)

    def describe(self):
        return []  # unchecked collector: its metrics depend on the index of the moment


class Observed:
    """WSGI middleware: gives every request an id (``X-Request-Id`` on every response, errors included),
    times it, counts it by status and writes its access log line once its body has been sent."""

    def __init__(self, app, observer: Observer):
        self.app, self.observer = app, observer

    def __call__(self, environ, start_response):
        start = time.perf_counter()
        rid = environ[ENVIRON_KEY] = request_id(environ)
        seen = {"status": 500}

        def respond(status, headers, exc_info=None):
            seen["status"] = int(status.split(" ", 1)[0])
            headers = [(k, v) for k, v in headers if k.lower() != REQUEST_ID.lower()] + [(REQUEST_ID, rid)]
            return start_response(status, headers, exc_info)

        size = 0
        body = self.app(environ, respond)
        try:
            for chunk in body:
                size += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            self.observer.record(environ, seen["status"], size, time.perf_counter() - start, rid)


bp = Blueprint("observe", __name__)


@bp.get("/metrics")
def metrics():
    """Prometheus' text format: requests by status, latency, the index generation and its size."""
    return Response(generate_latest(current_app.extensions[OBSERVER].registry), mimetype=CONTENT_TYPE_LATEST)
