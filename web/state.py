"""The one search service an app shares between requests, opened on first use when not given."""

from __future__ import annotations

import threading

from flask import current_app

EXTENSION = "sangam"


class ServiceHolder:
    """Holds a ready ``SearchService``, or opens one (once, under a lock) the first time it is asked for."""

    def __init__(self, settings, service=None):
        self.settings = settings
        self._service = service
        self._lock = threading.Lock()

    def get(self):
        service = self._service
        if service is None:
            with self._lock:
                if self._service is None:  # a failed open is retried by the next request
                    from search.service import SearchService

                    self._service = SearchService.open(self.settings.index_dir, self.settings)
                service = self._service
        return service


def current_service():
    """The search service of the app handling the current request."""
    return current_app.extensions[EXTENSION].get()
