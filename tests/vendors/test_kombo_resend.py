"""The Kombo client's re-send marker: only after an answer, in course_url, and the body still Kombo's."""

from __future__ import annotations

import pytest

from course_pipeline.sandbox.schemas import issues, openapi_validator
from course_pipeline.vendors.kombo.client import resend_marked


def item(url: str) -> dict:
    return {"origin_id": "c-1", "course": {"type": "EXTERNAL", "title": "T", "course_url": url, "duration": 5}}


@pytest.mark.parametrize(("url", "answered", "sent"), [
    ("https://learn.example.com/c/1", 0, "https://learn.example.com/c/1"),
    ("https://learn.example.com/c/1", 1, "https://learn.example.com/c/1#resend-1"),
    ("https://learn.example.com/c/1?lang=de", 3, "https://learn.example.com/c/1?lang=de#resend-3"),
    # a fragment of its own is the app's route: the marker goes into the query instead
    ("https://app.example.com/#/course/1", 2, "https://app.example.com/?resend=2#/course/1"),
    ("https://app.example.com/?a=b#/course/1", 2, "https://app.example.com/?a=b&resend=2#/course/1"),
])
def test_the_marker_is_added_only_after_an_answer(url, answered, sent):
    original = item(url)
    marked = resend_marked(original, answered)

    assert marked["course"]["course_url"] == sent
    assert {**marked["course"], "course_url": url} == original["course"]  # nothing else changes
    assert original["course"]["course_url"] == url  # the payload itself is left as it was
    validator = openapi_validator("kombo-lms-courses.openapi.json", "PostLmsCoursesBulkRequestBody")
    assert issues(validator, {"items": [marked]}) == []


def test_every_answer_makes_another_body():
    bodies = {str(resend_marked(item("https://learn.example.com/c/1"), n)) for n in range(5)}
    assert len(bodies) == 5
