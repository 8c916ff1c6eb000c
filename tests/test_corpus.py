"""Tests for the corpus readers: the real seed scrapes, folders, JSONL and every kind of bad input."""

import hashlib
import json
from pathlib import Path

import pytest

from index.corpus import CorpusRead, content_hash, language_tag, parse_article, read_corpus, source_key, source_name
from search.errors import CorpusError
from search.types import Document

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

BOILERPLATE = [
    "Back to top button", "Source link", "इसे शेयर करें", "Leave a Reply", "Your email address",
    "Related Post", "Credit by", "This post was first published", "व्हाट्सएप पर फॉलो करें", "#INA",
]


@pytest.fixture(scope="module")
def seeds() -> dict[str, Document]:
    read = read_corpus([SEEDS])
    assert read.reports == ()
    return {doc.doc_id: doc for doc in read.documents}


def test_seeds_read_cleanly(seeds):
    assert sorted(seeds) == sorted(p.stem for p in SEEDS.glob("*.txt"))
    assert len(seeds) == 5
    for doc in seeds.values():
        assert doc.title and doc.text
        assert doc.lang == "hi"
        assert Path(doc.origin).parent == SEEDS
        assert doc.text == doc.text.strip()
        for phrase in BOILERPLATE:
            assert phrase not in doc.text, (doc.doc_id, phrase)
            assert phrase not in doc.title, (doc.doc_id, phrase)


@pytest.mark.parametrize(
    "doc_id, title, date",
    [
        ("000_0cf4e35214cd62f5", "उत्तर कोरिया ने रूस में सेना की तैनाती के दावों का जवाब दिया", ""),
        ("001_dbe0a019a329728a", "प्योंगयांग हमेशा मास्को के साथ रहेगा- किम जोंग-उन", ""),
        ("003_f3897ac51716b5c2", "उत्तर कोरिया ने रूस के साथ ऐतिहासिक पारस्परिक रक्षा संधि की पुष्टि की", ""),
        ("004_d52dbd3aa86ea457",
         "उत्तर कोरिया यात्रा से पहले पुतिन ने यूक्रेन युद्ध के लिए प्योंगयांग के ‘दृढ़ समर्थन’ की सराहना की",
         "2024-11-22"),
    ],
)
def test_seed_titles_and_dates(seeds, doc_id, title, date):
    doc = seeds[doc_id]
    assert (doc.title, doc.date) == (title, date)
    assert not doc.text.startswith(title)


def test_repeated_headline_is_not_in_the_body(seeds):
    doc = seeds["002_30ac033969362ad4"]
    assert "ज़ेलेंस्की का कहना है" in doc.title
    assert doc.text.startswith("वलोडिमिर ज़ेलेंस्की ने कहा है")
    assert seeds["004_d52dbd3aa86ea457"].text.startswith("मंगलवार को उत्तर कोरिया")


def test_seed_bodies_end_with_article_text(seeds):
    assert seeds["000_0cf4e35214cd62f5"].text.endswith("देने के लिए कहा।")
    assert seeds["003_f3897ac51716b5c2"].text.endswith("भी करेंगे।”")
    assert seeds["004_d52dbd3aa86ea457"].text.endswith("केंद्रित होगा।")


def test_originals_are_untouched():
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SEEDS.iterdir()}
    read_corpus([SEEDS])
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SEEDS.iterdir()}
    assert before == after


