"""Ingest of 200 local Hindi article pages (fetch, extract, index), with the share of time in each part.

    python -m bench.ingest            # 200 pages from XQuAD's Hindi paragraphs, served on 127.0.0.1
"""

from __future__ import annotations

import argparse
import http.server
import json
import shutil
import sys
import threading
import time
from pathlib import Path

from bench import common

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "data" / "ingest"))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def write_site(site: Path, n: int) -> None:
    """``n`` article pages in the test fixtures' boilerplate, and a sitemap listing them."""
    from make_fixtures import page  # tests/data/ingest/make_fixtures.py

    rows = [json.loads(line) for line in (ROOT / "tests/data/xquad/xquad_hi_corpus.jsonl").open(encoding="utf-8")]
    if site.exists():
        shutil.rmtree(site)
    (site / "news").mkdir(parents=True)
    urls = []
    for i in range(n):
        text = rows[i % len(rows)]["text"] + ("" if i < len(rows) else f" (भाग {i // len(rows) + 1})")
        sentences = [s.strip() + "।" for s in text.split("।") if s.strip()]
        article = {"slug": f"news/story-{i}", "title": " ".join(text.split()[:7]), "date": "2024-10-01",
                   "author": "संवाददाता", "paragraphs": [" ".join(sentences[:len(sentences) // 2 or 1]),
                                                       " ".join(sentences[len(sentences) // 2 or 1:])]}
        article["paragraphs"] = [p for p in article["paragraphs"] if p]
        (site / f"news/story-{i}.html").write_text(page(article), "utf-8")
        urls.append(f"/news/story-{i}.html")
    (site / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "".join(f"<url><loc>{u}</loc></url>\n" for u in urls) + "</urlset>\n", "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--pages", type=int, default=200)
    args = parser.parse_args()

    from index.ingest.run import ingest
    from index.ingest.settings import IngestSettings
    from search.embedding import Embedder
    from search.settings import Settings

    work = common.WORK / "ingest"
    site, index_dir = work / "site", work / "index"
    write_site(site, args.pages)
    shutil.rmtree(index_dir, ignore_errors=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: _Quiet(*a, directory=str(site), **k))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sitemap = f"http://127.0.0.1:{server.server_port}/sitemap.xml"
    settings = Settings.from_env()
    embedder = Embedder.load(settings)
    config = IngestSettings(host_interval=0)  # a local server: no politeness pause between requests
    rows = []
    for label in ("first run (all new)", "re-run (nothing new)"):
        t0 = time.perf_counter()
        summary = ingest([sitemap], index_dir, settings, config, embedder=embedder)
        total = time.perf_counter() - t0
        built = summary.built
        embed = built.embed_seconds if built else 0.0
        index_other = (built.seconds - embed) if built else 0.0
        rest = total - summary.fetch_seconds - summary.extract_seconds - (built.seconds if built else 0.0)
        share = (lambda x: f"{x:.1f} s ({100 * x / total:.0f}%)")
        skipped = sorted({reason.split(" (")[0] for _url, reason in summary.skipped})
        rows.append([label, f"{len(summary.new)} new, {summary.unchanged} unchanged, {len(summary.skipped)} skipped, "
                     f"{len(summary.failed)} failed",
                     f"{total:.1f} s", share(summary.fetch_seconds), share(summary.extract_seconds), share(embed),
                     share(index_other), share(rest), built.embedded if built else 0])
    server.shutdown()
    common.report("ingest", f"Ingest of {args.pages} local pages (sitemap on 127.0.0.1)", common.table(
        ["run", "articles", "total", "fetch", "extract", "embed", "index (BM25, vocab, write)", "other", "passages embedded"],
        rows), [f"Pages: XQuAD Hindi paragraphs in the test fixtures' site boilerplate (tests/data/ingest); "
                f"model already loaded; no pause between requests; single-threaded fetching.",
                "The re-run revalidates every page (If-Modified-Since, 304) and builds nothing.",
                f"Skipped: {', '.join(skipped) or 'none'} (paragraphs under the 250 characters an article needs).",
                "fetch: article pages (the sitemap's own fetch is in other); embed: passages; index: BM25, "
                "the query-expansion vocabulary (new index terms embedded) and its English-lexicon "
                "neighbours, files written."])


if __name__ == "__main__":
    main()
