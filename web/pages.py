"""The HTML pages: the search page at / (server-rendered, works without JavaScript) and document pages."""

from __future__ import annotations

import math

from flask import Blueprint, render_template, request, url_for

from search.errors import BadQuery
from search.service import MODES

from .markup import paragraphs
from .params import DEFAULT_FUSION, DEFAULT_K, DEFAULT_MODE, search_args
from .state import current_service

bp = Blueprint("pages", __name__)

MODE_LABELS = {"hybrid": "Hybrid (words + meaning)", "bm25": "Words only (BM25)", "dense": "Meaning only (dense)"}
LANGUAGE_NAMES = {"hi": "Hindi", "hi-Latn": "Hindi (romanized)", "en": "English", "mixed": "mixed Hindi/English",
                  "unknown": "unknown language"}


@bp.get("/")
def index():
    q = request.args.get("q")
    context = {"q": q or "", "mode": request.args.get("mode") or DEFAULT_MODE, "modes": MODES,
               "mode_labels": MODE_LABELS, "languages": LANGUAGE_NAMES, "response": None, "error": None}
    if q is None or not q.strip():  # the bare page: just the form
        return render_template("search.html", **context)
    try:
        args = search_args(request.args)
        response = current_service().search(**args.as_kwargs()).to_dict()
    except BadQuery as e:
        context["error"] = str(e)
        return render_template("search.html", **context), 400
    keep = _kept(args)
    context.update(response=response, pager=_pager(response, keep), keep=keep)
    return render_template("search.html", **context)


def _kept(args) -> dict:
    """The parameters that links from a results page carry along (defaults left out)."""
    keep = {"q": args.q, "mode": args.mode if args.mode != DEFAULT_MODE else None,
            "k": args.k if args.k != DEFAULT_K else None,
            "fusion": args.fusion if args.fusion != DEFAULT_FUSION else None,
            "exact": 1 if args.exact else None}
    return {key: v for key, v in keep.items() if v is not None}


def _pager(response: dict, keep: dict) -> dict:
    """Links to the previous and next pages, keeping the query, mode and page size."""
    pages = max(1, math.ceil(response["total"] / response["k"]))

    def link(page: int) -> str:
        return url_for("pages.index", **keep, page=page)

    page = response["page"]
    return {"page": page, "pages": pages,
            "first_rank": (page - 1) * response["k"] + 1,
            "prev": link(min(page - 1, pages)) if page > 1 else None,
            "next": link(page + 1) if page < pages else None}


@bp.get("/documents/<path:doc_id>")
def document(doc_id: str):
    doc = current_service().document(doc_id)
    # links from a results page carry the search along, so the page can link back to it
    keep = {key: request.args[key] for key in ("q", "mode", "k", "fusion") if request.args.get(key)}
    back = url_for("pages.index", **keep) if keep.get("q", "").strip() else None
    return render_template("document.html", doc=doc, paragraphs=paragraphs(doc.get("text", "")), back=back)