@pytest.mark.parametrize(
    "line, date",
    [
        ("Fri. Nov 22nd, 2024", "Fri. Nov 22nd, 2024"),
        ("22 November 2024", "22 November 2024"),
        ("2024-11-22", "2024-11-22"),
        ("नवंबर 22, 2024", "नवंबर 22, 2024"),
        ("२२ नवम्बर २०२४", "२२ नवम्बर २०२४"),
        ("शुक्रवार, 22 नवंबर 2024", "शुक्रवार, 22 नवंबर 2024"),
        ("2 घंटे पहले", "2 घंटे पहले"),
        ("Feb 30, 2024", "Feb 30, 2024"),  # date-shaped but invalid: still the date line, not the headline
        ("20 जून, 2024 को कोरियन सेंट्रल न्यूज एजेंसी", ""),
        ("उत्तर कोरिया", ""),
        ("2024", ""),
    ],
)
def test_the_leading_date_line_is_kept_as_written(line, date):
    title, found, body = parse_article(f"{line}\n\nशीर्षक\nपाठ।")
    assert found == date
    assert (title, body) == ((line, "शीर्षक\nपाठ।") if not date else ("शीर्षक", "पाठ।"))


def write(path: Path, content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_folder_is_read_recursively_and_sorted(tmp_path):
    write(tmp_path / "b" / "deep" / "z.txt", "शीर्षक ज़\n\nपाठ ज़।")
    write(tmp_path / "a.md", "# Markdown title\n\nBody text.")
    write(tmp_path / "b" / "c.txt", "शीर्षक सी\nपाठ सी।")
    write(tmp_path / "notes.csv", "ignored")
    write(tmp_path / ".hidden" / "x.txt", "ignored\nignored")
    read = read_corpus([tmp_path])
    assert [d.doc_id for d in read.documents] == ["a", "b/c", "b/deep/z"]
    assert read.documents[0].title == "Markdown title"
    assert read.documents[2].text == "पाठ ज़।"
    assert read.reports == ()


def test_single_file_and_jsonl(tmp_path):
    single = write(tmp_path / "one.txt", "Title\nBody.")
    rows = [
        {"id": "j1", "text": "पहला लेख।", "title": "T", "date": "2024-01-02", "source": "S", "url": "http://x/1"},
        {"id": "j2", "text": "दूसरा लेख।", "lang": "en"},
    ]
    jsonl = write(tmp_path / "docs.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    read = read_corpus([single, str(jsonl)])
    assert isinstance(read, CorpusRead)
    one, j1, j2 = read.documents
    assert (one.doc_id, one.title, one.text, one.origin) == ("one", "Title", "Body.", str(single))
    assert j1 == Document("j1", "T", "पहला लेख।", "2024-01-02", "S", "http://x/1", "hi", f"{jsonl}:1",
                          date_raw="2024-01-02", source_id="s")
    assert (j2.title, j2.lang, j2.origin) == ("", "en", f"{jsonl}:2")


def test_folder_with_jsonl(tmp_path):
    write(tmp_path / "sub" / "more.jsonl", json.dumps({"id": "x", "text": "पाठ"}) + "\n")
    write(tmp_path / "a.txt", "शीर्षक\nपाठ")
    assert [d.doc_id for d in read_corpus([tmp_path]).documents] == ["a", "x"]


def test_files_keep_their_path_in_the_folder_as_their_id(tmp_path):
    write(tmp_path / "a" / "report.txt", "पहली रिपोर्ट\nपाठ एक।")
    write(tmp_path / "b" / "report.txt", "दूसरी रिपोर्ट\nपाठ दो।")
    write(tmp_path / "c" / "my  weekly\treport.md", "# तीसरी\nपाठ तीन।")
    write(tmp_path / "c" / "line\nbreak.txt", "चौथी\nपाठ चार।")
    read = read_corpus([tmp_path])
    assert read.reports == ()  # a/report and b/report are not duplicates
    ids = {d.doc_id: d.origin for d in read.documents}
    assert ids == {"a/report": str(tmp_path / "a" / "report.txt"), "b/report": str(tmp_path / "b" / "report.txt"),
                   "c/my_weekly_report": str(tmp_path / "c" / "my  weekly\treport.md"),
                   "c/line_break": str(tmp_path / "c" / "line\nbreak.txt")}
    alone = read_corpus([tmp_path / "a" / "report.txt"]).documents
    assert [d.doc_id for d in alone] == ["report"]


def test_deeply_nested_jsonl_is_a_reported_skip(tmp_path):
    deep = "[" * 1000 + "]" * 1000
    rows = [json.dumps({"id": "ok", "text": "ठीक"}), deep,
            '{"id": "nested", "text": "x", "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"]
    path = write(tmp_path / "deep.jsonl", "\n".join(rows) + "\n")
    read = read_corpus([path])
    assert [d.doc_id for d in read.documents] == ["ok"]
    reasons = {r.where: r.reason for r in read.reports}
    assert set(reasons) == {f"{path}:2", f"{path}:3"}
    assert "not a JSON object" in reasons[f"{path}:2"] or "nested too deeply" in reasons[f"{path}:2"]
    assert "nested too deeply" in reasons[f"{path}:3"]


def test_a_file_that_vanishes_while_the_folder_is_read_is_a_reported_skip(tmp_path, monkeypatch):
    from index import corpus

    write(tmp_path / "a.txt", "शीर्षक\nपाठ")
    gone_txt = write(tmp_path / "b.txt", "शीर्षक\nपाठ")
    gone_jsonl = write(tmp_path / "c.jsonl", json.dumps({"id": "c", "text": "पाठ"}) + "\n")
    listed = corpus._corpus_files

    def listing_then_deleting(paths):
        files = list(listed(paths))
        gone_txt.unlink()
        gone_jsonl.unlink()
        return iter(files)

    monkeypatch.setattr(corpus, "_corpus_files", listing_then_deleting)
    read = read_corpus([tmp_path])
    assert [d.doc_id for d in read.documents] == ["a"]
    assert {r.where for r in read.reports} == {str(gone_txt), str(gone_jsonl)}
    assert all("removed while the corpus was being read" in r.reason for r in read.reports)


def test_documents_over_the_size_limit_are_reported(tmp_path, settings):
    assert 2 * 2**20 <= settings.max_document_bytes <= 16 * 2**20  # a few MB by default
    write(tmp_path / "small.txt", "शीर्षक\nपाठ")
    big = write(tmp_path / "big.txt", "शीर्षक\n" + "पाठ " * 1000)
    rows = write(tmp_path / "rows.jsonl", json.dumps({"id": "s", "text": "x"}) + "\n"
                 + json.dumps({"id": "l", "text": "y" * 5000}) + "\n")
    read = read_corpus([tmp_path], max_document_bytes=4096)
    assert [d.doc_id for d in read.documents] == ["s", "small"]
    reasons = {r.where: r.reason for r in read.reports}
    assert set(reasons) == {str(big), f"{rows}:2"}
    assert all("larger than the" in r and "SANGAM_MAX_DOCUMENT_MB" in r for r in reasons.values())
    with pytest.raises(CorpusError):
        read_corpus([tmp_path], strict=True, max_document_bytes=4096)


def test_the_document_size_limit_is_a_setting(monkeypatch):
    from search.errors import SangamError
    from search.settings import Settings

    monkeypatch.setenv("SANGAM_MAX_DOCUMENT_MB", "0.5")
    assert Settings.from_env().max_document_bytes == 512 * 1024
    monkeypatch.setenv("SANGAM_MAX_DOCUMENT_MB", "lots")
    with pytest.raises(SangamError, match="SANGAM_MAX_DOCUMENT_MB"):
        Settings.from_env()


@pytest.fixture
def messy(tmp_path) -> CorpusRead:
    write(tmp_path / "good.txt", "शीर्षक\nअच्छा पाठ।")
    write(tmp_path / "latin1.txt", "Caf\xe9 title\nbody".encode("latin-1"))
    write(tmp_path / "empty.txt", "  \n\n\t")
    write(tmp_path / "title_only.txt", "बस शीर्षक\n\n")
    write(tmp_path / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(tmp_path / "zdup.jsonl", json.dumps({"id": "good", "text": "दूसरा पाठ।"}) + "\n")
    lines = [
        json.dumps({"id": "ok", "text": "ठीक"}),
        '{"id": "broken", "text": ',
        json.dumps(["not", "an", "object"]),
        json.dumps({"text": "no id"}),
        json.dumps({"id": 7, "text": "numeric id"}),
        json.dumps({"id": "e", "text": "   "}),
        json.dumps({"id": "ok", "text": "again"}),
        json.dumps({"id": "t", "text": "x", "title": 5}),
    ]
    write(tmp_path / "rows.jsonl", "\n".join(lines) + "\n")
    return read_corpus([tmp_path])


@pytest.mark.parametrize(
    "where, reason",
    [
        ("latin1.txt", "not UTF-8 text (byte 0xe9 at offset 3); re-save it as UTF-8"),
        ("empty.txt", "empty document"),
        ("title_only.txt", "empty document"),
        ("binary.txt", "binary file"),
        ("zdup.jsonl:1", "duplicate id 'good'"),
        ("rows.jsonl:2", "malformed JSON"),
        ("rows.jsonl:3", "not a JSON object"),
        ("rows.jsonl:4", 'missing "id"'),
        ("rows.jsonl:5", '"id" must be a string'),
        ("rows.jsonl:6", "empty document"),
        ("rows.jsonl:7", "duplicate id 'ok'"),
        ("rows.jsonl:8", '"title" must be a string'),
    ],
)
def test_bad_inputs_are_reported_by_name(messy, tmp_path, where, reason):
    matching = [r for r in messy.reports if r.where == str(tmp_path / where)]
    assert len(matching) == 1, messy.reports
    assert reason in matching[0].reason


def test_bad_inputs_do_not_stop_the_read(messy, tmp_path):
    assert [d.doc_id for d in messy.documents] == ["good", "ok"]
    assert len(messy.reports) == 12
    duplicate = next(r for r in messy.reports if r.where.endswith("zdup.jsonl:1"))
    assert str(tmp_path / "good.txt") in duplicate.reason  # names both places


def test_strict_mode_raises_with_the_reports(tmp_path):
    write(tmp_path / "good.txt", "शीर्षक\nपाठ")
    for n in range(5):
        write(tmp_path / f"empty{n}.txt", "")
    with pytest.raises(CorpusError) as err:
        read_corpus([tmp_path], strict=True)
    message = str(err.value)
    assert "5 problem(s)" in message and "empty0.txt" in message and "and 2 more" in message
    assert err.value.fix


def test_strict_mode_passes_clean_input():
    assert len(read_corpus([SEEDS], strict=True).documents) == 5


@pytest.mark.parametrize("name", ["missing", "missing.txt"])
def test_missing_path_raises_with_a_fix(tmp_path, name):
    with pytest.raises(CorpusError, match="not found") as err:
        read_corpus([tmp_path / name])
    assert err.value.fix


def test_unsupported_file_raises(tmp_path):
    with pytest.raises(CorpusError, match="unsupported"):
        read_corpus([write(tmp_path / "data.csv", "a,b")])


def test_content_hash_ignores_origin_only():
    doc = Document("d", "T", "पाठ", origin="a.txt")
    assert content_hash(doc) == content_hash(Document("d", "T", "पाठ", origin="b.txt"))
    assert content_hash(doc) != content_hash(Document("d", "T", "पाठ!", origin="a.txt"))
    assert content_hash(doc) != content_hash(Document("d", "T", "पाठ", date="2024-01-01"))
    assert len(content_hash(doc)) == 64


# ---------------------------------------------------------------- news metadata


@pytest.mark.parametrize(
    "raw, url, name, key",
    [
        ("  Aaj   Tak ", "", "Aaj Tak", "aaj tak"),
        ("www.AajTak.in", "", "aajtak.in", "aajtak.in"),
        ("https://www.bhaskar.com/national/", "", "bhaskar.com", "bhaskar.com"),
        ("", "https://www.Jagran.com/a/b.html", "jagran.com", "jagran.com"),
        ("", "file:///tmp/page.html", "", ""),
        ("समाचार दर्पण", "https://x.example/a", "समाचार दर्पण", "समाचार दर्पण"),
        ("दैनिक जागरण", "", "दैनिक जागरण", "दैनिक जागरण"),
        ("", "", "", ""),
    ],
)
def test_sources_are_named_and_keyed(raw, url, name, key):
    assert source_name(raw, url) == name
    assert source_key(name) == key


def test_one_outlet_gets_one_display_name(tmp_path):
    rows = [{"id": f"d{n}", "text": "पाठ", "source": source} for n, source in
            enumerate(["AAJ TAK", "aaj tak", "aaj  tak", "Aaj Tak", "www.bhaskar.com", "Bhaskar.com"])]
    jsonl = write(tmp_path / "s.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    docs = read_corpus([jsonl]).documents
    assert [(d.source, d.source_id) for d in docs] == [("Aaj Tak", "aaj tak")] * 4 + [("bhaskar.com", "bhaskar.com")] * 2


@pytest.mark.parametrize(
    "raw, text, tag",
    [
        ("hi", "", "hi"), ("HI", "", "hi"), ("hi_IN", "", "hi"), ("hi-Deva-IN", "", "hi"), ("Hindi", "", "hi"),
        ("hin", "", "hi"), ("en-US", "", "en"), ("en_GB", "", "en"), ("English", "", "en"),
        ("hi-Latn", "", "hi-Latn"), ("hi-latn-in", "", "hi-Latn"), ("ur-Arab", "", "ur-Arab"),
        ("", "उत्तर कोरिया ने कहा", "hi"), ("", "North Korea said", "en"), ("und", "North Korea said", "en"),
        ("not a tag!", "उत्तर कोरिया", "hi"),
    ],
)
def test_language_tags(raw, text, tag):
    assert language_tag(raw, text) == tag


def test_a_text_file_without_a_language_is_tagged_by_its_script(tmp_path):
    write(tmp_path / "hi.txt", "शीर्षक\nहिंदी पाठ।")
    write(tmp_path / "en.txt", "Title\nAn English body.")
    assert {d.doc_id: d.lang for d in read_corpus([tmp_path]).documents} == {"hi": "hi", "en": "en"}


def test_dates_are_iso_and_keep_the_raw_string(tmp_path):
    write(tmp_path / "a.txt", "शुक्रवार, 22 नवंबर 2024\n\nशीर्षक\nपाठ।")
    rows = [{"id": "j1", "text": "पाठ", "date": "Fri. Nov 22nd, 2024"},
            {"id": "j2", "text": "पाठ", "date": "22 नवंबर 2024, 14:30 IST"},
            {"id": "j3", "text": "पाठ", "date": "2 घंटे पहले", "fetched_at": "2024-11-22T04:30:00Z"},
            {"id": "j4", "text": "पाठ", "date": "कल", "fetched_at": "2024-11-22T20:00:00+00:00"}]
    write(tmp_path / "rows.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    read = read_corpus([tmp_path])
    got = {d.doc_id: (d.date, d.date_raw) for d in read.documents}
    assert got == {
        "a": ("2024-11-22", "शुक्रवार, 22 नवंबर 2024"),
        "j1": ("2024-11-22", "Fri. Nov 22nd, 2024"),
        "j2": ("2024-11-22T14:30:00+05:30", "22 नवंबर 2024, 14:30 IST"),
        "j3": ("2024-11-22T08:00:00+05:30", "2 घंटे पहले"),  # 10:00 in India, less two hours
        "j4": ("2024-11-22", "कल"),  # fetched 01:30 on the 23rd in India: yesterday is the 22nd
    }
    assert read.reports == () and read.warnings == ()


def test_a_relative_date_in_a_file_counts_back_from_its_modification_time(tmp_path):
    import os

    path = write(tmp_path / "a.txt", "3 दिन पहले\n\nशीर्षक\nपाठ।")
    saved = 1732266000  # 2024-11-22T09:00:00Z
    os.utime(path, (saved, saved))
    doc, = read_corpus([path]).documents
    assert (doc.date, doc.date_raw, doc.title) == ("2024-11-19", "3 दिन पहले", "शीर्षक")


def test_invalid_dates_are_left_empty_and_reported(tmp_path, caplog):
    write(tmp_path / "a.txt", "Feb 30, 2024\n\nशीर्षक\nपाठ।")
    rows = [{"id": "j1", "text": "पाठ", "date": "not-a-date"}, {"id": "j2", "text": "पाठ", "date": "32 जनवरी 2024"},
            {"id": "j3", "text": "पाठ", "date": "2024-02-30"}, {"id": "ok", "text": "पाठ", "date": "2024-02-29"}]
    write(tmp_path / "rows.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    with caplog.at_level("WARNING", logger="index.corpus"):
        read = read_corpus([tmp_path], strict=True)  # not skips: strict mode reads them
    docs = {d.doc_id: d for d in read.documents}
    assert {k: (d.date, d.date_raw) for k, d in docs.items()} == {
        "a": ("", "Feb 30, 2024"), "j1": ("", "not-a-date"), "j2": ("", "32 जनवरी 2024"),
        "j3": ("", "2024-02-30"), "ok": ("2024-02-29", "2024-02-29")}
    assert read.reports == ()
    assert sorted(w.reason.split(":")[0] for w in read.warnings) == ["document 'a'", "document 'j1'",
                                                                     "document 'j2'", "document 'j3'"]
    assert all("left empty" in w.reason and "YYYY-MM-DD" in w.reason for w in read.warnings)
    assert {w.where for w in read.warnings} == {str(tmp_path / "a.txt")} | {f"{tmp_path / 'rows.jsonl'}:{n}"
                                                                           for n in (1, 2, 3)}
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 4 and any("document j2" in m and "not a valid date" in m for m in logged)


def test_content_hash_ignores_what_is_not_indexed():
    doc = Document("d", "T", "पाठ", date="2024-11-22", date_raw="Fri. Nov 22nd, 2024")
    assert content_hash(doc) == content_hash(Document("d", "T", "पाठ", date="2024-11-22", date_raw="22 नवंबर 2024",
                                                      dup_group="x", source_id="k"))


def test_the_dated_corpus_reads_as_its_truth_says():
    folder = Path(__file__).parent / "data" / "dated"
    truth = json.loads((folder / "truth.json").read_text("utf-8"))["documents"]
    read = read_corpus([folder / "corpus.jsonl"])
    got = {d.doc_id: {"date": d.date, "date_raw": d.date_raw, "source": d.source, "source_id": d.source_id,
                      "lang": d.lang} for d in read.documents}
    assert got == truth
    assert len(got) >= 200 and len({d["date"][:7] for d in truth.values() if d["date"]}) >= 12
    assert len({d["source_id"] for d in truth.values()}) >= 5
    invalid = {k for k, d in truth.items() if d["date_raw"] and not d["date"]}
    assert read.reports == () and {w.reason.split("'")[1] for w in read.warnings} == invalid and len(invalid) == 6


def test_the_dated_corpus_is_what_its_generator_writes(tmp_path):
    from bench.dated_corpus import main

    main(["-o", str(tmp_path)])
    folder = Path(__file__).parent / "data" / "dated"
    for name in ("corpus.jsonl", "truth.json"):
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), name


def test_a_row_that_already_holds_both_forms_of_its_date_keeps_them(tmp_path):
    row = {"id": "r", "text": "पाठ", "date": "2024-11-22", "date_raw": "Fri. Nov 22nd, 2024", "source": "aajtak.in"}
    doc, = read_corpus([write(tmp_path / "rows.jsonl", json.dumps(row) + "\n")]).documents
    assert (doc.date, doc.date_raw, doc.source, doc.source_id) == ("2024-11-22", "Fri. Nov 22nd, 2024", "aajtak.in",
                                                                  "aajtak.in")
