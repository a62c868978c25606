"""An agency's setup through the doors people use: three HighLevel locations and two Thought Industries
instances in one destinations file, each receiving its own subset of three catalogs. `course-pipeline sync`
sends each account its catalogs and nothing else, the sandbox holds each course once per account, a
second sync sends nothing, and `status` and `sync_report` show the outcomes per account; a change HighLevel cannot
take is settled with `resolve --destination` at one location, not the others."""

from __future__ import annotations

import csv
import json

import dagster as dg
import pytest
import yaml

from course_pipeline.cli import EXIT_OK, EXIT_UNREADABLE, main
from course_pipeline.defs.runner import local_instance

CATALOGS = {"north": 4, "south": 3, "west": 2}
DESTINATIONS = {"destinations": {
    "highlevel": [{"name": "north", "account": "loc-north", "sources": ["north"]},
                  {"name": "south", "account": "loc-south", "sources": ["south"]},
                  {"name": "hq", "account": "loc-hq"}],  # every catalog
    "thought_industries": [{"name": "acme", "sources": ["north", "south"]},
                           {"name": "beta", "sources": ["west"]}],
}}
# What each account must hold: its catalogs' courses, once each.
EXPECTED = {("highlevel", "loc-north"): ["north"], ("highlevel", "loc-south"): ["south"],
            ("highlevel", "loc-hq"): ["north", "south", "west"],
            ("thought_industries", "acme.thoughtindustries.local"): ["north", "south"],
            ("thought_industries", "beta.thoughtindustries.local"): ["west"]}


@pytest.fixture
def agency(tmp_path, env, monkeypatch):
    entries = []
    for name, n in CATALOGS.items():
        with (tmp_path / f"{name}.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["course_id", "title", "course_url"])
            writer.writerows([f"{name}-{i}", f"{name.title()} course {i}", f"https://learn.example.com/{name}/{i}"]
                             for i in range(n))
        entries.append({"name": name, "format": "csv", "path": f"{name}.csv", "tables": {"courses": {}}})
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    (tmp_path / "destinations.yaml").write_text(yaml.safe_dump(DESTINATIONS))  # found beside the sources file
    monkeypatch.setenv("COURSE_PIPELINE_VENDORS", "highlevel,thought_industries")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return tmp_path / "sources.yaml"


def held(sandbox) -> dict[tuple[str, str], dict[str, int]]:
    """What each sandbox account created, per key (HighLevel: the title; Thought Industries: the external id,
    our course id) with how many times."""
    state = sandbox.state()["vendors"]
    return {(vendor, account): detail["created_per_key"] for vendor in ("highlevel", "thought_industries")
            for account, detail in state[vendor]["accounts"].items()}


def test_each_account_gets_its_own_catalogs_once_shown_and_settled_per_account(agency, env, capsys):
    assert main(["sync", str(agency), "--json"]) == EXIT_OK
    totals = json.loads(capsys.readouterr().out)["vendors"]
    # One line per destination: the vendor's name and the destination's.
    assert set(totals) == {"highlevel__north", "highlevel__south", "highlevel__hq", "thought_industries__acme",
                           "thought_industries__beta"}
    assert totals["highlevel__hq"]["queued"] == sum(CATALOGS.values())
    assert totals["thought_industries__beta"]["created"] == CATALOGS["west"]

    # Each account holds its catalogs' courses, once each, and nothing else (HighLevel keys by title,
    # Thought Industries by external id: our course id).
    def expected(vendor, catalogs):
        return {(f"{c.title()} course {i}" if vendor == "highlevel" else f"{c}-{i}"): 1
                for c in catalogs for i in range(CATALOGS[c])}

    accounts = held(env)
    assert {key: dict(created) for key, created in accounts.items()} == {
        **{(v, a if v == "highlevel" else a.split(".")[0]): expected(v, c) for (v, a), c in EXPECTED.items()},
        ("highlevel", "sandbox-location-1"): {}, ("thought_industries", "sandbox"): {}}  # the defaults: untouched
    state = env.state()["vendors"]
    assert [a for v in ("highlevel", "thought_industries") for a, d in state[v]["accounts"].items() if d["throttled"]] == []

    assert main(["sync", str(agency), "--json"]) == EXIT_OK  # nothing changed: nothing is sent anywhere
    again = json.loads(capsys.readouterr().out)["vendors"]
    assert all(counts["requests"] == 0 for counts in again.values()), again

    assert main(["status", str(agency), "--all", "--json"]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    by_account = {}
    for row in rows:
        by_account.setdefault((row["vendor"], row["account"]), set()).add(row["source"])
    assert {key: sorted(found) for key, found in by_account.items()} == EXPECTED

    with local_instance() as instance:  # the UI's view: sync_report of north lists every account it went to
        record = instance.fetch_materializations(dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("sync_report"), asset_partitions=["north"]), limit=1).records[0]
        table = record.asset_materialization.metadata["state_by_vendor"].value
    assert "loc-north" in table and "loc-hq" in table and "loc-south" not in table

    # A change HighLevel cannot take is settled at one location at a time.
    north = agency.parent / "north.csv"
    north.write_text(north.read_text().replace("North course 0", "North course 0 (2027)"))
    main(["sync", str(agency)])  # north-0 changed: neither HighLevel location that holds it can update it
    capsys.readouterr()

    def not_updated() -> set[tuple[str, str]]:
        main(["status", str(agency), "--json"])
        return {(row["account"], row["course_id"]) for row in json.loads(capsys.readouterr().out)
                if row["state"] == "not_updated"}

    assert not_updated() == {("loc-north", "north-0"), ("loc-hq", "north-0")}
    # HighLevel has three destinations here: which one is meant must be said.
    assert main(["resolve", "highlevel", "north-0", "--landed", "--sources", str(agency)]) == EXIT_UNREADABLE
    assert "name one with --destination" in capsys.readouterr().err
    assert main(["resolve", "highlevel", "north-0", "--landed", "--destination", "north",
                 "--sources", str(agency)]) == EXIT_OK
    capsys.readouterr()
    assert not_updated() == {("loc-hq", "north-0")}  # the other location still holds the old title
