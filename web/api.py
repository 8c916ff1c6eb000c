"""The REST API under /api: search, documents, health, info and its own OpenAPI description."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from search.errors import BadQuery
from search.query import MAX_QUERY_CHARS
from search.service import FUSIONS, MAX_K, MODES

from . import openapi
from .params import related_k, search_args
from .state import built_age, current_service, generation_name

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/search")
def search():
    args = search_args(request.args)
    if args.q is None:
        raise BadQuery("the query is missing", "pass it as ?q=…")
    response = within_deadline(current_service().search, **args.as_kwargs())
    return jsonify(response.to_dict())


#: Searches given up at their deadline that may still be running; past this many, new ones are refused.
MAX_ABANDONED = 4


class DeadlineState:
    """An app's searches run under a deadline: their pool, and how many were given up still running."""

    def __init__(self) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="sangam-search")
        self.lock = threading.Lock()
        self.abandoned = 0


def within_deadline(fn, **kwargs):
    """``fn(**kwargs)``, or :class:`PastDeadline` (503 with Retry-After) when it has not answered within
    ``SEARCH_DEADLINE_S``: the request's thread is freed for the others, while the search itself runs
    to its end on a small pool of its own (a search cannot be interrupted)."""
    from concurrent.futures import TimeoutError as FutureTimeout

    from .errors import PastDeadline

    state: DeadlineState = current_app.extensions["sangam-deadline"]
    deadline = current_app.config.get("SEARCH_DEADLINE_S")
    if not deadline:
        return fn(**kwargs)
    with state.lock:
        if state.abandoned >= MAX_ABANDONED:
            raise PastDeadline()  # too many given-up searches are still running: do not start another
    future = state.pool.submit(fn, **kwargs)
    try:
        return future.result(timeout=deadline)  # its own errors (a bad query) come through as they are
    except FutureTimeout:
        with state.lock:
            state.abandoned += 1

        def finished(_future) -> None:
            with state.lock:
                state.abandoned -= 1

        future.add_done_callback(finished)
        raise PastDeadline() from None


@bp.get("/suggest")
def suggest():
    q = request.args.get("q")
    if q is None:
        raise BadQuery("the prefix is missing", "pass the words typed so far as ?q=…")
    return jsonify({"query": q, "suggestions": current_service().suggest(q)})


@bp.get("/documents/<path:doc_id>/related")
def related(doc_id: str):
    """Up to ``k`` other stories nearest the document (itself and its near-duplicates left out)."""
    k = related_k(request.args)
    service = current_service()
    return jsonify({"doc_id": doc_id, "related": service.related(doc_id, k=k)})


@bp.get("/documents/<path:doc_id>")
def document(doc_id: str):
    return jsonify(current_service().document(doc_id))


@bp.get("/health")
def health():
    """200 with what is served (503 from the error handler when no index can answer)."""
    service = current_service()
    manifest = service.manifest
    counts, model = manifest.get("counts", {}), manifest.get("model", {})
    return jsonify({"ok": True, "documents": counts.get("documents", 0), "passages": counts.get("passages", 0),
                    "model": model.get("id", ""), "generation": generation_name(service),
                    "age_seconds": round(built_age(manifest), 1)})


@bp.get("/info")
def info():
    service = current_service()
    m = service.manifest
    return jsonify({
        "format_version": m["format_version"],
        "model": m["model"],
        "analyzer": m["analyzer"],
        "chunking": m["chunking"],
        "counts": m["counts"],
        "built_at": m.get("built_at", ""),
        "build_seconds": m.get("build_seconds", 0.0),
        # not the source paths or skip reasons: they name files on the server
        "skipped": len(m.get("skipped", [])),
        "date_warnings": int((m.get("date_warnings") or {}).get("count", 0)),
        "expansion": getattr(service, "expander", None) is not None,
        "modes": list(MODES),
        "fusion_methods": list(FUSIONS),
        "limits": {"max_k": MAX_K, "max_query_chars": MAX_QUERY_CHARS,
                   "max_body_bytes": current_app.config["MAX_CONTENT_LENGTH"]},
    })


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi.spec(current_app.config["MAX_CONTENT_LENGTH"]))
