"""The HTML pages: the search page at / (server-rendered, works without JavaScript) and document pages."""

from __future__ import annotations

import calendar
import math

from flask import Blueprint, render_template, request, url_for

from search.errors import BadQuery
from search.scope import Filters, source_key
from search.service import MODES, SORTS

from .markup import paragraphs
from .params import DEFAULT_FUSION, DEFAULT_K, DEFAULT_MODE, DEFAULT_SORT, SEARCH_PARAMS, only_known, search_args
from .state import current_service

bp = Blueprint("pages", __name__)

MODE_LABELS = {"hybrid": "Hybrid (words + meaning)", "bm25": "Words only (BM25)", "dense": "Meaning only (dense)"}
SORT_LABELS = {"relevance": "Relevance", "date": "Newest first"}
LANGUAGE_NAMES = {"hi": "Hindi", "hi-Latn": "Hindi (romanized)", "en": "English", "mixed": "mixed Hindi/English",
                  "unknown": "unknown language"}
RELATED_K = 5


@bp.get("/")
def index():
    q = request.args.get("q")
    context = {"q": q or "", "mode": request.args.get("mode") or DEFAULT_MODE, "modes": MODES,
               "mode_labels": MODE_LABELS, "sorts": SORTS, "sort_labels": SORT_LABELS,
               "sort": request.args.get("sort") or DEFAULT_SORT, "languages": LANGUAGE_NAMES,
               "form": _form(request.args), "response": None, "error": None}
    try:
        only_known(request.args, SEARCH_PARAMS)
        if q is None or not q.strip():  # the bare page: just the form
            return render_template("search.html", **context)
        args = search_args(request.args)
        service = current_service()
        # the page always shows the facets: they are its filters
        response = service.search(**{**args.as_kwargs(), "facets": True}).to_dict()
    except BadQuery as e:
        context["error"] = str(e)
        return render_template("search.html", **context), 400
    keep = _kept(args)
    context.update(response=response, pager=_pager(response, keep), keep=keep,
                   facets=_facets(service, args, response, keep), filtered=_filtered(args))
    context["form"]["sources"] = _source_choices(args, context["facets"])
    return render_template("search.html", **context)


def _kept(args) -> dict:
    """The parameters that links from a results page carry along (defaults left out)."""
    f = args.filters
    keep = {"q": args.q, "mode": args.mode if args.mode != DEFAULT_MODE else None,
            "k": args.k if args.k != DEFAULT_K else None,
            "fusion": args.fusion if args.fusion != DEFAULT_FUSION else None,
            "exact": 1 if args.exact else None,
            "from": f.date_from or None, "to": f.date_to or None, "source": list(f.sources) or None,
            "sort": args.sort if args.sort != DEFAULT_SORT else None,
            "collapse": 0 if not args.collapse else None}
    return {key: v for key, v in keep.items() if v is not None}


def _pager(response: dict, keep: dict) -> dict:
    """Links to the previous and next pages, keeping the query and its settings. Pages end where the
    ranked results (near-duplicates folded) end, not at ``total``."""
    pages = max(1, math.ceil(response["ranked"] / response["k"]))

    def link(page: int) -> str:
        return url_for("pages.index", **keep, page=page)

    page = response["page"]
    return {"page": page, "pages": pages,
            "first_rank": (page - 1) * response["k"] + 1,
            "first": link(1) if page > 1 else None,
            "prev": link(min(page - 1, pages)) if page > 1 else None,
            "next": link(page + 1) if page < pages else None}


def _day(prefix: str, end: bool) -> str:
    """An ISO prefix as the day a date input shows: the first (or, with ``end``, last) day it covers."""
    if not prefix or len(prefix) == 10:
        return prefix
    year = int(prefix[:4])
    month = int(prefix[5:7]) if len(prefix) == 7 else (12 if end else 1)
    day = calendar.monthrange(year, month)[1] if end else 1
    return f"{year:04d}-{month:02d}-{day:02d}"


def _form(args) -> dict:
    """What the form shows before a search has checked anything (the dates as the inputs take them)."""
    def day(name: str, end: bool) -> str:
        value = (args.get(name) or "").strip()
        try:
            return _day(value, end)
        except ValueError:  # not a date: the search reports it; the input shows it as typed
            return value
    return {"from": day("from", False), "to": day("to", True), "sources": []}


def _month_bounds(month: str) -> tuple[str, str]:
    return _day(month, False), _day(month, True)


def _facets(service, args, response: dict, keep: dict) -> dict:
    """The facet chips: each source and month with its count and the link that filters by it (or, for
    the one chosen, the link that clears it). With sources chosen, the source counts are those of the
    query without them, so the other sources can still be picked."""
    counted = response.get("facets") or {"source": [], "month": []}
    sources = counted["source"]
    if args.filters.sources:
        unfiltered = Filters(args.filters.date_from, args.filters.date_to, ())
        other = service.search(**{**args.as_kwargs(), "filters": unfiltered, "k": 1, "page": 1, "facets": True})
        sources = (other.facets or {}).get("source", sources)
    chosen = {source_key(s) for s in args.filters.sources}
    base = {key: v for key, v in keep.items() if key != "page"}
    source_chips = []
    for item in sources:
        on = source_key(item["value"]) in chosen
        rest = [s for s in args.filters.sources if source_key(s) != source_key(item["value"])]
        href = url_for("pages.index", **{**base, "source": rest or None} if on else {**base, "source": [item["value"]]})
        source_chips.append({**item, "on": on, "href": href})
    span = (args.filters.date_from, args.filters.date_to)
    month_chips = []
    for item in counted["month"]:
        bounds = _month_bounds(item["value"])
        on = span == bounds or span == (item["value"], item["value"])
        values = {**base, "from": None, "to": None} if on else {**base, "from": bounds[0], "to": bounds[1]}
        month_chips.append({**item, "on": on, "href": url_for("pages.index", **values)})
    return {"source": source_chips, "month": month_chips}


def _source_choices(args, facets: dict) -> list[dict]:
    """The form's source checkboxes: the sources the facets list, and any chosen that they do not."""
    listed = [{"value": c["value"], "count": c["count"], "on": c["on"]} for c in facets["source"]]
    known = {source_key(c["value"]) for c in listed}
    listed += [{"value": s, "count": 0, "on": True} for s in args.filters.sources if source_key(s) not in known]
    return listed


def _filtered(args) -> dict | None:
    """When filters narrowed the search: the link that drops them (the query's source: stays in it)."""
    if not args.filters.active:
        return None
    keep = _kept(args)
    return {"href": url_for("pages.index", **{**keep, "from": None, "to": None, "source": None})}


@bp.get("/documents/<path:doc_id>")
def document(doc_id: str):
    service = current_service()
    doc = service.document(doc_id)
    # links from a results page carry the search along, so the page can link back to it
    keep = {key: request.args.getlist(key) if key == "source" else request.args[key]
            for key in SEARCH_PARAMS if key != "page" and request.args.get(key)}
    back = url_for("pages.index", **keep) if keep.get("q", "").strip() else None
    related = service.related(doc_id, k=RELATED_K)
    return render_template("document.html", doc=doc, paragraphs=paragraphs(doc.get("text", "")), back=back,
                           related=related, keep=keep)
