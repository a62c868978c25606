"""Value parsing: what sources write into our types, and a clear reason for what cannot be read."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from course_pipeline.catalog.sources import Conventions
from course_pipeline.catalog.values import (
    CellErrors,
    Unreadable,
    parse_bool,
    parse_duration,
    parse_languages,
    to_language_tag,
    to_minutes,
)


@pytest.mark.parametrize("text, minutes", [
    ("90", 90), (90, 90), (1.5, 2), ("37 mins", 37), ("37 min.", 37), ("1.5 hours", 90), ("1,5 Stunden", 90),
    ("2h", 120), ("1h 30m", 90), ("1 hour and 15 minutes", 75), ("12 Weeks", 12 * 7 * 24 * 60),
    ("3 days", 3 * 24 * 60), ("PT1H30M", 90), ("pt45m", 45), ("P1DT2H", 26 * 60), ("1:45", 105),
    ("0:30:30", 31), (dt.timedelta(hours=2), 120),
])
def test_durations_in_minutes(text, minutes):
    assert to_minutes(text) == minutes


def test_bare_numbers_follow_the_configured_unit():
    assert to_minutes("1.5", unit="hours") == 90
    assert to_minutes(2, unit="hours") == 120
    assert to_minutes("45 mins", unit="hours") == 45  # a stated unit wins


@pytest.mark.parametrize("text", ["ca. zwei Stunden", "soon", "12 parsecs", "PTXM", "1:75", "1h 30"])
def test_unreadable_durations(text):
    with pytest.raises(Unreadable) as info:
        to_minutes(text)
    assert info.value.rule == "duration"


def test_duration_column_records_each_bad_cell():
    errors = CellErrors()
    parsed = parse_duration(pd.Series(["90", "soon", None, "soon"], dtype="str"), "duration_minutes", errors,
                            Conventions())
    assert parsed.tolist()[0] == 90 and parsed.isna().tolist() == [False, True, True, True]
    assert [item[0] for item in errors.items] == [1, 3]


@pytest.mark.parametrize("text, tag", [
    ("en", "en"), ("en_GB", "en-GB"), ("en-gb", "en-GB"), ("eng", "en"), ("English", "en"), ("Deutsch", "de"),
    ("German", "de"), ("English (UK)", "en-GB"), ("pt-BR", "pt-BR"), ("zh-Hant-TW", "zh-Hant-TW"),
])
def test_language_names_and_tags_become_bcp47(text, tag):
    assert to_language_tag(text) == tag


def test_language_lists_split_on_what_people_write():
    errors = CellErrors()
    parsed = parse_languages(pd.Series(["English, German", "en;fr/de", "not a language", None], dtype="str"),
                             "languages", errors, Conventions())
    assert parsed.tolist() == [["en", "de"], ["en", "fr", "de"], [], []]
    assert errors.items[0][0] == 2 and errors.items[0][2] == "language"


def test_booleans_by_configured_words():
    errors = CellErrors()
    conv = Conventions(true_words=("ja", "yes"), false_words=("nein", "no"))
    parsed = parse_bool(pd.Series(["Ja", "nein", "YES", "vielleicht", None], dtype=object), "is_free", errors, conv)
    assert parsed.tolist()[:3] == [True, False, True]
    assert [e[0] for e in errors.items] == [3]
