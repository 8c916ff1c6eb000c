"""Error handlers: one JSON body under /api, a small escaped HTML page elsewhere; no tracebacks out."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from search.errors import BadQuery, DocumentNotFound, SangamError

GENERIC_500 = "the server hit an unexpected error (it has been logged; try again or report it)"
UNAVAILABLE = "the search index is not available (the server log says why; build the index and restart)"


def wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def error_response(status: int, message: str, headers: dict | None = None):
    """``{"ok": false, "status": N, "error": "..."}`` under /api, else the HTML error page."""
    if wants_json():
        response = current_app.json.response({"ok": False, "status": status, "error": message})
    else:
        response = current_app.response_class(
            render_template("error.html", status=status, message=message), mimetype="text/html")
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_message(e: HTTPException) -> str:
    if e.code == 404:
        return (f"nothing at {request.path[:200]} (see /api/openapi.json for the routes)" if wants_json()
                else "there is no page at this address (start again from the search page)")
    if e.code == 405:
        allowed = ", ".join(m for m in (getattr(e, "valid_methods", None) or []) if m not in ("HEAD", "OPTIONS"))
        return f"method {request.method} is not allowed here (use {allowed or 'GET'})"
    if e.code == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"] // 1024
        return f"the request body is too large; the limit is {limit} KB (send the query in the URL: ?q=…)"
    return f"{e.name.lower()} ({e.description})" if e.description else e.name.lower()


def handle_http(e: HTTPException):
    headers = {}
    if e.code == 405 and getattr(e, "valid_methods", None):
        headers["Allow"] = ", ".join(e.valid_methods)
    return error_response(e.code or 500, _http_message(e), headers)


def handle_sangam(e: SangamError):
    if isinstance(e, DocumentNotFound):
        return error_response(404, str(e))
    if isinstance(e, BadQuery):
        return error_response(400, str(e))
    # index missing or mismatched, model not loadable: the operator's problem, which may name paths
    current_app.logger.error("search service unavailable: %s", e)
    return error_response(503, UNAVAILABLE)


class PastDeadline(Exception):
    """A search that did not answer within the app's ``SEARCH_DEADLINE_S``; the client should retry."""

    retry_after = 5


def handle_deadline(e: PastDeadline):
    return error_response(503, "the search took too long and was given up (the server is busy; try again "
                               "in a few seconds, or with fewer words)", {"Retry-After": str(e.retry_after)})


def handle_unexpected(e: Exception):
    current_app.logger.exception("unhandled error on %s %r", request.method, request.path[:200])
    return error_response(500, GENERIC_500)


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(SangamError, handle_sangam)
    app.register_error_handler(PastDeadline, handle_deadline)
    app.register_error_handler(Exception, handle_unexpected)
