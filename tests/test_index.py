"""Index builds: manifest, atomic swap, lock, incremental update, mismatch errors, bad input."""

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from index import builder
from index.builder import build_index
from search import storage
from search.errors import CorpusError, IndexBusy, IndexMismatch, IndexNotFound
from search.service import SearchService


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, "utf-8")
    return path


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    write(root / "a.txt", "रूस और उत्तर कोरिया की संधि\n\nउत्तर कोरिया ने रूस के साथ रक्षा संधि की पुष्टि की।")
    write(root / "b.txt", "दिल्ली में बारिश\n\nदिल्ली में भारी बारिश से सड़कों पर पानी भर गया।")
    write(root / "sub" / "c.txt", "क्रिकेट मैच\n\nभारत ने ऑस्ट्रेलिया को क्रिकेट मैच में हराया।")
    return root


class CountingEmbedder:
    """The real model, counting the passages it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.embedded = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_passages(self, texts, **kwargs):
        self.embedded.extend(texts)
        return self.inner.encode_passages(texts, **kwargs)


def open_service(index_dir, settings, embedder):
    return SearchService.open(index_dir, settings.replace(expansion=False), embedder=embedder)


def test_seed_index_layout_and_manifest(seed_index, embedder):
    gen = storage.live_generation(seed_index)
    manifest = storage.read_manifest(gen)
    assert manifest["format_version"] == storage.FORMAT_VERSION
    assert manifest["model"]["fingerprint"] == embedder.fingerprint
    assert manifest["model"]["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert manifest["analyzer"]["version"]
    assert manifest["chunking"]["max_tokens"] == 200 and manifest["chunking"]["overlap_sentences"] == 1
    assert manifest["counts"]["documents"] == 5
    passages = storage.read_jsonl(gen / storage.PASSAGES)
    vectors = np.load(gen / storage.VECTORS)
    assert len(passages) == manifest["counts"]["passages"] == vectors.shape[0]
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert [p["passage_id"] for p in passages[:2]] == [f"{passages[0]['doc_id']}#0", f"{passages[0]['doc_id']}#1"]
    docs = {d["doc_id"]: d for d in storage.read_jsonl(gen / storage.DOCUMENTS)}
    for p in passages:  # spans point into the stored body
        assert docs[p["doc_id"]]["text"][p["start"]:p["end"]] == p["text"]
    from whoosh import index as whoosh_index

    with whoosh_index.open_dir(str(gen / storage.BM25)).searcher() as s:
        assert s.doc_count() == len(passages)


def test_failed_build_leaves_the_old_index_serving(tmp_path, corpus, settings, embedder, monkeypatch):
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, settings, embedder=embedder, progress=False)
    before = (index_dir / "CURRENT").read_text()
    write(corpus / "d.txt", "नया लेख\n\nयह एक नया लेख है जिसमें चुनाव की बात है।")

    def explode(*args, **kwargs):
        raise RuntimeError("disk fell off halfway")

    monkeypatch.setattr(builder, "_write_vocab", explode)  # after BM25 and vectors are written
    with pytest.raises(RuntimeError):
        build_index([corpus], index_dir, settings, embedder=embedder, progress=False)
    assert (index_dir / "CURRENT").read_text() == before
    assert not list(index_dir.glob(".building-*"))
    service = open_service(index_dir, settings, embedder)
    assert service.manifest["counts"]["documents"] == 3
    assert service.search("संधि", k=3).hits[0].doc_id == "a"


def test_interrupted_build_leaves_no_half_written_files(tmp_path, corpus, settings, embedder, monkeypatch):
    index_dir = tmp_path / "index"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(builder, "_write_vocab", interrupt)
    with pytest.raises(KeyboardInterrupt):
        build_index([corpus], index_dir, settings, embedder=embedder, progress=False)
    assert not (index_dir / "CURRENT").exists()
    assert not list(index_dir.glob(".building-*")) and not list(index_dir.glob("gen-*"))
    with pytest.raises(IndexNotFound) as err:
        storage.live_generation(index_dir)
    assert "search index" in str(err.value)


def test_lock_keeps_two_builders_apart(tmp_path, corpus, settings, embedder):
    index_dir = tmp_path / "index"
    with storage.build_lock(index_dir):
        with pytest.raises(IndexBusy) as err:
            build_index([corpus], index_dir, settings, embedder=embedder, progress=False)
    assert "being built" in str(err.value) and "wait" in str(err.value)
    build_index([corpus], index_dir, settings, embedder=embedder, progress=False)  # free again


def test_update_adds_changes_and_removes_without_reembedding_the_rest(tmp_path, corpus, settings, embedder):
    index_dir = tmp_path / "index"
    first = build_index([corpus], index_dir, settings, embedder=embedder, progress=False)
    old_gen = storage.live_generation(index_dir)
    old_vectors = {p["passage_id"]: v for p, v in zip(storage.read_jsonl(old_gen / storage.PASSAGES),
                                                      np.load(old_gen / storage.VECTORS))}
    write(corpus / "b.txt", "दिल्ली में बारिश\n\nदिल्ली में बाढ़ के बाद स्कूल बंद कर दिए गए।")  # changed
    (corpus / "sub" / "c.txt").unlink()  # deleted
    write(corpus / "e.txt", "अंतरिक्ष मिशन\n\nइसरो ने चंद्रमा पर नया अंतरिक्ष यान भेजा।")  # added
    counting = CountingEmbedder(embedder)
    summary = build_index([corpus], index_dir, settings, embedder=counting, update=True, progress=False)
    assert (summary.added, summary.changed, summary.removed) == (1, 1, 1)
    assert summary.documents == 3 and first.documents == 3
    gen = storage.live_generation(index_dir)
    passages = storage.read_jsonl(gen / storage.PASSAGES)
    # only the passages of b and e are embedded (new vocabulary words for expansion may be too)
    passages_embedded = [t for t in counting.embedded if t in {p["text"] for p in passages}]
    assert len(passages_embedded) == summary.embedded == 2
    assert all("दिल्ली" in t or "इसरो" in t for t in passages_embedded)
    assert not any("संधि" in t for t in counting.embedded)  # nothing from the unchanged document
    vectors = np.load(gen / storage.VECTORS)
    assert {p["doc_id"] for p in passages} == {"a", "b", "e"}
    for p, v in zip(passages, vectors):  # the unchanged document kept its vectors
        if p["doc_id"] == "a":
            assert np.array_equal(v, old_vectors[p["passage_id"]])
    service = open_service(index_dir, settings, embedder)
    assert service.search("इसरो चंद्रमा", k=1, mode="bm25").hits[0].doc_id == "e"
    assert service.search("बाढ़ स्कूल", k=1, mode="bm25").hits[0].doc_id == "b"
    assert all(h.doc_id != "sub/c" for h in service.search("क्रिकेट", k=5, mode="bm25").hits)
    assert service.search("क्रिकेट मैच", k=5, mode="bm25").total == 0


def _bm25_segments(index_dir: Path) -> tuple[int, int]:
    """(segments, deleted passages) of the live BM25 index."""
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(str(storage.live_generation(index_dir) / storage.BM25))
    return len(ix._segments()), ix.doc_count_all() - ix.doc_count()


def test_updates_merge_the_bm25_index_once_deletions_pile_up(tmp_path, settings, embedder, caplog):
    root = tmp_path / "news"
    cities = ["दिल्ली", "मुंबई", "जयपुर", "पटना", "भोपाल", "लखनऊ", "इंदौर", "कानपुर", "नागपुर", "पुणे",
              "रांची", "शिमला"]
    for i, city in enumerate(cities):
        write(root / f"{i:02}.txt", f"{city} समाचार\n\n{city} में आज नगर निगम की बैठक हुई।")
    index_dir = tmp_path / "index"
    build_index([root], index_dir, settings, embedder=embedder, progress=False)
    assert _bm25_segments(index_dir) == (1, 0)
    write(root / "00.txt", "दिल्ली समाचार\n\nदिल्ली में आज मेट्रो की नई लाइन खुली।")
    build_index([root], index_dir, settings, embedder=embedder, update=True, progress=False)
    assert _bm25_segments(index_dir) == (2, 1)  # 1 of 13 passages deleted: below the share, no merge
    for i in (1, 2):
        write(root / f"{i:02}.txt", f"{cities[i]} समाचार\n\n{cities[i]} में आज बारिश हुई।")
    with caplog.at_level(logging.INFO, logger="index.builder"):
        build_index([root], index_dir, settings, embedder=embedder, update=True, progress=False)
    assert _bm25_segments(index_dir) == (1, 0)  # 3 of 15 deleted: merged
    assert any("Merging the BM25 index: 3 of its 15" in r.getMessage() for r in caplog.records)
    service = open_service(index_dir, settings, embedder)
    assert service.search("मेट्रो", k=1, mode="bm25").hits[0].doc_id == "00"
    assert service.search("बैठक", k=20, mode="bm25").total == len(cities) - 3


def _tamper(index_dir: Path, change) -> None:
    gen = storage.live_generation(index_dir)
    manifest = json.loads((gen / storage.MANIFEST).read_text())
    change(manifest)
    (gen / storage.MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize("change,words", [
    (lambda m: m["model"].update(fingerprint="0" * 64, id="some/other-model"), ["some/other-model", "--model"]),
    (lambda m: m["analyzer"].update(version="hi-0"), ["hi-0", "search index"]),
    (lambda m: m.update(format_version=999), ["format 999", "search index"]),
])
def test_mismatched_index_is_refused_with_the_fix(tmp_path, corpus, settings, embedder, change, words):
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, settings, embedder=embedder, progress=False)
    _tamper(index_dir, change)
    with pytest.raises(IndexMismatch) as err:
        open_service(index_dir, settings, embedder)
    for word in words:
        assert word in str(err.value)


def test_update_refuses_an_index_built_by_another_model(tmp_path, corpus, settings, embedder):
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, settings, embedder=embedder, progress=False)
    _tamper(index_dir, lambda m: m["model"].update(fingerprint="f" * 64))
    with pytest.raises(IndexMismatch):
        build_index([corpus], index_dir, settings, embedder=embedder, update=True, progress=False)


@pytest.fixture
def messy(tmp_path, corpus):
    write(corpus / "latin1.txt", "caf\xe9 na\xefve".encode("latin-1"))
    write(corpus / "empty.txt", "   \n\n")
    write(corpus / "binary.txt", b"\x00\x01\x02PNG\x00\x00\xff" * 20)
    write(corpus / "more.jsonl", "\n".join([
        json.dumps({"id": "j1", "text": "जयपुर में मेला लगा।", "title": "मेला"}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "a", "text": "दोहराई गई पहचान"}, ensure_ascii=False),
    ]) + "\n")
    return corpus


def test_bad_input_is_reported_by_name_and_the_build_goes_on(tmp_path, messy, settings, embedder, caplog):
    with caplog.at_level(logging.WARNING, logger="index.builder"):
        summary = build_index([messy], tmp_path / "index", settings, embedder=embedder, progress=False)
    reports = "\n".join(map(str, summary.reports))
    assert "latin1.txt" in reports and "UTF-8" in reports
    assert "empty.txt" in reports and "empty" in reports
    assert "binary.txt" in reports
    assert "more.jsonl:2" in reports
    assert "duplicate" in reports.lower()
    assert summary.documents == 4  # a, b, c and j1
    assert any(r.levelno == logging.WARNING and r.getMessage().startswith("skipped ") for r in caplog.records)
    manifest = storage.read_manifest(storage.live_generation(tmp_path / "index"))
    assert len(manifest["skipped"]) == len(summary.reports) == 5


def test_strict_fails_the_build_and_keeps_the_previous_index(tmp_path, corpus, messy, settings, embedder):
    index_dir = tmp_path / "index"
    clean = tmp_path / "clean"
    shutil.copytree(corpus, clean, ignore=shutil.ignore_patterns("latin1.txt", "empty.txt", "binary.txt", "*.jsonl"))
    build_index([clean], index_dir, settings, embedder=embedder, progress=False)
    before = (index_dir / "CURRENT").read_text()
    with pytest.raises(CorpusError) as err:
        build_index([messy], index_dir, settings, embedder=embedder, strict=True, progress=False)
    assert "latin1.txt" in str(err.value)
    assert (index_dir / "CURRENT").read_text() == before


def test_missing_corpus_path_is_a_clear_error(tmp_path, settings, embedder):
    with pytest.raises(CorpusError) as err:
        build_index([tmp_path / "nope"], tmp_path / "index", settings, embedder=embedder)
    assert "nope" in str(err.value)
