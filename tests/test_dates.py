"""Tests for publication dates (index/dates.py): English, Hindi and ISO forms, relative forms, invalid ones."""

import datetime as dt

import pytest

from index.dates import DateConfig, ParsedDate, crawl_time_of, looks_like_date, parse_date

# 04:30 UTC is 10:00 in India, the zone datetimes are written in by default
CRAWL = dt.datetime(2024, 11, 22, 4, 30, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    "raw, iso",
    [
        # the seeds' and English forms
        ("Fri. Nov 22nd, 2024", "2024-11-22"),
        ("22 November 2024", "2024-11-22"),
        ("Friday, November 22, 2024 2:30 PM", "2024-11-22T14:30:00+05:30"),
        ("Thu, 21 Nov 2024 18:00:00 +0000", "2024-11-21T23:30:00+05:30"),  # RSS: the same instant, in India
        ("Updated: 5 Jan 2024 10:30 AM IST", "2024-01-05T10:30:00+05:30"),  # IST is India's, not Israel's
        ("22/11/2024", "2024-11-22"),  # day first
        ("01/02/2024", "2024-02-01"),
        # ISO
        ("2024-11-22", "2024-11-22"),
        ("2024-11-22T14:30:00+05:30", "2024-11-22T14:30:00+05:30"),
        ("2024-11-22T09:00:00Z", "2024-11-22T14:30:00+05:30"),
        ("2024-11-22T14:30", "2024-11-22T14:30:00+05:30"),  # no zone: India's
        # Hindi month names, in their common spellings, with Devanagari digits and weekdays
        ("22 नवंबर 2024", "2024-11-22"),
        ("नवम्बर 22, 2024", "2024-11-22"),
        ("२२ नवम्बर २०२४", "2024-11-22"),
        ("शुक्रवार, 22 नवंबर 2024", "2024-11-22"),
        ("22 नवंबर 2024, 14:30 IST", "2024-11-22T14:30:00+05:30"),
        ("शनिवार, 23 नवम्बर 2024 | 10:15 AM", "2024-11-23T10:15:00+05:30"),
        ("5 जनवरी, 2024", "2024-01-05"), ("जनवरि 5, 2024", "2024-01-05"),
        ("1 फ़रवरी 2024", "2024-02-01"), ("1 फरवरी 2024", "2024-02-01"), ("फर्वरी 1, 2024", "2024-02-01"),
        ("9 मार्च 2024", "2024-03-09"),
        ("3 अप्रैल 2024", "2024-04-03"), ("अप्रेल 3, 2024", "2024-04-03"), ("एप्रिल 3, 2024", "2024-04-03"),
        ("9 मई 2024", "2024-05-09"), ("9 जून 2024", "2024-06-09"),
        ("4 जुलाई 2024", "2024-07-04"), ("जुलाइ 4, 2024", "2024-07-04"),
        ("9 अगस्त 2024", "2024-08-09"),
        ("12 सितंबर 2023", "2023-09-12"), ("12 सितम्बर 2023", "2023-09-12"),
        ("3 अक्टूबर 2023", "2023-10-03"), ("3 अक्तूबर 2023", "2023-10-03"),
        ("1 दिसंबर 2023", "2023-12-01"), ("दिसम्बर 1, 2023", "2023-12-01"),
        # relative forms, against the crawl time
        ("2 घंटे पहले", "2024-11-22T08:00:00+05:30"),
        ("दो घंटे पहले", "2024-11-22T08:00:00+05:30"),
        ("5 मिनट पहले", "2024-11-22T09:55:00+05:30"),
        ("3 days ago", "2024-11-19"),
        ("2 दिन पहले", "2024-11-20"),
        ("कल", "2024-11-21"),  # yesterday: a published date is never tomorrow
        ("आज", "2024-11-22"),
        ("परसों", "2024-11-20"),
        ("yesterday", "2024-11-21"),
        ("1 हफ्ते पहले", "2024-11-15"), ("1 सप्ताह पहले", "2024-11-15"),
        ("2 महीने पहले", "2024-09-22"),  # calendar months, not 61 days
        ("1 साल पहले", "2023-11-22"),
        ("45 दिन पहले", "2024-10-08"),
    ],
)
def test_dates_are_read_as_iso(raw, iso):
    assert parse_date(raw, CRAWL) == ParsedDate(raw, iso)


@pytest.mark.parametrize(
    "raw, problem",
    [
        ("Feb 30, 2024", "not a valid date"),
        ("32 जनवरी 2024", "not a valid date"),
        ("2024-02-30", "not a valid date"),
        ("31/04/2024", "not a valid date"),
        ("not-a-date", "not a date"),
        ("उत्तर कोरिया", "not a date"),
        ("12", "not a date"),  # a bare number is never guessed to be a day
        ("2024", "not a date"),  # nor a bare year
        ("नवंबर 2024", "not a date"),  # no day
        ("x" * 100, "longer than 80 characters"),
    ],
)
def test_what_is_not_a_date_says_why(raw, problem):
    assert parse_date(raw, CRAWL) == ParsedDate(raw, "", problem)


def test_empty_is_no_date_and_no_problem():
    assert parse_date("", CRAWL) == ParsedDate("")
    assert parse_date("   ", CRAWL) == ParsedDate("   ")


def test_a_relative_date_needs_a_crawl_time():
    assert parse_date("2 घंटे पहले").problem == "a relative date, and no crawl time to count back from"
    assert parse_date("22 नवंबर 2024").iso == "2024-11-22"  # an absolute one does not


def test_the_zone_is_a_setting():
    utc = DateConfig(utc_offset_minutes=0)
    assert parse_date("2024-11-22T14:30:00+05:30", config=utc).iso == "2024-11-22T09:00:00+00:00"
    assert parse_date("2 घंटे पहले", CRAWL, utc).iso == "2024-11-22T02:30:00+00:00"
    assert parse_date("22 नवंबर 2024, 14:30", config=utc).iso == "2024-11-22T14:30:00+00:00"


def test_a_naive_crawl_time_is_read_in_the_zone():
    assert parse_date("2 घंटे पहले", dt.datetime(2024, 11, 22, 10, 0)).iso == "2024-11-22T08:00:00+05:30"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-11-22T04:30:00Z", CRAWL),
        ("2024-11-22T10:00:00+05:30", CRAWL),
        ("2024-11-22T04:30:00", CRAWL),  # no zone: UTC, as ingest writes it
        ("yesterday", None),
        ("", None),
    ],
)
def test_crawl_times(value, expected):
    assert crawl_time_of(value) == expected


@pytest.mark.parametrize(
    "line, is_date",
    [
        ("Fri. Nov 22nd, 2024", True),
        ("Feb 30, 2024", True),  # a date line, though not a valid date
        ("2 घंटे पहले", True),
        ("उत्तर कोरिया", False),
        ("20 जून, 2024 को कोरियन सेंट्रल न्यूज एजेंसी", False),  # a headline that holds a date
        ("2024", False),
        ("", False),
    ],
)
def test_date_lines(line, is_date):
    assert looks_like_date(line) is is_date
