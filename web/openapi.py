"""The OpenAPI 3.1 description of /api; its schemas are JSON Schema 2020-12 and the tests hold responses to them."""

from __future__ import annotations

from search.query import MAX_QUERY_CHARS
from search.scope import MAX_SOURCES
from search.service import FUSIONS, MAX_K, MODES, SORTS

_NUM_OR_NULL = {"type": ["number", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"], "minimum": 1}


def _obj(properties: dict, *, required: list[str] | None = None, strict: bool = True, **extra) -> dict:
    """An object schema; every property required and no others allowed unless said otherwise."""
    schema = {"type": "object", "properties": properties,
              "required": list(properties) if required is None else required}
    if strict:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict = {
    "Explanation": _obj({
        "bm25_rank": {**_INT_OR_NULL, "description": "Rank of the document in the BM25 list (null: not retrieved)"},
        "bm25_score": _NUM_OR_NULL,
        "dense_rank": {**_INT_OR_NULL, "description": "Rank in the dense (embedding) list (null: not retrieved)"},
        "dense_score": _NUM_OR_NULL,
        "lexical_weight": {"type": "number", "minimum": 0, "maximum": 1,
                           "description": "Weight given to BM25 in the fusion (1 - weight goes to dense)"},
        "fusion": {"type": "string", "enum": [*FUSIONS, "bm25", "dense"]},
    }, description="Why a document ranks where it does"),
    "Hit": _obj({
        "rank": {"type": "integer", "minimum": 1},
        "doc_id": {"type": "string"},
        "title": {"type": "string"},
        "date": {"type": "string"},
        "source": {"type": "string"},
        "url": {"type": "string"},
        "score": {"type": "number"},
        "passage_id": {"type": "string"},
        "snippet": {"type": "string", "description": "HTML: escaped text, matched terms in <mark>…</mark>"},
        "explanation": _ref("Explanation"),
        "similar": {"type": "array", "items": _ref("Similar"),
                    "description": "Near-duplicates (syndicated copies of this story) folded under it: "
                                   "show '+2 similar: Source A, Source B'; collapse=0 lists them as hits"},
    }),
    "Similar": _obj({
        "doc_id": {"type": "string"},
        "title": {"type": "string"},
        "source": {"type": "string"},
        "url": {"type": "string"},
    }, description="A near-identical copy of a hit, found at index time"),
    "FacetValue": _obj({
        "value": {"type": "string"},
        "count": {"type": "integer", "minimum": 1, "description": "Matching documents with this value"},
    }),
    "Facets": _obj({
        "source": {"type": "array", "items": _ref("FacetValue"),
                   "description": "Matching documents by source (display name; pass it as source=…), most first"},
        "month": {"type": "array", "items": _ref("FacetValue"),
                  "description": "Matching documents by month (YYYY-MM; pass it as from=…&to=…), newest first"},
    }, description="Counts of the matching documents (every match, not only this page)"),
    "Filters": _obj({
        "from": {"type": "string", "description": "ISO date or prefix ('' when unset)"},
        "to": {"type": "string", "description": "ISO date or prefix, inclusive ('' when unset)"},
        "source": {"type": "array", "items": {"type": "string"},
                   "description": "Sources asked for, by source=… or source:NAME in the query"},
    }, description="The filters applied"),
    "Operators": _obj({
        "phrases": {"type": "array", "items": {"type": "string"}, "description": "Quoted phrases that must occur"},
        "excluded": {"type": "array", "items": {"type": "string"},
                     "description": "-words: documents holding them (or their Hindi expansions and "
                                    "transliterations) are left out"},
    }, description="The query's own syntax, as read"),
    "Related": _obj({
        "doc_id": {"type": "string"},
        "title": {"type": "string"},
        "date": {"type": "string"},
        "source": {"type": "string"},
        "url": {"type": "string"},
        "similarity": {"type": "number", "minimum": -1, "maximum": 1},
    }, description="Another story near a document"),
    "RelatedList": _obj({
        "doc_id": {"type": "string"},
        "related": {"type": "array", "items": _ref("Related"), "maxItems": 20,
                    "description": "Best first; the document itself and its near-duplicates are left out"},
    }),
    "ExpansionTerm": _obj({
        "term": {"type": "string", "description": "The index term searched (analysed: normalised and stemmed)"},
        "surface": {"type": "string", "description": "How the term is most often written in the index, for display"},
        "weight": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    }),
    "Reading": _obj({
        "word": {"type": "string", "description": "The word as typed"},
        "kind": {"type": "string", "enum": ["english", "hindi", "romanized", "corrected", "other"],
                 "description": "How it was read: an English word, a Hindi word in Devanagari, romanized "
                                "Hindi (searched in Devanagari), a misspelling (searched corrected), or "
                                "anything else (numbers, punctuation)"},
        "text": {"type": "string", "description": "What was searched for it"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "alternatives": {"type": "array", "items": {"type": "string"},
                         "description": "Weaker readings, searched at a lower weight"},
        "typed": {"type": "string", "enum": ["word", "sure", "guess", "unknown", "other"],
                  "description": "How it stood as typed: a word (or romanized as one is), a correction one "
                                 "edit from a long word (sure), a correction made-up words get as readily "
                                 "(guess: a query with more guesses than words and sure corrections needs "
                                 "telling terms of two of its words in one document), kept as typed though "
                                 "unknown, or not a word"},
    }, description="How one query word was read"),
    "SearchResponse": _obj({
        "query": {"type": "string", "description": "The query as typed (whitespace collapsed)"},
        "mode": {"type": "string", "enum": list(MODES)},
        "language": {"type": "string", "enum": ["hi", "hi-Latn", "en", "mixed", "unknown"],
                     "description": "hi-Latn: Hindi written in Latin letters (romanized)"},
        "searched_as": {"type": "string", "description": "The query as searched: romanized Hindi in "
                        "Devanagari, misspellings corrected (equal to query when neither applies)"},
        "language_label": {"type": "string", "description": "How the query was read, for people: "
                           "'Hindi', 'Hindi (romanized)', 'English', ..."},
        "corrected": {"type": "boolean", "description": "Some word was corrected: show 'Showing results for "
                      "<searched_as> · search instead for <query>' (the second part with exact=1)"},
        "did_you_mean": {"type": "string", "description": "With exact=1: the corrected query, when it "
                         "differs; when nothing matched because the query's words were only guesses at "
                         "words and none was corrected (else searched_as names it), how it was read "
                         "('yuiop': 'यूरोप'); empty otherwise"},
        "readings": {"type": "array", "items": _ref("Reading")},
        "script": {"type": "string", "enum": ["devanagari", "latin", "mixed", "none"]},
        "terms": {"type": "array", "items": {"type": "string"}},
        "expansion": {"type": "array", "items": _ref("ExpansionTerm"),
                      "description": "Hindi terms added to an English query (empty for Hindi queries)"},
        "k": {"type": "integer", "minimum": 1, "maximum": MAX_K},
        "page": {"type": "integer", "minimum": 1},
        "total": {"type": "integer", "minimum": 0,
                  "description": "Matching documents (near-duplicates counted each); an estimate when "
                                 "total_exact is false"},
        "hits": {"type": "array", "items": _ref("Hit"), "maxItems": MAX_K},
        "timings_ms": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0},
                       "required": ["total"]},
        "total_exact": {"type": "boolean", "description": "false: total was counted from the nearest-"
                        "neighbour graph's candidates, and more may match (say 'about N results')"},
        "ranked": {"type": "integer", "minimum": 0, "description": "Results ranked, after near-duplicates "
                   "are folded: the pages end here (use it, not total, for a pager)"},
        "sort": {"type": "string", "enum": list(SORTS)},
        "filters": _ref("Filters"),
        "operators": _ref("Operators"),
        "facets": {"oneOf": [_ref("Facets"), {"type": "null"}], "description": "null unless facets=1"},
        "empty_reason": {"type": "string", "description": "When nothing matched, why ('no word of the query "
                         "is in the index', ...); '' otherwise"},
    }),
    "Document": _obj({
        "doc_id": {"type": "string"},
        "title": {"type": "string"},
        "text": {"type": "string"},
        "date": {"type": "string"},
        "source": {"type": "string"},
        "url": {"type": "string"},
        "lang": {"type": "string"},
        "date_raw": {"type": "string", "description": "The date as the source wrote it (date: ISO-8601, "
                     "'' when it could not be read)"},
        "source_id": {"type": "string", "description": "What the source is matched and counted by"},
        "dup_group": {"type": "string", "description": "The doc_id of its near-duplicate group's "
                      "representative ('' when it has no copies)"},
    }, required=["doc_id", "title", "text", "date", "source", "url", "lang"]),
    "Suggestions": _obj({
        "query": {"type": "string"},
        "suggestions": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
    }),
    "Health": _obj({
        "ok": {"const": True},
        "documents": {"type": "integer", "minimum": 0},
        "passages": {"type": "integer", "minimum": 0},
        "model": {"type": "string"},
        "generation": {"type": "string", "description": "The index build served (gen-…); it changes when a "
                       "new build is swapped in, which the server follows within about a second"},
        "age_seconds": {"type": "number", "minimum": 0, "description": "Seconds since that build was made"},
    }),
    "Info": _obj({
        "format_version": {"type": "integer"},
        "model": _obj({
            "id": {"type": "string"},
            "fingerprint": {"type": "string"},
            "dimension": {"type": "integer", "minimum": 1},
            "prompts": _obj({"query": {"type": ["string", "null"]}, "passage": {"type": ["string", "null"]}}),
            "max_seq_length": {"type": ["integer", "null"]},
            "precision": {"type": "string", "enum": ["fp32", "bf16", "int8"],
                          "description": "How passages were encoded (absent in indexes built before it was recorded)"},
        }, required=["id", "fingerprint", "dimension", "prompts", "max_seq_length"]),
        "analyzer": _obj({"version": {"type": "string"}}),
        "chunking": {"type": "object", "description": "The chunking settings the index was built with"},
        "counts": _obj({"documents": {"type": "integer", "minimum": 0},
                        "passages": {"type": "integer", "minimum": 0}}),
        "built_at": {"type": "string"},
        "build_seconds": {"type": "number"},
        "skipped": {"type": "integer", "minimum": 0, "description": "How many inputs the build skipped"},
        "date_warnings": {"type": "integer", "minimum": 0,
                          "description": "How many documents have a date that could not be read (left empty)"},
        "expansion": {"type": "boolean", "description": "Whether English queries are expanded with Hindi terms"},
        "modes": {"type": "array", "items": {"type": "string", "enum": list(MODES)}},
        "fusion_methods": {"type": "array", "items": {"type": "string", "enum": list(FUSIONS)}},
        "limits": _obj({"max_k": {"const": MAX_K}, "max_query_chars": {"const": MAX_QUERY_CHARS},
                        "max_body_bytes": {"type": "integer"}}),
    }),
    "Error": _obj({
        "ok": {"const": False},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "error": {"type": "string", "description": "What went wrong, then the fix in parentheses"},
    }),
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    text = {400: "Bad query or parameter", 404: "Not found", 405: "Method not allowed",
            413: "Request body too large", 500: "Unexpected server error (details only in the server log)",
            503: "The index is not available"}
    return {str(code): _json(_ref("Error"), text[code]) for code in codes}


def _query_param(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def spec(max_body_bytes: int) -> dict:
    """The OpenAPI document served at /api/openapi.json."""
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Sangam search API",
            "version": "1",
            "description": "Bilingual (English/Hindi) search over Hindi news: BM25, dense embeddings and "
                           f"their fusion. Every error is one JSON body (Error). Request bodies over "
                           f"{max_body_bytes // 1024} KB are refused with 413.",
        },
        "paths": {**_search_paths(), **_other_paths()},
        "components": {"schemas": SCHEMAS},
    }


#: The query syntax (search/syntax.py), for the spec's readers.
SYNTAX = ('Query syntax: "a quoted phrase" must occur as written, in one passage (an English phrase: its '
          "Hindi translations together); -word leaves out documents holding the word, its Hindi expansions "
          'or transliterations (-"a phrase" too); source:NAME or source:"Two Words" keeps one source. '
          "Anything else is a plain word, and an unbalanced quote is a plain character. Example: "
          '\'"north korea" treaty -ukraine source:bbc.com\'.')


def _search_parameters() -> list[dict]:
    date = {"type": "string", "pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$"}
    return [
        _query_param("q", {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
                     "The query, in English or Hindi: Devanagari, or romanized (any spelling: 'uttar korea "
                     "ne rus ke saath sandhi ki'); misspellings are corrected unless exact=1. " + SYNTAX,
                     required=True),
        _query_param("k", {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}, "Results per page"),
        _query_param("page", {"type": "integer", "minimum": 1, "default": 1}, "Page, from 1"),
        _query_param("mode", {"type": "string", "enum": list(MODES), "default": "hybrid"},
                     "Retriever: both fused, BM25 only, or dense only"),
        _query_param("fusion", {"type": "string", "enum": list(FUSIONS), "default": "convex"},
                     "How hybrid mode fuses the two lists"),
        _query_param("exact", {"type": "integer", "enum": [0, 1], "default": 0},
                     "1: search the words as typed, correcting no spelling (the 'search instead for' "
                     "link); the response's did_you_mean then holds the corrected query"),
        _query_param("from", date, "Only documents dated on or after this ISO date; a prefix is a whole "
                     "year or month (2024, 2024-11, 2024-11-22). Undated documents are left out"),
        _query_param("to", date, "Only documents dated on or before this date, inclusive by prefix "
                     "(to=2024-11 takes all of November)"),
        {**_query_param("source", {"type": "array", "items": {"type": "string", "minLength": 1},
                                   "maxItems": MAX_SOURCES},
                        "Only documents from these sources (repeat it: source=A&source=B; any of them), "
                        "by display name in any case or spacing, as the facets list them"),
         "style": "form", "explode": True},
        _query_param("sort", {"type": "string", "enum": list(SORTS), "default": "relevance"},
                     "relevance, or date: newest first (undated documents last)"),
        _query_param("collapse", {"type": "integer", "enum": [0, 1], "default": 1},
                     "1: near-duplicates (syndicated copies) are folded under the best of them, in its "
                     "'similar'; 0: every copy is a hit of its own"),
        _query_param("facets", {"type": "integer", "enum": [0, 1], "default": 0},
                     "1: also count the matching documents by source and by month (facets)"),
    ]


def _search_paths() -> dict:
    return {
        "/api/search": {"get": {
            "operationId": "search",
            "summary": "Search the index",
            "description": "Any parameter not listed here is refused with 400, naming it. " + SYNTAX,
            "parameters": _search_parameters(),
            "responses": {"200": _json(_ref("SearchResponse"), "Ranked hits"),
                          **_errors(400, 405, 413, 500, 503)},
        }},
        "/api/documents/{doc_id}/related": {"get": {
            "operationId": "related",
            "summary": "Other stories near a document",
            "description": "Found by the document's passage vectors; the document itself and its "
                           "near-duplicates (copies of one story) are left out.",
            "parameters": [{"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string"}},
                           _query_param("k", {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
                                        "How many")],
            "responses": {"200": _json(_ref("RelatedList"), "Related stories, best first"),
                          **_errors(400, 404, 405, 500, 503)},
        }},
    }


def _other_paths() -> dict:
    return {
        "/api/suggest": {"get": {
            "operationId": "suggest",
            "summary": "Up to 8 completions of a query being typed",
            "description": "The last word is completed from the index's titles and frequent words, in "
                           "Devanagari for a Devanagari or romanized prefix ('uttar kor' -> 'उत्तर कोरिया').",
            "parameters": [_query_param("q", {"type": "string", "maxLength": 200},
                                        "The words typed so far", required=True)],
            "responses": {"200": _json(_ref("Suggestions"), "Completions, best first"),
                          **_errors(400, 405, 500, 503)},
        }},
        "/api/documents/{doc_id}": {"get": {
            "operationId": "document",
            "summary": "One document, in full",
            "parameters": [{"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _json(_ref("Document"), "The document"), **_errors(404, 405, 500, 503)},
        }},
        "/api/health": {"get": {
            "operationId": "health",
            "summary": "Liveness: the index is loaded and answering",
            "responses": {"200": _json(_ref("Health"), "Ready"), **_errors(500, 503)},
        }},
        "/api/info": {"get": {
            "operationId": "info",
            "summary": "What the index was built with, and the API's limits",
            "responses": {"200": _json(_ref("Info"), "Index summary"), **_errors(500, 503)},
        }},
        "/api/openapi.json": {"get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1 document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }},
    }
