"""The ``search`` command line: query, index, ingest, info, run (TREC), serve, model."""

from __future__ import annotations

import html
import json
import logging
import re
import sys
from pathlib import Path

import click

from search.errors import SangamError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
MODES = ("hybrid", "bm25", "dense")
logger = logging.getLogger(__name__)
#: The loggers whose records the command line shows on stderr: ours only (a library's INFO stays quiet).
OUR_LOGGERS = ("search", "index", "web", "sangam")


class _Group(click.Group):
    """Turns every Sangam error into one line with the fix and a non-zero exit, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SangamError as err:
            raise click.ClickException(str(err)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # `search info | head`: the reader has gone; say nothing
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit either
            ctx.exit(0)
        except OSError as err:
            where = f" ({err.filename})" if getattr(err, "filename", None) else ""
            raise click.ClickException(f"{err.strerror or err}{where} (check the path and its permissions)") from None


def _settings(index: str | None = None, model: str | None = None, expansion: bool | None = None):
    from search.settings import Settings

    return Settings.from_env(index_dir=index, model=model, expansion=expansion)


class _Stderr(logging.StreamHandler):
    """A stream handler on whatever ``sys.stderr`` is when a record is written (click's test runner
    swaps it for each command)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def _setup_logging(level: int = logging.INFO, fmt: str = "%(message)s", names=OUR_LOGGERS) -> None:
    """Progress (INFO) and problems (WARNING) of ``names`` on stderr, one plain line each; stdout is
    left to results. Called again (another command in this process), it replaces what it set up."""
    handler = _Stderr()
    handler.setFormatter(logging.Formatter(fmt))
    for name in names:
        named = logging.getLogger(name)
        for old in [h for h in named.handlers if isinstance(h, _Stderr)]:
            named.removeHandler(old)
        named.addHandler(handler)
        named.setLevel(level)


index_option = click.option("--index", "index", metavar="DIR", default=None,
                            help="Index directory [default: $SANGAM_INDEX or ~/.local/share/sangam/index].")
model_option = click.option("--model", default=None, metavar="NAME|PATH",
                            help="sentence-transformers model name or path [default: $SANGAM_MODEL or the "
                                 "built-in multilingual-e5-small].")


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(package_name="sangam", prog_name="search")
def cli():
    """Sangam: search Hindi news in English or Hindi (BM25 + multilingual embeddings).

    \b
    Example:
      search query "treaty ratification"
      search index seeds/ --index ./my-index
      search serve --port 8000
    """
    _setup_logging()


def _is_default_index(index: str | None) -> bool:
    """True when neither --index nor SANGAM_INDEX names the index: the settings' default location."""
    import os

    return index is None and not os.environ.get("SANGAM_INDEX")


def _open_service(settings, seed: bool = False):
    """The search service over ``settings.index_dir``. With ``seed`` (the default location only), an
    index that does not exist yet is first built over the seed articles; a named index is never built
    here: one that is missing or damaged is an error naming the command that builds it."""
    from search import storage
    from search.service import SearchService
    from search.settings import seeds_dir

    if seed and storage.nothing_built(settings.index_dir):
        from index.builder import build_index

        logger.info(f"No index at {settings.index_dir} yet: building one over the seed corpus ({seeds_dir()}) ...")
        for line in build_index([seeds_dir()], settings.index_dir, settings).lines():
            logger.info(line)  # on stderr: stdout is the query's results
    return SearchService.open(settings.index_dir, settings)


def _understanding_lines(response) -> list[str]:
    """What the query was read as: "searched as", "showing results for", "did you mean"."""
    lines = []
    if response.corrected:
        lines.append(f"showing results for: {response.searched_as} · search instead for: {response.query} "
                     f"(--exact)")
    elif response.searched_as and response.searched_as != response.query:
        lines.append(f"searched as: {response.searched_as}")
    if response.did_you_mean and response.hits:  # with no results, the empty line asks it
        lines.append(f"did you mean: {response.did_you_mean} (without --exact)")
    return lines


def _terminal_snippet(snippet: str) -> str:
    parts = re.split(r"(<mark>.*?</mark>)", snippet)
    out = []
    for part in parts:
        if part.startswith("<mark>"):
            out.append(click.style(html.unescape(part[6:-7]), fg="yellow", bold=True))
        else:
            out.append(html.unescape(part))
    return "".join(out)


