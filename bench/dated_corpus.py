"""A dated Hindi news test corpus with planted syndicated copies, and the truth about it.

Stories are the 240 XQuAD Hindi dev paragraphs (``tests/data/xquad``, CC BY-SA 4.0) and the five seed
articles, spread over 24 months and six outlets. Dates are written as outlets write them: ISO, the
seeds' "Fri. Nov 22nd, 2024", English and Hindi month names (in their common spellings, with weekdays,
Devanagari digits, times in IST), relative forms ("3 घंटे पहले", "कल") with the crawl time ingest
records (``fetched_at``), a few invalid ones and a few missing. Outlets are named inconsistently
("www.AajTak.in", "https://www.aajtak.in/", " Amar  Ujala "). Some stories are reprinted by other
outlets (groups of 2-4 copies): another headline, a dateline or a credit line, a few words changed.

The sidecar ``truth.json`` records, computed here from the generator's own choices (not by the
indexing code): every document's expected ISO date, outlet display name and key, the invalid dates,
and each group of copies with its representative (earliest date, then longest body, then doc_id).

    python -m bench.dated_corpus            # writes tests/data/dated/corpus.jsonl and truth.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "dated"
SEED = 20241122
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
START = dt.date(2023, 1, 1)
DAYS = 730  # 24 months
GROUPS = 24  # stories reprinted by other outlets

#: outlet -> (display name after normalisation, key, the spellings it is written in)
OUTLETS = {
    "bhaskar": ("दैनिक भास्कर", "दैनिक भास्कर", ["दैनिक भास्कर", " दैनिक  भास्कर"]),
    "amar": ("Amar Ujala", "amar ujala", ["Amar Ujala", "Amar Ujala", " Amar  Ujala ", "AMAR UJALA"]),
    "aajtak": ("aajtak.in", "aajtak.in", ["www.AajTak.in", "https://www.aajtak.in/", "aajtak.in"]),
    "nbt": ("Navbharat Times", "navbharat times", ["Navbharat Times", "Navbharat Times", "navbharat times"]),
    "jansatta": ("जनसत्ता", "जनसत्ता", ["जनसत्ता"]),
    "bbc": ("bbc.com", "bbc.com", ["https://www.bbc.com/hindi", "www.bbc.com", "BBC.com"]),
}
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December"]
MONTHS_HI = [["जनवरी"], ["फरवरी", "फ़रवरी"], ["मार्च"], ["अप्रैल", "अप्रेल"], ["मई"], ["जून"], ["जुलाई"],
             ["अगस्त"], ["सितंबर", "सितम्बर"], ["अक्टूबर", "अक्तूबर"], ["नवंबर", "नवम्बर"], ["दिसंबर", "दिसम्बर"]]
WEEKDAYS_EN = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAYS_HI = ["सोमवार", "मंगलवार", "बुधवार", "गुरुवार", "शुक्रवार", "शनिवार", "रविवार"]
DEVANAGARI_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")
INVALID = ["31 फ़रवरी 2024", "2024-13-05", "Feb 30, 2024", "कभी नहीं", "32/01/2024", "30 फरवरी 2023"]
LANGS = ["hi", "hi", "hi", "hi-IN", "HI", None]
DATELINES = ["नई दिल्ली, (भाषा)।", "नई दिल्ली।", "एजेंसी।", "मुंबई, (वार्ता)।"]
CREDITS = ["(इनपुट: एजेंसी)", "(भाषा)", "(इस खबर को एजेंसी फीड से लिया गया है।)"]
HEADLINE_PREFIXES = ["बड़ी ख़बर: ", "ताज़ा: ", ""]
HEADLINE_SUFFIXES = [" - रिपोर्ट", " | देश", ""]


def _ordinal(day: int) -> str:
    return "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def write_date(when: dt.datetime, style: str, rng: random.Random) -> tuple[str, str]:
    """``when`` (in IST) written in ``style``, and the ISO form an indexer must read it as."""
    day, month, year = when.day, when.month, when.year
    hindi = rng.choice(MONTHS_HI[month - 1])
    iso_day, iso_time = when.date().isoformat(), when.replace(second=0).isoformat()
    if style == "iso":
        return iso_day, iso_day
    if style == "iso-time":
        return iso_time, iso_time
    if style == "iso-utc":
        return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), iso_time
    if style == "seed":  # Fri. Nov 22nd, 2024
        return (f"{WEEKDAYS_EN[when.weekday()]}. {MONTHS_EN[month - 1][:3]} {day}{_ordinal(day)}, {year}",
                iso_day)
    if style == "english":
        return f"{day} {MONTHS_EN[month - 1]} {year}", iso_day
    if style == "hindi":
        return f"{day} {hindi} {year}", iso_day
    if style == "hindi-weekday":
        return f"{WEEKDAYS_HI[when.weekday()]}, {day} {hindi} {year}", iso_day
    if style == "hindi-digits":
        return f"{day} {hindi} {year}".translate(DEVANAGARI_DIGITS), iso_day
    if style == "hindi-mdy":
        return f"{hindi} {day}, {year}", iso_day
    if style == "hindi-time":
        return f"{day} {hindi} {year}, {when:%H:%M} IST", iso_time
    if style == "numeric":
        return f"{day:02d}/{month:02d}/{year}", iso_day
    raise ValueError(style)


STYLES = ["iso", "iso-time", "iso-utc", "seed", "english", "hindi", "hindi-weekday", "hindi-digits",
          "hindi-mdy", "hindi-time", "numeric"]


def relative_date(when: dt.datetime, rng: random.Random) -> tuple[str, str, str]:
    """A relative date for ``when``: the string, the crawl time (UTC, as ingest writes it), the ISO form."""
    kind = rng.choice(["hours", "days", "kal", "aaj"])
    if kind == "hours":
        hours = rng.randint(1, 9)
        return f"{hours} घंटे पहले", _utc(when + dt.timedelta(hours=hours)), when.replace(second=0).isoformat()
    if kind == "days":
        days = rng.randint(2, 6)
        return f"{days} दिन पहले", _utc(when + dt.timedelta(days=days)), when.date().isoformat()
    if kind == "kal":
        return "कल", _utc(when + dt.timedelta(days=1)), when.date().isoformat()
    return "आज", _utc(when + dt.timedelta(hours=1)), when.date().isoformat()


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stories() -> list[tuple[str, str, str]]:
    """``(story id, headline, body)`` of every story: the XQuAD paragraphs, then the seeds."""
    sys.path.insert(0, str(ROOT))
    from index.corpus import parse_article

    out = []
    with open(ROOT / "tests" / "data" / "xquad" / "xquad_hi_corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            first = row["text"].split("।")[0].split()
            out.append((row["id"], " ".join(first[:9]), row["text"]))
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        title, _date, body = parse_article(path.read_text("utf-8"))
        out.append((f"seed-{path.stem[:3]}", title, body))
    return out


def edit(body: str, rng: random.Random) -> str:
    """A syndicated copy's body: a dateline or a credit line, and a few words changed."""
    words = body.split()
    for _ in range(1 + len(words) // 80):
        i = rng.randrange(1, len(words) - 2)
        change = rng.choice(["drop", "swap", "insert"])
        if change == "drop":
            del words[i]
        elif change == "swap":
            words[i], words[i + 1] = words[i + 1], words[i]
        else:
            words.insert(i, rng.choice(["लगभग", "करीब", "वहीं"]))
    text = " ".join(words)
    if rng.random() < 0.7:
        text = f"{rng.choice(DATELINES)} {text}"
    if rng.random() < 0.5:
        text = f"{text} {rng.choice(CREDITS)}"
    return text


def generate() -> tuple[list[dict], dict]:
    rng = random.Random(SEED)
    rows, truth = [], {"documents": {}, "groups": []}
    base = stories()
    long_ones = [i for i, (_, _, body) in enumerate(base) if len(body.split()) >= 60]
    reprinted = set(rng.sample(long_ones, GROUPS))
    invalid_at = set(rng.sample(range(len(base)), len(INVALID)))
    undated_at = set(rng.sample(sorted(set(range(len(base))) - invalid_at - reprinted), 4))
    invalid = iter(INVALID)
    for n, (story, title, body) in enumerate(base):
        outlet = rng.choice(sorted(OUTLETS))
        when = _moment(rng, START + dt.timedelta(days=rng.randrange(DAYS)))
        date = next(invalid) if n in invalid_at else ("" if n in undated_at else None)
        original = _row(rows, truth, f"{story}@{outlet}", title, body, outlet, when, rng, date)
        if n in reprinted:
            others = rng.sample(sorted(set(OUTLETS) - {outlet}), rng.randint(1, 3))
            members = [original]
            for other in others:
                later = _moment(rng, when.date() + dt.timedelta(days=rng.randint(0, 2)))
                headline = f"{rng.choice(HEADLINE_PREFIXES)}{title}{rng.choice(HEADLINE_SUFFIXES)}"
                members.append(_row(rows, truth, f"{story}@{other}", headline, edit(body, rng), other, later, rng))
            truth["groups"].append(_group(members, truth, rows))
    truth["groups"].sort(key=lambda g: g["representative"])
    return rows, truth


def _moment(rng: random.Random, day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, rng.randint(6, 22), rng.choice([0, 15, 30, 45]), tzinfo=IST)


def _row(rows: list, truth: dict, doc_id: str, title: str, body: str, outlet: str, when: dt.datetime,
         rng: random.Random, date: str | None = None) -> str:
    display, key, spellings = OUTLETS[outlet]
    row = {"id": doc_id, "title": title, "text": body, "source": rng.choice(spellings)}
    if date is not None:  # an invalid date (not read: "") or none at all
        raw, iso = date, ""
    elif rng.random() < 0.1:
        raw, row["fetched_at"], iso = relative_date(when, rng)
    else:
        raw, iso = write_date(when, rng.choice(STYLES), rng)
    if raw:
        row["date"] = raw
    lang = rng.choice(LANGS)
    if lang:
        row["lang"] = lang
    rows.append(row)
    truth["documents"][doc_id] = {"date": iso, "date_raw": raw, "source": display, "source_id": key, "lang": "hi"}
    return doc_id


def _group(members: list[str], truth: dict, rows: list[dict]) -> dict:
    docs = truth["documents"]
    lengths = {row["id"]: len(row["text"]) for row in rows if row["id"] in members}
    order = sorted(members, key=lambda m: (docs[m]["date"] == "", docs[m]["date"][:10], -lengths[m], m))
    return {"representative": order[0], "members": sorted(members)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--out", type=Path, default=OUT, help="folder to write corpus.jsonl and truth.json")
    args = parser.parse_args(argv)
    rows, truth = generate()
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    (args.out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", "utf-8")
    months = {d["date"][:7] for d in truth["documents"].values() if d["date"]}
    print(f"{len(rows)} documents, {len(months)} months, {len(OUTLETS)} outlets, {len(truth['groups'])} groups "
          f"of copies ({sum(len(g['members']) for g in truth['groups'])} documents) -> {args.out}")


if __name__ == "__main__":
    main()
