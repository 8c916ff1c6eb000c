"""The Flask app factory: one shared SearchService behind the REST API (/api) and the search page (/)."""

from __future__ import annotations

from flask import Flask, abort, request

from search.settings import MAX_BODY_BYTES  # searches are GETs; nothing here needs a body

from . import errors, observe
from .markup import lang_of, safe_snippet, safe_url
from .state import EXTENSION, ServiceHolder

# Styles and one small script (suggestions as you type) only from our own static folder; the script
# may call our own API and nothing else. The page works the same without it.
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


#: A search that has not answered by then gets 503 with Retry-After (``config={"SEARCH_DEADLINE_S": …}``).
SEARCH_DEADLINE_S = 10.0


def create_app(settings=None, service=None, config: dict | None = None) -> Flask:
    """Build the app. With no ``service``, one is opened from ``settings.index_dir`` on the first request.

    ``config`` overrides Flask settings (e.g. ``{"MAX_CONTENT_LENGTH": ...}``).
    """
    if settings is None:
        from search.settings import Settings

        settings = Settings.from_env()
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, SEARCH_DEADLINE_S=SEARCH_DEADLINE_S)
    app.config.update(config or {})
    app.json.ensure_ascii = False  # Devanagari as UTF-8, not \\u escapes
    app.json.sort_keys = False  # keep the response's own field order
    app.json.mimetype = "application/json; charset=utf-8"
    holder = app.extensions[EXTENSION] = ServiceHolder(settings, service)
    from .api import DeadlineState

    app.extensions["sangam-deadline"] = DeadlineState()
    observer = app.extensions[observe.OBSERVER] = observe.Observer(holder.index_state)
    app.wsgi_app = observe.Observed(app.wsgi_app, observer)  # ids, access log, metrics: every response

    app.jinja_env.filters.update(snippet=safe_snippet, safe_url=safe_url, lang_of=lang_of)
    app.before_request(_refuse_large_bodies)
    app.before_request(_refuse_bad_encoding)
    app.after_request(_security_headers)
    app.after_request(_cache_and_compress)
    errors.register(app)

    from . import api, pages

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(observe.bp)
    return app


def _refuse_large_bodies():
    # Werkzeug only enforces MAX_CONTENT_LENGTH when a view reads the body, and no view does;
    # checking the declared length here gives 413 before routing answers 404 or 405.
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        abort(413)


def _refuse_bad_encoding():
    """A query string whose percent-escapes are not UTF-8 is refused, not searched as replacement marks."""
    from urllib.parse import unquote_to_bytes

    try:
        unquote_to_bytes(request.query_string.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        from search.errors import BadQuery

        raise BadQuery("the query string is not valid UTF-8", "percent-encode the words as UTF-8") from None


#: Seconds a client or proxy may reuse a search answer: a new build shows up within this.
CACHE_SECONDS = 60
#: Responses smaller than this are sent as they are (gzip would save too little to pay for itself).
GZIP_MIN_BYTES = 1024
_NOT_CACHED = ("/api/health", "/metrics")


def _cache_and_compress(response):
    """``Cache-Control`` on every answer (errors and health never cached), and gzip where the client
    accepts it, for JSON and HTML bodies."""
    if response.status_code >= 400 or request.path in _NOT_CACHED:
        response.headers.setdefault("Cache-Control", "no-store")
    elif request.path.startswith("/api/") or request.path == "/" or request.path.startswith("/documents/"):
        response.headers.setdefault("Cache-Control", f"public, max-age={CACHE_SECONDS}")
    mimetype = response.mimetype or ""
    if (response.direct_passthrough or "Content-Encoding" in response.headers
            or not (mimetype == "application/json" or mimetype == "text/html")
            or "gzip" not in request.headers.get("Accept-Encoding", "").lower()):
        return response
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES:
        return response
    import gzip

    response.set_data(gzip.compress(body, compresslevel=5))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
