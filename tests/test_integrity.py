"""A damaged index is refused with one line naming the damage and the rebuild, and never rebuilt.

Each case copies the session's seed index, damages the copy in one way and runs ``search query`` and
``search info`` on it. A case marked "re-recorded" also rewrites the manifest's file table to match the
damaged files, as a consistent but wrong build would, so that the checks behind the size check are
the ones that must catch it.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from search import storage
from sangam.cli import cli


@pytest.fixture
def runner(embedder, monkeypatch):
    """A CLI runner whose commands reuse the session's model instead of loading it again."""
    from search.embedding import Embedder

    monkeypatch.setattr(Embedder, "load", classmethod(lambda cls, *a, **k: embedder))
    monkeypatch.delenv("SANGAM_INDEX", raising=False)
    return CliRunner()


def _manifest(gen: Path) -> dict:
    return json.loads((gen / storage.MANIFEST).read_text("utf-8"))


def _edit_manifest(gen: Path, change) -> None:
    manifest = _manifest(gen)
    change(manifest)
    (gen / storage.MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")


def _rerecord(gen: Path) -> None:
    _edit_manifest(gen, lambda m: m.update(files=storage.file_table(gen)))


def _rewrite_vectors(gen: Path, change) -> None:
    vectors = np.load(gen / storage.VECTORS)
    np.save(gen / storage.VECTORS, change(vectors))
    _rerecord(gen)


def _garble_line(gen: Path, name: str, line: int = 2) -> None:
    """Same size: the line's opening brace becomes '#', so it is no longer JSON."""
    lines = (gen / name).read_bytes().split(b"\n")
    lines[line - 1] = b"#" + lines[line - 1][1:]
    (gen / name).write_bytes(b"\n".join(lines))


def _drop_line(gen: Path, name: str) -> None:
    lines = (gen / name).read_text("utf-8").splitlines(keepends=True)
    (gen / name).write_text("".join(lines[:-1]), "utf-8")
    _rerecord(gen)


def _stray_passage(gen: Path) -> None:
    rows = storage.read_jsonl(gen / storage.PASSAGES)
    rows[0]["doc_id"] = "no-such-document"
    storage.write_jsonl(gen / storage.PASSAGES, rows)
    _rerecord(gen)


def _nan_vector(gen: Path) -> None:
    """Same size: one float of the last row becomes NaN."""
    with open(gen / storage.VECTORS, "r+b") as handle:
        handle.seek(-4, 2)
        handle.write(np.array([np.nan], np.float32).tobytes())


def _overwrite(path: Path, *, keep_header: int = 0) -> None:
    """Same size, other bytes."""
    data = path.read_bytes()
    noise = bytes((7 * i + 13) % 256 for i in range(len(data) - keep_header))
    path.write_bytes(data[:keep_header] + noise)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _segment(gen: Path) -> Path:
    return next((gen / storage.BM25).glob("*.seg"))


def _toc(gen: Path) -> Path:
    return next((gen / storage.BM25).glob("*.toc"))


def _set_current(gen: Path, content: bytes) -> None:
    (gen.parent / "CURRENT").write_bytes(content)


#: name -> (damage applied to the copy's live generation, words the one error line must contain)
DAMAGE = {
    "manifest is {}": (lambda g: (g / storage.MANIFEST).write_text("{}"), "format_version is missing"),
    "manifest is a list": (lambda g: (g / storage.MANIFEST).write_text("[1, 2]"), "holds a list"),
    "manifest model is null": (lambda g: _edit_manifest(g, lambda m: m.update(model=None)),
                               "model is null, not an object"),
    "manifest dimension is a string": (lambda g: _edit_manifest(g, lambda m: m["model"].update(dimension="384")),
                                       "model.dimension is a str"),
    "manifest is not JSON": (lambda g: (g / storage.MANIFEST).write_bytes(b"\x00\xff{garbage"), "not valid JSON"),
    "manifest deleted": (lambda g: (g / storage.MANIFEST).unlink(), "has no manifest"),
    "manifest without a file table": (lambda g: _edit_manifest(g, lambda m: m.pop("files")), "files is missing"),
    "file table names a path outside": (
        lambda g: _edit_manifest(g, lambda m: m["files"].update({"../CURRENT": {"size": 1, "sha256": "0" * 64}})),
        "not a file of the build"),
    "document count off by one": (
        lambda g: _edit_manifest(g, lambda m: m["counts"].update(documents=m["counts"]["documents"] + 1)),
        "documents.jsonl holds 5 documents"),
    "passage count off by one": (
        lambda g: _edit_manifest(g, lambda m: m["counts"].update(passages=m["counts"]["passages"] + 1)),
        "passages.jsonl holds"),
    "CURRENT is binary garbage": (lambda g: _set_current(g, b"\x89PNG\r\n\x1a\n\x00\x00"), "CURRENT"),
    "CURRENT is ..": (lambda g: _set_current(g, b"..\n"), "CURRENT names '..'"),
    "CURRENT is absolute": (lambda g: _set_current(g, str(g).encode() + b"\n"), "not a build in it"),
    "CURRENT dangles": (lambda g: _set_current(g, b"gen-20200101T000000-1-000001\n"), "which is missing"),
    "CURRENT is empty": (lambda g: _set_current(g, b""), "CURRENT pointer is empty"),
    "CURRENT deleted": (lambda g: (g.parent / "CURRENT").unlink(), "CURRENT pointer is missing"),
    "vectors truncated": (lambda g: _truncate(g / storage.VECTORS), "vectors.npy is"),
    "vectors are float64 (re-recorded)": (lambda g: _rewrite_vectors(g, lambda v: v.astype(np.float64)),
                                          "holds float64, not float32"),
    "vectors are 1-D (re-recorded)": (lambda g: _rewrite_vectors(g, lambda v: v.reshape(-1)), "has shape"),
    "vectors of another dimension (re-recorded)": (lambda g: _rewrite_vectors(g, lambda v: v[:, :-1]),
                                                   "passages × model dimension"),
    "vectors miss a row (re-recorded)": (lambda g: _rewrite_vectors(g, lambda v: v[:-1]), "has shape"),
    "vectors hold NaN": (_nan_vector, "NaN"),
    "vectors are not numpy": (lambda g: _overwrite(g / storage.VECTORS), "not a readable numpy array"),
    "garbled passages line": (lambda g: _garble_line(g, storage.PASSAGES), "passages.jsonl line 2 is not valid JSON"),
    "garbled documents line": (lambda g: _garble_line(g, storage.DOCUMENTS, 3),
                               "documents.jsonl line 3 is not valid JSON"),
    "passages line dropped (re-recorded)": (lambda g: _drop_line(g, storage.PASSAGES), "passages.jsonl holds"),
    "documents line dropped (re-recorded)": (lambda g: _drop_line(g, storage.DOCUMENTS), "documents.jsonl holds 4"),
    "passage of an unknown document (re-recorded)": (_stray_passage, "not in documents.jsonl"),
    "documents file grew": (lambda g: open(g / storage.DOCUMENTS, "a").write("{}\n"), "documents.jsonl is"),
    "Whoosh segment truncated": (lambda g: _truncate(_segment(g)), ".seg is"),
    "Whoosh segment truncated (re-recorded)": (lambda g: (_truncate(_segment(g)), _rerecord(g)),
                                               "bm25/ cannot be read"),
    "Whoosh TOC garbled": (lambda g: _overwrite(_toc(g)), "bm25/ cannot be read"),
    "Whoosh TOC garbled (re-recorded)": (lambda g: (_overwrite(_toc(g)), _rerecord(g)), "bm25/ cannot be read"),
    "bm25/ deleted": (lambda g: shutil.rmtree(g / storage.BM25), "is missing"),
    "vocabulary vectors deleted": (lambda g: (g / storage.VOCAB_VECTORS).unlink(), "vocab.npy is missing"),
}


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_index_is_refused_in_one_line_and_never_rebuilt(runner, seed_index, tmp_path, case):
    copy = tmp_path / "index"
    shutil.copytree(seed_index, copy)
    damage, words = DAMAGE[case]
    damage(copy / storage.live_generation(seed_index).name)
    before = _tree(copy)
    for args in (["query", "treaty ratification", "--index", str(copy)], ["info", "--index", str(copy)]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, (args, result.output)
        line = _one_line(result.output)
        assert line.startswith("Error: ") and "Traceback" not in result.output and "Aborted" not in line
        assert words in line, line
        assert f"search index DOCS… --index {copy}" in line, line
        assert "seed" not in result.output
        assert _tree(copy) == before  # no build started, nothing written or removed


def test_info_verify_catches_a_changed_byte_that_keeps_the_size(runner, seed_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(seed_index, copy)
    gen = copy / storage.live_generation(seed_index).name
    path = gen / storage.LEXICON_NEIGHBOURS
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert runner.invoke(cli, ["info", "--index", str(copy)]).exit_code == 0  # sizes only
    result = runner.invoke(cli, ["info", "--index", str(copy), "--verify"])
    assert result.exit_code == 1
    line = _one_line(result.output)
    assert "vocab-lexicon.json has changed since it was built" in line and "search index DOCS…" in line


def test_every_file_of_a_build_is_recorded_and_the_original_still_answers(runner, seed_index):
    gen = storage.live_generation(seed_index)
    manifest = _manifest(gen)
    assert set(manifest["files"]) == {str(p.relative_to(gen)) for p in gen.rglob("*")
                                      if p.is_file() and p.name != storage.MANIFEST}
    assert manifest["files"] == storage.file_table(gen)  # none of the copies' damage reached it
    verified = runner.invoke(cli, ["info", "--index", str(seed_index), "--verify"])
    assert verified.exit_code == 0 and "verified" in verified.output
    result = runner.invoke(cli, ["query", "उत्तर कोरिया रूस संधि की पुष्टि", "--index", str(seed_index), "-k", "1"])
    assert result.exit_code == 0 and "[003_f3897ac51716b5c2]" in result.output
