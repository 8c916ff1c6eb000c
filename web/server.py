"""A waitress server on 127.0.0.1 in a background thread, for the API tests and the load check."""

from __future__ import annotations

import threading

import waitress
from waitress import wasyncore


class BackgroundServer:
    """Serve ``app`` on a free loopback port until :meth:`close`; usable as a context manager."""

    def __init__(self, app, *, threads: int = 4, host: str = "127.0.0.1"):
        self._server = waitress.create_server(app, host=host, port=0, threads=threads, ident="sangam")
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
