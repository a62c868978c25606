"""StackOne through the sync assets: a 202 is only accepted until a lookup finds the item, deactivation sends
the complete item, only the project's custom fields go, listed locales only, the content batch dialect, and
a retired batch endpoint stops the run with one line naming STACKONE_BATCH_PATH."""

from __future__ import annotations

import csv
from dataclasses import dataclass

import pytest
import yaml
from fake_clock import FakeClock
from sqlalchemy import update
from sync_support import FAST, Catalog, account_of, sync

from course_pipeline.ledger import sync_state
from course_pipeline.sandbox import SandboxConfig, SandboxServer

STACKONE = ("stackone",)


@pytest.fixture
def sandbox(request):
    """The sandbox with this test's StackOne settings (indirect parametrization), on a clock the test moves."""
    clock = FakeClock()
    with SandboxServer(SandboxConfig(**FAST, clock=clock, **getattr(request, "param", {}))) as server:
        server.clock = clock
        yield server


@dataclass
class RichCatalog(Catalog):
    """Courses with languages StackOne does not list and two custom fields."""

    def write(self):
        with (self.folder / "courses.csv").open("w", newline="", encoding="utf-8") as fh:
            rows = [["course_id", "title", "course_url", "languages", "tags", "status"]]
            rows += [[f"C{i:03d}", f"Course {i}", f"https://learn.example.com/c/{i}", "eu, cy, en-GB", "data",
                      "published"] for i in range(self.n) if f"C{i:03d}" not in self.dropped]
            csv.writer(fh).writerows(rows)
        self.sources_file.write_text(yaml.safe_dump({"sources": [
            {"name": self.name, "format": "csv", "path": "courses.csv",
             "tables": {"courses": {"custom_fields": {"area": "tags", "link": "course_url"}}}}]}))
        return self.sources_file


def courses(env) -> dict[str, dict]:
    return {c["external_key"]: c for c in env.state()["vendors"]["stackone"]["courses"]}


@pytest.fixture
def small(catalog) -> Catalog:
    catalog.n = 4
    return catalog


@pytest.mark.parametrize("sandbox", [{"stackone_processing_seconds": 60.0}], indirect=True)
def test_a_202_not_yet_processed_is_accepted_then_reconciled_when_found(small, env, instance, ledger):
    first = sync(small, instance, vendors=STACKONE)["stackone"]

    assert (first.counts["accepted"], first.counts["created"]) == (4, 0)
    assert set(first.outcomes["status"]) == {"accepted"}
    assert "not yet processed" in first.outcomes["error_message"][0]
    assert {s.status for s in ledger.states("stackone", account_of("stackone")).values()} == {"accepted"}

    env.clock.advance(60.0)  # StackOne processed them
    second = sync(small, instance, vendors=STACKONE)["stackone"]
    third = sync(small, instance, vendors=STACKONE)["stackone"]

    assert second.counts["reconciled"] == 4  # sent again (an upsert), and found this time
    assert (third.counts["unchanged"], third.requests) == (4, 0)
    assert set(env.state()["vendors"]["stackone"]["created_per_key"].values()) == {1}


def test_a_202_found_by_its_lookup_is_created(small, env, instance):
    report = sync(small, instance, vendors=STACKONE)["stackone"]

    assert report.counts["created"] == 4 and report.counts["accepted"] == 0
    assert report.requests == 1 + 4  # one batch, one lookup per item


def test_deactivation_sends_the_complete_landed_item(small, env, instance, ledger):
    sync(small, instance, vendors=STACKONE)
    small.dropped = {"C001"}

    report = sync(small, instance, vendors=STACKONE)["stackone"]

    assert report.counts["deactivated"] == 1
    body = courses(env)["C001"]["body"]
    assert body["active"] is False and body["title"] == "Course 1" and body["url"].endswith("/c/1")


def test_deactivation_without_a_kept_payload_rebuilds_the_item_from_stackone(small, env, instance, ledger):
    sync(small, instance, vendors=STACKONE)
    with ledger.engine.begin() as conn:  # a ledger from before StackOne's payloads were kept
        conn.execute(update(sync_state).values(payload_json=None))
    small.dropped = {"C002"}

    report = sync(small, instance, vendors=STACKONE)["stackone"]

    assert report.counts["deactivated"] == 1
    body = courses(env)["C002"]["body"]
    assert body["active"] is False and body["title"] == "Course 2"


@pytest.mark.parametrize("sandbox", [{"stackone_custom_fields": ("area",)}], indirect=True)
def test_only_the_configured_custom_fields_are_sent_and_the_others_named(tmp_path, env, instance, monkeypatch):
    monkeypatch.setenv("STACKONE_CUSTOM_FIELDS", "area")
    (tmp_path / "rich").mkdir()
    report = sync(RichCatalog(tmp_path / "rich", n=2), instance, vendors=STACKONE)["stackone"]

    assert report.counts["created"] == 2
    assert set(report.outcomes["error_code"]) == {"CUSTOM_FIELDS_NOT_SENT"}
    assert "link" in report.outcomes["error_message"][0] and "STACKONE_CUSTOM_FIELDS" in report.outcomes["error_message"][0]
    assert courses(env)["C000"]["body"]["unified_custom_fields"] == {"area": "data"}


def test_no_custom_field_is_sent_when_none_is_configured(tmp_path, env, instance):
    (tmp_path / "rich").mkdir()
    report = sync(RichCatalog(tmp_path / "rich", n=1), instance, vendors=STACKONE)["stackone"]

    assert report.counts["created"] == 1
    assert "unified_custom_fields" not in courses(env)["C000"]["body"]


def test_unlisted_languages_land_as_unmapped_value(tmp_path, env, instance):
    (tmp_path / "rich").mkdir()
    report = sync(RichCatalog(tmp_path / "rich", n=1), instance, vendors=STACKONE)["stackone"]

    assert report.counts["created"] == 1
    assert courses(env)["C000"]["body"]["languages"] == [
        {"value": "unmapped_value", "source_value": "eu"}, {"value": "unmapped_value", "source_value": "cy"},
        {"value": "en_GB", "source_value": "en-GB"}]


def test_the_content_batch_sends_each_course_as_a_content_item_left_accepted(small, env, instance, monkeypatch):
    monkeypatch.setenv("STACKONE_BATCH_PATH", "/unified/lms/content/batch")

    report = sync(small, instance, vendors=STACKONE)["stackone"]

    assert report.counts["accepted"] == 4 and report.requests == 1  # no documented lookup for content
    record = courses(env)["C000"]
    assert record["kind"] == "content" and record["body"]["content_url"].endswith("/c/0")


@pytest.mark.parametrize("sandbox", [{"stackone_course_batch_status": 410}, {"stackone_course_batch_status": 404}],
                         indirect=True, ids=["410", "404"])
def test_a_gone_batch_endpoint_stops_the_vendor_with_one_line(small, env, instance, monkeypatch):
    monkeypatch.setenv("STACKONE_BATCH_SIZE", "1")
    monkeypatch.setenv("STACKONE_WORKERS", "1")

    report = sync(small, instance, vendors=STACKONE)["stackone"]

    assert report.counts["failed"] == 4 and report.requests == 1  # the first batch told; nothing more was sent
    assert set(report.outcomes["error_code"]) == {"ENDPOINT_GONE"}
    line = report.outcomes["error_message"][0]
    assert "STACKONE_BATCH_PATH" in line and "\n" not in line
    assert courses(env) == {}