def _similar_line(hit) -> str:
    """ "+2 similar: Source A, Source B" for a hit with near-duplicates folded under it."""
    names = ", ".join(s.get("source") or s.get("doc_id", "") for s in hit.similar)
    return f"+{len(hit.similar)} similar: {names} (--no-collapse lists them)"


def _facet_lines(facets: dict) -> list[str]:
    return [f"{label}: " + " · ".join(f"{f['value']} ({f['count']})" for f in facets.get(name, []))
            for name, label in (("source", "sources"), ("month", "months")) if facets.get(name)]


def _empty_line(response, filtered: bool, exact: bool = False) -> str:
    """The empty state: no results, and what to try."""
    if response.page > 1 and response.ranked:
        return f"No results on page {response.page}: the {response.ranked} results end before it."
    if response.did_you_mean:
        hint = f"did you mean: {response.did_you_mean}{' (without --exact)' if exact else ''}?"
    elif filtered:
        hint = "try a wider --from/--to, other --source, or none"
    elif response.operators.get("phrases") or response.operators.get("excluded") or response.filters.get("source"):
        hint = "try it without its quotes, -words or source:"
    else:
        hint = "try fewer or other words"
    reason = getattr(response, "empty_reason", "")
    return f"No results{': ' + reason if reason else ''} ({hint})."


def _print_response(response, mode: str, page: int, filtered: bool, exact: bool = False) -> None:
    about = "" if response.total_exact else "about "
    click.echo(f"{about}{response.total} results for {response.query!r} ({response.language_label}, {mode}"
               f"{', newest first' if response.sort == 'date' else ''}) "
               f"in {response.timings_ms.get('total', 0):.0f} ms — page {page}")
    for line in _understanding_lines(response):
        click.echo(line)
    if response.expansion:
        click.echo("also searched: " + ", ".join(response.shown_expansion()))
    for line in _facet_lines(response.facets or {}):
        click.echo(line)
    for hit in response.hits:
        meta = " · ".join(x for x in (hit.date[:10], hit.source) if x)
        click.echo("")
        click.echo(f"{hit.rank:>3}. {click.style(hit.title or hit.doc_id, bold=True)}  [{hit.doc_id}]")
        click.echo(f"     score {hit.score:.4f}" + (f" · {meta}" if meta else ""))
        click.echo("     " + _terminal_snippet(hit.snippet))
        if hit.similar:
            click.echo("     " + _similar_line(hit))
    if not response.hits:
        click.echo(_empty_line(response, filtered, exact))


@cli.command()
@click.argument("text")
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, 100), help="Results per page.")
@click.option("--page", default=1, show_default=True, type=click.IntRange(1, None), help="Page of results.")
@click.option("--mode", default="hybrid", show_default=True, type=click.Choice(MODES), help="Retrieval mode.")
@click.option("--fusion", "fusion_method", default="convex", show_default=True,
              type=click.Choice(["convex", "rrf"]), help="Fusion of BM25 and dense rankings (hybrid mode).")
@click.option("--from", "date_from", default="", metavar="DATE",
              help="Only documents dated on or after DATE (2024-11-22, or a month 2024-11, or a year 2024).")
@click.option("--to", "date_to", default="", metavar="DATE",
              help="Only documents dated on or before DATE, inclusive (--to 2024-11: all of November).")
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Only documents from this source (repeat it for several: any of them).")
@click.option("--sort", default="relevance", show_default=True, type=click.Choice(["relevance", "date"]),
              help="Order: relevance, or date (newest first).")
