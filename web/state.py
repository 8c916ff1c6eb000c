"""The one search service an app shares between requests, opened on first use when not given."""

from __future__ import annotations

import calendar
import logging
import threading
import time

from flask import current_app

from search import storage

logger = logging.getLogger(__name__)

EXTENSION = "sangam"


#: How often a request looks at ``CURRENT`` for a newer build (at most once per this many seconds).
CHECK_EVERY_S = 1.0
#: How long a replaced generation stays leased by default (``Settings.retire_after_s``): requests that
#: began on it finish on it.
RETIRE_AFTER_S = 60.0


class ServiceHolder:
    """Holds a ready ``SearchService``, or opens one (once, under a lock) the first time it is asked for.

    With ``follow`` (the default for a real service), it follows the index: a request that finds
    ``CURRENT`` naming another build than the one served (a stat and a 40-byte read, at most once a
    second) starts loading that build in a background thread, and the requests that come after it is
    loaded get the new service; requests already running finish on the old one, which is kept leased
    (``search.storage.lease``) for :data:`RETIRE_AFTER_S` so no build prunes it under them. A build that
    cannot be opened (damaged, another model) is logged once and the old one keeps serving.
    """

    def __init__(self, settings, service=None, *, follow: bool | None = None):
        self.settings = settings
        self._service = service
        self._lock = threading.Lock()
        self.follow = (service is None or _is_search_service(service)) if follow is None else follow
        self._lease = _lease_of(service) if self.follow else None
        self._checked = 0.0
        self._loading: str | None = None  # the build being loaded in the background
        self._refused: str | None = None  # a build that could not be opened (not retried)
        self._retired: list[tuple[float, object]] = []  # (when, lease) of replaced generations

    def get(self):
        service = self._service
        if service is None:
            with self._lock:
                if self._service is None:  # a failed open is retried by the next request
                    from search.service import SearchService

                    self._service = SearchService.open(self.settings.index_dir, self.settings)
                    self._lease = _lease_of(self._service) if self.follow else None
                service = self._service
        elif self.follow:
            self._look_for_a_new_build(service)
        return service

    def _look_for_a_new_build(self, service) -> None:
        now = time.monotonic()
        if now - self._checked < CHECK_EVERY_S:
            return
        with self._lock:
            if now - self._checked < CHECK_EVERY_S:
                return
            self._checked = now
            self._release_retired(now)
            name = storage.current_name(service.index_dir)
            if name is None or name in (generation_name(service), self._loading, self._refused):
                return
            self._loading = name
        threading.Thread(target=self._load, args=(service, name), name=f"sangam-load-{name}", daemon=True).start()

    def _load(self, old, name: str) -> None:
        from search.errors import SangamError
        from search.service import SearchService

        try:
            t0 = time.perf_counter()
            new = SearchService.open(old.index_dir, old.settings, embedder=old.embedder)
            new.warm()  # its query-understanding word lists, before it serves
            lease = _lease_of(new)
        except SangamError as err:
            logger.error("keeping %s: the new build %s cannot be served: %s", generation_name(old), name, err)
            with self._lock:
                self._refused, self._loading = name, None
            return
        except Exception:  # noqa: BLE001 - a bug loading a build must not take the server down
            logger.exception("keeping %s: loading the new build %s failed", generation_name(old), name)
            with self._lock:
                self._refused, self._loading = name, None
            return
        with self._lock:
            self._retired.append((time.monotonic(), self._lease))
            self._service, self._lease, self._loading = new, lease, None
        logger.info("now serving %s (%d documents; loaded in %.1fs), was %s", generation_name(new),
                    new.manifest["counts"]["documents"], time.perf_counter() - t0, generation_name(old))

    def _release_retired(self, now: float) -> None:
        keep = []
        for when, lease in self._retired:
            if now - when >= getattr(self.settings, "retire_after_s", RETIRE_AFTER_S):
                if lease is not None:
                    lease.release()
            else:
                keep.append((when, lease))
        self._retired = keep

    def index_state(self) -> tuple[str, int, float] | None:
        """``(generation, documents, age in seconds)`` of the index served, or None while none is loaded."""
        service = self._service
        if service is None:
            return None
        manifest = service.manifest
        return generation_name(service), int(manifest["counts"]["documents"]), built_age(manifest)


def _is_search_service(service) -> bool:
    from search.service import SearchService

    return isinstance(service, SearchService)


def _lease_of(service):
    data = getattr(service, "_data", None)
    return storage.lease(data.gen) if data is not None else None


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
