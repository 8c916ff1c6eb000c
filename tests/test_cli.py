"""The command line through click's CliRunner: pretty and JSON output, errors, first-run build, run, info."""

import json
import re

import pytest
from click.testing import CliRunner

from sangam.cli import cli


@pytest.fixture
def runner(embedder, monkeypatch):
    """A CLI runner whose commands reuse the session's model instead of loading it again."""
    from search.embedding import Embedder

    monkeypatch.setattr(Embedder, "load", classmethod(lambda cls, *a, **k: embedder))
    return CliRunner()


def test_help_has_examples(runner):
    for args in ([], ["query"], ["index"], ["info"], ["run"], ["serve"], ["model"]):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output, args
    assert "loopback" in runner.invoke(cli, ["serve", "--help"]).output.lower()


def test_query_pretty(runner, seed_index):
    result = runner.invoke(cli, ["query", "उत्तर कोरिया रूस संधि की पुष्टि", "--index", str(seed_index), "-k", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "results for" in lines[0]
    assert "  1. " in result.output and "[003_f3897ac51716b5c2]" in result.output
    assert "score" in result.output and "<mark>" not in result.output


def test_query_empty_state_and_filters(runner, seed_index, service):
    q = "xyzzy qwertyuiop"
    result = runner.invoke(cli, ["query", q, "--index", str(seed_index)])
    assert result.exit_code == 0, result.output
    if service.search(q).total == 0:  # the service decides what matches; the CLI says so
        assert re.search(r"^No results.* \(try fewer or other words\)\.$", result.output, flags=re.M), result.output
    none = runner.invoke(cli, ["query", "संधि", "--index", str(seed_index), "--from", "1990", "--to", "1990"])
    assert none.exit_code == 0 and none.output.startswith("0 results")
    assert "try a wider --from/--to" in none.output
    dated = runner.invoke(cli, ["query", "संधि", "--index", str(seed_index), "--sort", "date", "--facets",
                                "--no-collapse", "--json"])
    body = json.loads(dated.output)
    assert body["sort"] == "date" and body["facets"] is not None and body["filters"]["from"] == ""
    bad = runner.invoke(cli, ["query", "संधि", "--index", str(seed_index), "--to", "soon"])
    assert bad.exit_code != 0 and "to must be a date" in bad.output and "Traceback" not in bad.output


def test_query_json_keeps_devanagari(runner, seed_index):
    result = runner.invoke(cli, ["query", "संधि", "--index", str(seed_index), "--json", "-k", "2", "--mode", "bm25"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["mode"] == "bm25" and len(data["hits"]) == 2
    assert "संधि" in result.output and "\\u0938" not in result.output
    assert "<mark>" in data["hits"][0]["snippet"]


@pytest.mark.parametrize("args,words", [
    (["query", ""], "empty"),
    (["query", "x" * 1500], "characters long"),
    (["query", "संधि", "-k", "0"], "0"),
    (["query", "संधि", "--mode", "fuzzy"], "fuzzy"),
])
def test_query_errors_are_one_line(runner, seed_index, args, words):
    result = runner.invoke(cli, [*args, "--index", str(seed_index)])
    assert result.exit_code != 0
    assert words in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) <= 3


def test_missing_index_for_info_and_run_names_the_fix(runner, tmp_path):
    result = runner.invoke(cli, ["info", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no index" in result.output and "search index" in result.output
    assert "Traceback" not in result.output


def test_first_query_builds_the_seeds_into_the_default_location(runner, tmp_path, monkeypatch):
    monkeypatch.delenv("SANGAM_INDEX", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    default = tmp_path / "data" / "sangam" / "index"
    result = runner.invoke(cli, ["query", "treaty ratification", "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "building one over the seed corpus" in result.output and str(default) in result.output
    assert "Indexed 5 documents" in result.output
    assert "[003_f3897ac51716b5c2]" in result.output
    assert (default / "CURRENT").is_file()
    again = runner.invoke(cli, ["query", "treaty ratification", "-k", "1"])
    assert again.exit_code == 0 and "building" not in again.output


def _gen_name(index_dir):
    return next(index_dir.glob("gen-*")).name


# Each leaves a folder a user named with --index (or SANGAM_INDEX) that holds no usable index.
NAMED_INDEX_STATES = {
    "missing": lambda d: None,
    "empty folder": lambda d: d.mkdir(),
    "killed first build": lambda d: (d.mkdir(), (d / ".lock").write_text("pid 1\n"),
                                     (d / ".building-20260101T000000-1").mkdir()),
    "CURRENT empty": lambda d: (d.mkdir(), (d / "CURRENT").write_text("")),
    "CURRENT dangling": lambda d: (d.mkdir(), (d / "CURRENT").write_text("gen-20260101T000000-1-000001\n")),
    "CURRENT ..": lambda d: (d.mkdir(), (d / "CURRENT").write_text("..\n")),
    "CURRENT absolute": lambda d: (d.mkdir(), (d / "CURRENT").write_text(f"{d.parent}\n")),
    "CURRENT binary": lambda d: (d.mkdir(), (d / "CURRENT").write_bytes(b"\xff\xfe\x00gen\x80")),
    "no manifest": lambda d: (d.mkdir(), (d / "gen-1").mkdir(), (d / "CURRENT").write_text("gen-1\n")),
    "a folder of other files": lambda d: (d.mkdir(), (d / "notes.txt").write_text("not an index")),
}
NAMED_INDEX_WORDS = {"missing": "no index", "empty folder": "no index", "killed first build": "did not finish",
                     "a folder of other files": "holds other files"}


@pytest.mark.parametrize("state", NAMED_INDEX_STATES)
@pytest.mark.parametrize("how", ["--index", "SANGAM_INDEX"])
@pytest.mark.parametrize("command", ["query", "serve"])
def test_a_named_index_is_never_built_from_the_seeds(runner, tmp_path, monkeypatch, state, how, command):
    index_dir = tmp_path / "named"
    NAMED_INDEX_STATES[state](index_dir)
    before = sorted(p.name for p in index_dir.iterdir()) if index_dir.is_dir() else None
    args = [command, *(["treaty ratification"] if command == "query" else ["--port", "1"])]
    if how == "--index":
        args += ["--index", str(index_dir)]
    else:
        monkeypatch.setenv("SANGAM_INDEX", str(index_dir))
    result = runner.invoke(cli, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert NAMED_INDEX_WORDS.get(state, "damaged") in lines[0]
    assert f"search index DOCS… --index {index_dir}" in lines[0]
    assert "seed" not in result.output
    after = sorted(p.name for p in index_dir.iterdir()) if index_dir.is_dir() else None
    assert after == before  # nothing built, nothing removed


def test_the_default_location_is_not_rebuilt_over_a_damaged_index(runner, tmp_path, monkeypatch):
    monkeypatch.delenv("SANGAM_INDEX", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    default = tmp_path / "data" / "sangam" / "index"
    default.mkdir(parents=True)
    (default / "CURRENT").write_text("gen-gone\n")
    result = runner.invoke(cli, ["query", "treaty ratification"])
    assert result.exit_code == 1 and "damaged" in result.output and "seed" not in result.output
    assert sorted(p.name for p in default.iterdir()) == ["CURRENT"]


def test_index_and_info(runner, tmp_path, seeds):
    index_dir = tmp_path / "idx"
    result = runner.invoke(cli, ["index", str(seeds), "--index", str(index_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Indexed 5 documents" in result.output and "passages/s" in result.output
    info = runner.invoke(cli, ["info", "--index", str(index_dir)])
    assert info.exit_code == 0 and "documents  5" in info.output and "MB on disk" in info.output
    data = json.loads(runner.invoke(cli, ["info", "--index", str(index_dir), "--json"]).output)
    assert data["counts"]["documents"] == 5 and data["size_bytes"] > 0
    from search import storage

    for folder in (index_dir, storage.live_generation(index_dir)):  # owner-only: an index is trusted input
        assert folder.stat().st_mode & 0o077 == 0, oct(folder.stat().st_mode)


def test_index_missing_path_is_an_error(runner, tmp_path):
    result = runner.invoke(cli, ["index", str(tmp_path / "missing"), "--index", str(tmp_path / "i")])
    assert result.exit_code != 0 and "missing" in result.output and "Traceback" not in result.output


def test_run_writes_a_trec_file(runner, seed_index, tmp_path):
    topics = tmp_path / "topics.tsv"
    topics.write_text("q1\ttreaty ratification\nq2\tउत्तर कोरिया रूस संधि की पुष्टि\nq3\t\n", "utf-8")
    out = tmp_path / "run.trec"
    result = runner.invoke(cli, ["run", "--topics", str(topics), "--output", str(out), "--index", str(seed_index),
                                 "-k", "3", "--mode", "hybrid"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in out.read_text().splitlines()]
    assert len(lines) == 6 and {line[0] for line in lines} == {"q1", "q2"}
    assert all(len(line) == 6 and line[1] == "Q0" and line[5] == "sangam-hybrid" for line in lines)
    assert [line[3] for line in lines[:3]] == ["1", "2", "3"]
    assert "skipped query q3" in result.output


def test_run_rejects_a_file_that_is_not_tsv(runner, seed_index, tmp_path):
    topics = tmp_path / "topics.txt"
    topics.write_text("just a line without a tab\n", "utf-8")
    result = runner.invoke(cli, ["run", "--topics", str(topics), "--output", str(tmp_path / "r"),
                                 "--index", str(seed_index)])
    assert result.exit_code != 0 and "topics.txt:1" in result.output


def test_run_writes_valid_trec_for_any_id(runner, tmp_path):
    from urllib.parse import unquote

    ids = ["has space", "new\nline", "tab\tand\u00a0nbsp", "100%", "plain"]
    texts = ["उत्तर कोरिया ने रूस के साथ संधि की पुष्टि की।", "दिल्ली में भारी बारिश हुई।", "भारत ने क्रिकेट मैच जीता।",
             "संधि पर रूस की संसद में बहस हुई।", "चुनाव आयोग ने तारीखें घोषित कीं।"]
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
                              for i, t in zip(ids, texts)), "utf-8")
    index_dir = tmp_path / "idx"
    built = runner.invoke(cli, ["index", str(corpus), "--index", str(index_dir), "--quiet"])
    assert built.exit_code == 0, built.output
    topics = tmp_path / "topics.tsv"
    # honest matching: each topic is about documents of the corpus (a topic none is about writes no rows)
    topics.write_text("q 1\tसंधि रूस\nq2\tदिल्ली बारिश\nq3\tक्रिकेट मैच\nq4\tचुनाव आयोग\n", "utf-8")
    out = tmp_path / "run.trec"
    result = runner.invoke(cli, ["run", "--topics", str(topics), "--output", str(out), "--index", str(index_dir),
                                 "-k", "5", "--mode", "bm25", "--tag", "my tag"])
    assert result.exit_code == 0, result.output
    lines = out.read_text("utf-8").split("\n")
    assert lines[-1] == "" and lines[:-1]
    rows = [line.split(" ") for line in lines[:-1]]
    assert all(len(row) == 6 and row[1] == "Q0" and row[5] == "my%20tag" for row in rows), rows
    assert {row[0] for row in rows} == {"q%201", "q2", "q3", "q4"}
    written = {row[2] for row in rows}
    # ids without whitespace as they are; the others percent-encoded, and they decode back
    assert written == {"has%20space", "new%0Aline", "tab%09and%C2%A0nbsp", "100%", "plain"}
    assert {unquote(d) for d in written if d != "100%"} == set(ids) - {"100%"}


def test_query_says_how_it_was_read(runner, seed_index):
    result = runner.invoke(cli, ["query", "tretay ratifcation", "--index", str(seed_index), "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "showing results for: treaty ratification · search instead for: tretay ratifcation" in result.output
    assert "[003_f3897ac51716b5c2]" in result.output
    exact = runner.invoke(cli, ["query", "tretay ratifcation", "--exact", "--index", str(seed_index), "-k", "1"])
    assert exact.exit_code == 0 and "did you mean: treaty ratification (without --exact)?" in exact.output
    guessed = runner.invoke(cli, ["query", "yuiop", "--index", str(seed_index)])
    assert guessed.exit_code == 0
    assert "No results: its word is only a guess at another word (did you mean: यूरोप?)." in guessed.output
    romanized = runner.invoke(cli, ["query", "uttar korea ne rus ke saath sandhi ki", "--index", str(seed_index),
                                    "-k", "1"])
    assert "(Hindi (romanized), hybrid)" in romanized.output
    assert "searched as: उत्तर कोरिया ने रूस के साथ संधि" in romanized.output


def test_an_unknown_model_fails_at_once_without_the_hub(seed_index, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    result = CliRunner().invoke(cli, ["query", "treaty", "--model", "someorg/no-such-model", "--index", str(seed_index)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no model of that name in the Hugging Face cache" in lines[0], result.output
    assert "huggingface.co" not in result.output  # no request was made


def test_a_closed_pipe_is_quiet(seed_index):
    import subprocess
    import sys

    shell = f"{sys.executable} -m sangam.cli info --index {seed_index} | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("index") and done.stderr == "", done.stderr
    assert done.returncode == 0


def test_serve_refuses_an_index_others_can_write(runner, seed_index, tmp_path):
    import shutil

    from search import storage

    copy = tmp_path / "copy"
    shutil.copytree(seed_index, copy)
    storage.check_owner_only(copy)  # as built: the owner's alone
    copy.chmod(0o777)
    result = runner.invoke(cli, ["serve", "--index", str(copy), "--port", "1"])
    assert result.exit_code == 1
    assert "can be written by users other than its owner" in result.output and "chmod -R go-w" in result.output