@click.option("--no-collapse", is_flag=True, help="List near-duplicates (syndicated copies) each on its own.")
@click.option("--facets", is_flag=True, help="Also count the matches by source and by month.")
@click.option("--json", "as_json", is_flag=True, help="Print the response as JSON.")
@click.option("--no-expansion", is_flag=True, help="Do not expand English queries into Hindi terms.")
@click.option("--exact", is_flag=True, help="Search the words as typed: correct no misspelling.")
@index_option
@model_option
def query(text, k, page, mode, fusion_method, date_from, date_to, sources, sort, no_collapse, facets, as_json,
          no_expansion, exact, index, model):
    """Search the index for TEXT (English or Hindi) and print a ranked list.

    With no --index and no $SANGAM_INDEX, the first query builds an index over the seed articles in the
    default location; a named index must have been built with `search index`.

    \b
    Query syntax, inside TEXT:
      "a phrase"        its words together, in this order, in one passage
      -word             leave out stories with the word (or its Hindi forms); -"a phrase" too
      source:NAME       only that source; source:"Two Words" for a name with a space
    A query that starts with -word goes after --:  search query --sort date -- "-ukraine treaty"

    \b
    Example:
      search query "treaty ratification"
      search query "उत्तर कोरिया रूस संधि" -k 3 --json
      search query "uttar korea ne rus ke saath sandhi ki"     # romanized Hindi
      search query "tretay ratifcation" --exact                # no spelling correction
      search query '"north korea" treaty -ukraine source:bbc.com'
      search query "रूस" --from 2024-11 --to 2024-12 --source "Amar Ujala" --sort date --facets
    """
    from search.scope import Filters

    filters = Filters.checked(date_from, date_to, sources)
    settings = _settings(index, model, False if no_expansion else None)
    service = _open_service(settings, seed=_is_default_index(index))
    response = service.search(text, k=k, mode=mode, page=page, fusion_method=fusion_method, exact=exact,
                              filters=filters, sort=sort, collapse=not no_collapse, facets=facets)
    if as_json:
        click.echo(json.dumps(response.to_dict(), ensure_ascii=False, indent=2))
        return
    _print_response(response, mode, page, filters.active, exact)


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--update", is_flag=True, help="Add new, re-embed changed and drop deleted documents only.")
@click.option("--strict", is_flag=True, help="Fail the build on any skipped input instead of reporting it.")
@click.option("--quiet", is_flag=True, help="No progress bar or progress messages: only warnings and the summary.")
@click.option("--ray", "ray", is_flag=False, flag_value="local", default=None, envvar="SANGAM_RAY",
              metavar="[ADDRESS]", help="Cut and embed on a Ray cluster at ADDRESS ('auto': the one running "
                                        "here); alone, on a local Ray instance [default: $SANGAM_RAY]. Needs "
                                        "pip install -e '.[ray]'.")
@click.option("--ray-gpus", type=click.IntRange(min=0), default=None, metavar="N",
              help="With --ray: N encoder actors with one GPU each [default: actors on CPUs].")
@index_option
@model_option
def index_cmd(paths, update, strict, quiet, ray, ray_gpus, index, model):
    """Build the index over PATHS (folders of .txt/.md/.html files, or .jsonl files).

    The build is atomic: the previous index keeps serving until the new one is complete.

    \b
    Example:
      search index seeds/
      search index news/ extra.jsonl --index ./news-index --update
      search index news/ --ray              # on a local Ray instance
      search index news/ --ray=10.0.0.5:6379 --ray-gpus 4
    """
    from index.builder import build_index

    if quiet:
        _setup_logging(logging.WARNING)
    settings = _settings(index, model).replace(ray=ray, ray_gpus=ray_gpus)
    summary = build_index(list(paths), settings.index_dir, settings, update=update, strict=strict,
                          progress=not quiet)
    for line in summary.lines():
        click.echo(line)


@cli.command("ingest")
@click.argument("sources", nargs=-1, required=True)
@click.option("--every", default=None, metavar="INTERVAL",
              help="Keep running, ingesting again every INTERVAL (15m, 1h, 90s); stop with Ctrl-C or SIGTERM.")
@click.option("--lang", default=None, metavar="CODE",
              help="Keep only articles in this language (e.g. hi). Default: keep all, with their language recorded.")
@click.option("--quiet", is_flag=True, help="No per-page progress or progress messages: only warnings and the "
                                            "summary.")
