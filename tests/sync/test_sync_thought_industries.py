"""Thought Industries through the sync job's assets: both dialects, a lost answer reconciled by the
documented lookup by slug, a slug someone else holds, and slugs and titles unique across the sources
sent to one account (rows of the table in course_pipeline/sandbox/thoughtindustries.py)."""

from __future__ import annotations

import csv
from dataclasses import dataclass

import pytest
import requests
import yaml
from sync_support import Catalog, sync

from course_pipeline.sandbox import SANDBOX_TOKENS

VENDOR = ("thought_industries",)
QUICK = {"ATTEMPTS": "2", "BACKOFF": "0.01", "WORKERS": "1"}


@pytest.fixture
def bulk(monkeypatch):
    monkeypatch.setenv("THOUGHT_INDUSTRIES_DIALECT", "bulk")


@pytest.fixture
def quick(monkeypatch):
    for key, value in QUICK.items():
        monkeypatch.setenv(f"THOUGHT_INDUSTRIES_{key}", value)


def held(env) -> dict:
    return env.state()["vendors"]["thought_industries"]


@pytest.mark.timeout(120)
def test_bulk_dialect_creates_100_a_request_and_updates_by_id(catalog, env, instance, bulk):
    first = sync(catalog, instance, vendors=VENDOR)["thought_industries"]

    assert (first.counts["created"], first.requests, first.counts["failed"]) == (30, 1, 0)
    courses = held(env)["courses"]
    assert {c["body"]["kind"] for c in courses} == {"courseGroup"} and len(courses) == 30
    assert (first.outcomes.set_index("course_id").loc["C007", "vendor_id"]
            == next(c["id"] for c in courses if c["external_key"] == "C007"))

    catalog.changed = {"C003": "Course 3, revised"}
    second = sync(catalog, instance, vendors=VENDOR)["thought_industries"]
    assert (second.counts["updated"], second.counts["unchanged"], second.requests) == (1, 29, 1)


@pytest.mark.timeout(120)
def test_single_dialect_is_one_course_a_request(catalog, env, instance):
    run = sync(catalog, instance, vendors=VENDOR)["thought_industries"]

    assert (run.counts["created"], run.requests) == (30, 30)
    assert all("courseType" in c["body"] for c in held(env)["courses"])


@pytest.mark.timeout(120)
def test_bulk_lost_answer_is_reconciled_by_slug_each_course_once(catalog, env, instance, bulk, quick):
    env.set_faults("thought_industries", script=["reset"])  # the bulk create landed; its answer was lost

    run = sync(catalog, instance, vendors=VENDOR)["thought_industries"]

    assert (run.counts["reconciled"], run.counts["created"], run.counts["failed"]) == (30, 0, 0)
    assert held(env)["created_per_key"] == {f"C{i:03d}": 1 for i in range(30)}
    assert held(env)["duplicates"] == 0
    rerun = sync(catalog, instance, vendors=VENDOR)["thought_industries"]
    assert (rerun.counts["unchanged"], rerun.requests) == (30, 0)


@pytest.mark.timeout(120)
def test_a_slug_someone_else_holds_fails_with_the_reason(catalog, env, instance):
    requests.post(f"{env.base_urls['thought_industries']}/incoming/v2/courses", timeout=5,
                  headers={"Authorization": f"Bearer {SANDBOX_TOKENS['thought_industries_api_key']}"},
                  json={"title": "Made by hand", "courseType": "course", "slug": "course-0"}).raise_for_status()

    run = sync(catalog, instance, vendors=VENDOR)["thought_industries"]

    row = run.outcomes.set_index("course_id").loc["C000"]
    assert (row["status"], row["error_code"]) == ("failed", "DUPLICATE_SLUG")
    assert "did not send" in row["error_message"]
    assert run.counts["created"] == 29 and run.counts["reconciled"] == 0


@dataclass
class PartnerCatalog(Catalog):
    """A second source for the same account: one title and one slug the first source already holds."""

    def write(self):
        rows = [["course_id", "title", "slug", "course_url", "status"],
                ["P000", "Course 0", "", "https://partner.example.com/0", "published"],   # title held by C000
                ["P001", "Partner course", "course-1", "https://partner.example.com/1", "published"],  # slug of C001
                ["P002", "Partner two", "", "https://partner.example.com/2", "published"]]
        with (self.folder / "courses.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
        self.sources_file.write_text(yaml.safe_dump({"sources": [
            {"name": self.name, "format": "csv", "path": "courses.csv", "tables": {"courses": {}}}]}))
        return self.sources_file


@pytest.mark.timeout(120)
def test_slugs_and_titles_are_unique_across_sources_at_one_account(catalog, env, instance, tmp_path):
    sync(catalog, instance, vendors=VENDOR)
    folder = tmp_path / "partner"
    folder.mkdir()
    partner = PartnerCatalog(folder, n=3, name="partner")

    run = sync(partner, instance, vendors=VENDOR)["thought_industries"]

    by_id = run.outcomes.set_index("course_id")
    assert (by_id.loc["P000", "status"], by_id.loc["P000", "error_code"]) == ("rejected", "duplicate_title")
    assert "C000" in by_id.loc["P000", "error_message"] and "'shop'" in by_id.loc["P000", "error_message"]
    assert by_id.loc["P001", "status"] == by_id.loc["P002", "status"] == "created"
    slugs = {c["external_key"]: c["body"]["slug"] for c in held(env)["courses"]}
    assert slugs["C001"] == "course-1" and slugs["P001"].startswith("course-1-") and run.counts["failed"] == 0
    again = sync(partner, instance, vendors=VENDOR)["thought_industries"]
    assert (again.counts["unchanged"], again.requests) == (2, 0)  # the suffix is stable
