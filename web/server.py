"""The waitress server: limits from ``ServerSettings``, and its own error answers (413 for a body over the
limit, 400 for a malformed request) given an id, counted and logged like the app's. ``BackgroundServer``
runs one in a thread on a free loopback port (the API tests, the load check)."""

from __future__ import annotations

import json
import logging
import threading
import time

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from search.settings import ServerSettings

from .observe import OBSERVER, REQUEST_ID, request_id

logger = logging.getLogger(__name__)


def too_large_message(limit_bytes: int) -> str:
    return f"the request body is too large; the limit is {limit_bytes // 1024} KB (send the query in the URL: ?q=…)"


class _ErrorTask(ErrorTask):
    """Waitress answers a request it will not hand to the app (too large, malformed) itself: here with
    the API's JSON error body, an ``X-Request-Id``, and the access log line and metrics of the app."""

    def execute(self):
        start = time.perf_counter()
        error = self.request.error
        path = getattr(self.request, "path", "") or ""
        query = getattr(self.request, "query", "") or ""
        environ = {"REQUEST_METHOD": getattr(self.request, "command", "") or "-",
                   "REQUEST_URI": path + ("?" + query if query else ""),
                   "SERVER_PROTOCOL": f"HTTP/{getattr(self.request, 'version', '1.0')}",
                   "REMOTE_ADDR": self.channel.addr[0] if self.channel.addr else "-",
                   "HTTP_X_REQUEST_ID": self.request.headers.get("X_REQUEST_ID", "")}
        rid = request_id(environ)
        limit = self.channel.server.adj.max_request_body_size - 1
        message = too_large_message(limit) if error.code == 413 else f"{error.reason.lower()} ({error.body})"
        if path == "/api" or path.startswith("/api/"):
            body = json.dumps({"ok": False, "status": error.code, "error": message}, ensure_ascii=False)
            kind = "application/json; charset=utf-8"
        else:
            body, kind = message + "\n", "text/plain; charset=utf-8"
        data = body.encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", kind), (REQUEST_ID, rid), ("X-Content-Type-Options", "nosniff")])
        self.set_close_on_finish()
        self.content_length = len(data)
        self.write(data)
        observer = getattr(self.channel.server, "sangam_observer", None)
        if observer is not None:
            observer.record(environ, error.code, len(data), time.perf_counter() - start, rid)


class _Channel(HTTPChannel):
    error_task_class = _ErrorTask


def create_server(app, config: ServerSettings | None = None, **overrides):
    """A waitress server for ``app`` (not yet running) with ``config``'s limits; ``overrides`` replace
    fields of ``config`` (``port=0``: a free port)."""
    config = (config or ServerSettings()).replace(**overrides)
    server = waitress.create_server(
        app, host=config.host, port=config.port, threads=config.threads, ident="sangam",
        connection_limit=config.connections, channel_timeout=config.idle_timeout, backlog=config.backlog,
        # waitress refuses a body of this many bytes or more: one more than the limit allows the limit itself
        max_request_body_size=config.max_body_bytes + 1,
        asyncore_use_poll=True,  # select() stops at 1,024 open sockets
    )
    observer = _observer_of(app)
    for listener in [server, *getattr(server, "map", {}).values()]:
        if isinstance(listener, waitress.server.BaseWSGIServer):
            listener.channel_class = _Channel
            listener.sangam_observer = observer
    return server


def _observer_of(app):
    return getattr(app, "extensions", {}).get(OBSERVER)


def serve(app, config: ServerSettings | None = None) -> None:
    """Serve ``app`` until interrupted."""
    server = create_server(app, config)
    try:
        server.run()
    finally:
        server.close()


class BackgroundServer:
    """Serve ``app`` on a free loopback port until :meth:`close`; usable as a context manager."""

    def __init__(self, app, *, threads: int = 4, host: str = "127.0.0.1", config: ServerSettings | None = None):
        self._server = create_server(app, config, host=host, port=0, threads=threads)
        self.host, self.port = host, int(self._server.effective_port)
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.run, name=f"waitress-{self.port}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        server = self._server
        # Close every socket from inside the server's own loop (the loop ends when it has none left),
        # rather than from this thread while the loop is polling them.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map, ignore_all=True))
        self._thread.join(timeout=10)
        server.task_dispatcher.shutdown()

    def __enter__(self) -> "BackgroundServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