@index_option
@model_option
def ingest_cmd(sources, every, lang, quiet, index, model):
    """Fetch news from SOURCES into the index: RSS/Atom feeds, sitemaps (news sitemaps and sitemap
    indexes), article URLs, or files of URLs (one a line).

    Only new and changed articles are embedded; a run with nothing new builds nothing. Each build is a
    new generation swapped in atomically, so a running `search serve` picks it up. What was fetched
    is remembered in DIR/ingest-state.json and DIR/ingest-articles.jsonl.

    \b
    Example:
      search ingest https://example.com/rss.xml --index ./news-index
      search ingest https://example.com/sitemap.xml urls.txt --index ./news-index --lang hi
      search ingest https://example.com/rss.xml --index ./news-index --every 15m
    """
    import functools
    import signal
    import threading

    from index.ingest.run import ingest
    from index.ingest.schedule import parse_interval, repeat
    from index.ingest.settings import IngestSettings

    if quiet:
        _setup_logging(logging.WARNING)
    seconds = parse_interval(every) if every is not None else None
    settings = _settings(index, model)
    config = IngestSettings(lang=lang.strip().lower() if lang else None,
                            max_page_bytes=settings.max_document_bytes)  # SANGAM_MAX_DOCUMENT_MB
    stop = threading.Event()

    @functools.cache
    def load_embedder():
        from search.embedding import Embedder

        return Embedder.load(settings)

    def run_once():
        if seconds is not None:  # a scheduled run that fails is reported; the next one runs as planned
            try:
                return ingest_once()
            except SangamError as err:
                logger.warning(f"this run failed, the index is as it was: {err}")
                return None
        return ingest_once()

    def ingest_once():
        summary = ingest(list(sources), settings.index_dir, settings, config, load_embedder=load_embedder,
                         progress=not quiet, stop=stop)
        for line in summary.lines():
            click.echo(line)
        return summary

    if seconds is None:
        summary = run_once()
        if summary.failed and not (summary.new or summary.changed or summary.unchanged):
            raise click.ClickException("nothing could be ingested (see the failures above)")
        return

    def on_signal(signum, _frame):
        if stop.is_set():  # asked twice: stop now (a build in progress is discarded, the index stays)
            raise KeyboardInterrupt
        stop.set()
        logger.warning(f"{signal.Signals(signum).name}: stopping after the current step (again to stop at once)")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        runs = repeat(run_once, seconds, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info(f"stopped after {runs} run(s)")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@click.option("--verify", is_flag=True, help="Also compare every file's sha256 with the one recorded when it was "
                                             "built (reads the whole index).")
@index_option
def info(as_json, verify, index):
    """Show what built the index: model, analyzer, chunking, counts, size on disk.

    Opening the index checks it (manifest, file sizes, counts, vectors, JSONL, BM25); a damaged one is an
    error naming the damage and the command that rebuilds it.

    \b
    Example:
      search info --index ./news-index
      search info --index ./news-index --verify
    """
    from search import storage

    settings = _settings(index)
    opened = storage.open_generation(settings.index_dir, hashes=verify)
    gen, manifest = opened.path, opened.manifest
    size = storage.disk_size(gen)
    if as_json:
        click.echo(json.dumps({**manifest, "path": str(gen), "size_bytes": size}, ensure_ascii=False, indent=2))
        return
    m = manifest
    click.echo(f"index      {settings.index_dir} ({gen.name})")
    click.echo(f"documents  {m['counts']['documents']}")
    click.echo(f"passages   {m['counts']['passages']}")
    click.echo(f"size       {size / 1e6:.1f} MB on disk")
    click.echo(f"model      {m['model']['id']} (dim {m['model']['dimension']}, "
               f"fingerprint {m['model']['fingerprint'][:16]}…)")
    click.echo(f"analyzer   {m['analyzer']['version']}")
    c = m["chunking"]
    click.echo(f"chunking   {c['version']}: ≤{c['max_tokens']} tokens, overlap {c['overlap_sentences']} "
               f"sentence(s), embeds {c['embed_text']}")
    graph = m.get("ann")
    click.echo("vectors    " + (f"exact search plus an HNSW graph (M={graph['m']}; SANGAM_ANN=0 searches exactly)"
                              if graph else "exact search"))
    click.echo(f"built      {m['built_at']} in {m['build_seconds']}s from {', '.join(m['sources'])}")
    if m.get("skipped"):
        click.echo(f"skipped    {len(m['skipped'])} input(s)")
    unread = (m.get("date_warnings") or {}).get("count", 0)
    if unread:
        click.echo(f"dates      {unread} document(s) with a date that could not be read (left empty; "
                   f"--json shows which)")
    if verify:
        click.echo(f"verified   {len(m['files'])} files match the sha256 recorded when they were built")


@cli.command()
@click.option("--topics", required=True, type=click.Path(exists=True, dir_okay=False),
              help="TSV file: qid<TAB>query per line.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="TREC run file to write.")
@click.option("-k", "k", default=100, show_default=True, type=click.IntRange(1, 100), help="Hits per query.")
@click.option("--mode", default="hybrid", show_default=True, type=click.Choice(MODES), help="Retrieval mode.")
@click.option("--fusion", "fusion_method", default="convex", show_default=True,
              type=click.Choice(["convex", "rrf"]), help="Fusion of BM25 and dense rankings.")
@click.option("--no-expansion", is_flag=True, help="Do not expand English queries into Hindi terms.")
@click.option("--tag", default=None, help="Run tag in the TREC file [default: sangam-MODE].")
@index_option
@model_option
def run(topics, output, k, mode, fusion_method, no_expansion, tag, index, model):
    """Run every query in a topics file and write a TREC run (qid Q0 docid rank score tag).

    An id with whitespace or control characters in it (a JSONL id can have any) is written
    percent-encoded, so that every line has six fields.

    \b
    Example:
      search run --topics queries.tsv --output run.trec --mode hybrid -k 100
      python3 score.py qrels.txt run.trec
    """
    from tqdm import tqdm

    from search import trec
    from search.errors import BadQuery

    settings = _settings(index, model, False if no_expansion else None)
    rows = []
    for n, line in enumerate(Path(topics).read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        qid, sep, text = line.partition("\t")
        if not sep or not qid.strip():
            raise click.ClickException(f"{topics}:{n}: expected 'qid<TAB>query' (use a tab-separated file)")
        rows.append((qid.strip(), text.strip()))
    service = _open_service(settings)
    tag = tag or f"sangam-{mode}"
    out_path = Path(output)
    tmp = out_path.with_name(out_path.name + ".tmp")
    skipped = 0
    with open(tmp, "w", encoding="utf-8") as out:
        for qid, text in tqdm(rows, desc="queries", unit="q", file=sys.stderr, disable=len(rows) < 20):
            try:
                response = service.search(text, k=k, mode=mode, fusion_method=fusion_method)
            except BadQuery as err:
                logger.warning(f"skipped query {qid}: {err}")
                skipped += 1
                continue
            for hit in response.hits:
                out.write(trec.run_line(qid, hit.doc_id, hit.rank, hit.score, tag))
    tmp.replace(out_path)
    logger.info(f"wrote {out_path} ({len(rows) - skipped} queries, {skipped} skipped)")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Loopback by default so the index is not exposed to the network; "
                   "use 0.0.0.0 only behind a firewall or proxy you trust.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Worker threads.")
@click.option("--connections", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Open connections before new ones wait (idle ones hold a socket, never a thread).")
@click.option("--idle-timeout", default=30, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds an idle connection is kept open.")
@index_option
@model_option
def serve(host, port, threads, connections, idle_timeout, index, model):
    """Serve the REST API and the search page with a production WSGI server (waitress).

    Logs one access line per request (with its X-Request-Id) to stderr; Prometheus metrics at /metrics.

    \b
    Example:
      search serve --port 8000
      curl 'http://127.0.0.1:8000/api/search?q=treaty+ratification&k=3'
    """
    from web.app import create_app
    from web.server import serve as serve_app

    from search.settings import ServerSettings

    # timestamped, and waitress's own lines too (its queue warnings): a server's log is read later
    _setup_logging(fmt="%(asctime)s %(name)s %(message)s", names=(*OUR_LOGGERS, "waitress"))
    settings = _settings(index, model)
    service = _open_service(settings, seed=_is_default_index(index))
    from search import storage

    storage.check_owner_only(service.index_dir)
    # the word lists of romanized/misspelled queries and suggestions, built while the server starts
    import threading

    threading.Thread(target=service.warm, name="sangam-warm", daemon=True).start()
    app = create_app(settings=settings, service=service)
    logger.info(f"Serving {settings.index_dir} on http://{host}:{port}/ (Ctrl+C to stop)")
    serve_app(app, ServerSettings(host=host, port=port, threads=threads, connections=connections,
                                  idle_timeout=idle_timeout))


@cli.command("model")
@model_option
def model_cmd(model):
    """Build (if needed) and load the embedding model, then print its id and fingerprint.

    \b
    Example:
      search model
      search model --model /path/to/sentence-transformers-model
    """
    from search.embedding import Embedder

    embedder = Embedder.load(_settings(model=model))
    shown = {**embedder.describe(), "query_runtime": embedder.query_runtime}
    click.echo(json.dumps(shown, ensure_ascii=False, indent=2))


def main() -> None:
    try:
        cli.main(prog_name="search")
    except SangamError as err:  # raised outside a command (e.g. while parsing)
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
