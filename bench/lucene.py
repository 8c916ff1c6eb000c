"""Lucene (through Pyserini) as a BM25 peer on the same passages, measured in the same run.

Optional: used only when Pyserini and a JDK are installed. Pyserini 0.22.x is the last release whose Lucene
jar runs on Java 11+ (later ones need Java 21), so on Debian 12 (OpenJDK 17)::

    sudo apt-get install -y openjdk-17-jdk-headless
    .venv/bin/pip install --no-deps pyserini==0.22.1 'pyjnius<1.7'

Lucene indexes the passages Sangam indexed (title line + text, one Lucene document per passage) with its own
``HindiAnalyzer`` (``-language hi``: normalisation, light stemming, stopwords) and searches with Lucene's BM25
(k1 0.9, b 0.4, its defaults). Its index is cached next to Sangam's, keyed by the generation it copies.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import common

#: Pyserini's JVM; this one runs Pyserini 0.22's Lucene 9 jar.
JAVA_HOMES = ("/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/default-java")


def available() -> str | None:
    """None when Lucene can run here, else why not (printed under the table)."""
    if not os.environ.get("JAVA_HOME"):
        for home in JAVA_HOMES + tuple(sorted(glob.glob("/usr/lib/jvm/*"))):
            if Path(home, "bin", "java").exists():
                os.environ["JAVA_HOME"] = home
                break
    if not os.environ.get("JAVA_HOME"):
        return "no JDK found (install openjdk-17-jdk-headless)"
    try:
        import pyserini  # noqa: F401
    except ImportError:
        return "Pyserini is not installed (pip install --no-deps pyserini==0.22.1 'pyjnius<1.7')"
    return None


def build(gen: Path, threads: int = 2) -> tuple[Path, float, int]:
    """Lucene index of ``gen``'s passages: (index dir, seconds to build, passages); reused when present."""
    from search import storage

    target = common.WORK / f"lucene-{gen.parent.name}-{gen.name}"
    stamp = target / "sangam-build.json"
    if stamp.exists():
        info = json.loads(stamp.read_text())
        return target, info["seconds"], info["passages"]
    passages = storage.read_jsonl(gen / storage.PASSAGES)
    source = common.WORK / f"lucene-input-{os.getpid()}"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    with open(source / "passages.jsonl", "w", encoding="utf-8") as out:
        for p in passages:
            out.write(json.dumps({"id": p["passage_id"], "contents": p["title"] + "\n" + p["text"]},
                                 ensure_ascii=False) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    t = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "pyserini.index.lucene", "--collection", "JsonCollection",
                          "--input", str(source), "--index", str(target), "--generator",
                          "DefaultLuceneDocumentGenerator", "--threads", str(threads), "--language", "hi"],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - t
    shutil.rmtree(source, ignore_errors=True)
    if run.returncode != 0:
        raise RuntimeError(f"Lucene indexing failed: {run.stderr[-2000:]}")
    stamp.write_text(json.dumps({"seconds": seconds, "passages": len(passages)}))
    return target, seconds, len(passages)


def latency(index: Path, qs: list[str], k: int) -> list[float]:
    """Per-query milliseconds of ``LuceneSearcher.search(q, k)`` (analysis and BM25 in the JVM)."""
    from pyserini.search.lucene import LuceneSearcher

    searcher = LuceneSearcher(str(index))
    searcher.set_language("hi")
    for q in qs[:5]:
        searcher.search(q, k)
    times = []
    for q in qs:
        t = time.perf_counter()
        searcher.search(q, k)
        times.append((time.perf_counter() - t) * 1000)
    searcher.close()
    return times
