"""StackOne payload rules: locales only from StackOne's list, the rest as unmapped_value."""

from __future__ import annotations

import pytest

from course_pipeline.vendors.stackone.locales import LOCALES, UNMAPPED
from course_pipeline.vendors.stackone.payload import StackOne, stackone_locale

from .test_payload_rules import build, catalog, course


def test_the_list_is_stackone_s_410_locales():
    assert len(LOCALES) == 410
    assert {"en_GB", "de_DE", "pt_BR", "zh_TW", "bs-ME"} <= LOCALES
    assert not {"eu_ES", "gl_ES", "cy_GB", "fil_PH", UNMAPPED} & LOCALES


@pytest.mark.parametrize(("tag", "value"), [
    ("en-GB", "en_GB"), ("de", "de_DE"), ("pt-BR", "pt_BR"), ("bs-ME", "bs-ME"),
    ("eu", UNMAPPED), ("gl", UNMAPPED), ("cy", UNMAPPED), ("fil", UNMAPPED), ("tlh-Latn-001", UNMAPPED),
])
def test_tags_map_to_listed_locales_only(tag, value):
    assert stackone_locale(tag) == value


def test_unlisted_languages_go_as_unmapped_value_with_the_original_tag():
    tables = catalog([course("C1", languages=["eu", "en-GB", "cy"])])

    body = build(StackOne(), tables).items[0].body

    assert body["languages"] == [{"value": "unmapped_value", "source_value": "eu"},
                                 {"value": "en_GB", "source_value": "en-GB"},
                                 {"value": "unmapped_value", "source_value": "cy"}]
