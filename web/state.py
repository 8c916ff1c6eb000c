"""The one search service an app shares between requests, opened on first use when not given."""

from __future__ import annotations

import calendar
import threading
import time

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


    def index_state(self) -> tuple[str, int, float] | None:
        """``(generation, documents, age in seconds)`` of the index served, or None while none is loaded."""
        service = self._service
        if service is None:
            return None
        manifest = service.manifest
        return generation_name(service), int(manifest["counts"]["documents"]), built_age(manifest)


def generation_name(service) -> str:
    data = getattr(service, "_data", None)
    return data.gen.name if data is not None else ""


def built_age(manifest: dict) -> float:
    """Seconds since the generation was built (its manifest's ``built_at``)."""
    try:
        built = calendar.timegm(time.strptime(manifest["built_at"], "%Y-%m-%dT%H:%M:%SZ"))
    except (KeyError, TypeError, ValueError):
        return 0.0
    return max(0.0, time.time() - built)


def current_service():
    """The search service of the app handling the current request."""
    return current_app.extensions[EXTENSION].get()
