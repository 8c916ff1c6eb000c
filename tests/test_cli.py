"""The command line through click's CliRunner: pretty and JSON output, errors, first-run build, run, info."""

import json

import pytest
from click.testing import CliRunner

from search.cli import cli


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


def test_first_query_builds_an_index_over_the_seeds(runner, tmp_path):
    index_dir = tmp_path / "fresh"
    result = runner.invoke(cli, ["query", "treaty ratification", "--index", str(index_dir), "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "building one over the seed corpus" in result.output
    assert "Indexed 5 documents" in result.output
    assert "[003_f3897ac51716b5c2]" in result.output
    again = runner.invoke(cli, ["query", "treaty ratification", "--index", str(index_dir), "-k", "1"])
    assert "building" not in again.output


def test_index_and_info(runner, tmp_path, seeds):
    index_dir = tmp_path / "idx"
    result = runner.invoke(cli, ["index", str(seeds), "--index", str(index_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Indexed 5 documents" in result.output and "passages/s" in result.output
    info = runner.invoke(cli, ["info", "--index", str(index_dir)])
    assert info.exit_code == 0 and "documents  5" in info.output and "MB on disk" in info.output
    data = json.loads(runner.invoke(cli, ["info", "--index", str(index_dir), "--json"]).output)
    assert data["counts"]["documents"] == 5 and data["size_bytes"] > 0


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
