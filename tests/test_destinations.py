"""The destinations file: named accounts per vendor, today's environment variables as the default account,
and a clear error (file, entry, what was expected) for every mistake, never a secret echoed."""

from __future__ import annotations

import pytest
import yaml

from course_pipeline.catalog.errors import ConfigError
from course_pipeline.defs.definitions import build_defs, load_destinations
from course_pipeline.defs.sync_assets import sync_asset_key, vendor_pool
from course_pipeline.destinations import DESTINATIONS_ENV, destinations_file, read_destinations
from course_pipeline.vendors import VENDOR_NAMES

AGENCY = {"destinations": {
    "highlevel": [{"name": "north", "account": "loc-north", "secrets": {"token": "HL_NORTH_TOKEN"},
                   "rate_limit": "50/10", "sources": ["north"]},
                  {"name": "south", "account_env": "HL_SOUTH_LOCATION", "secrets": {"token": "HL_SOUTH_TOKEN"}}],
    "thought_industries": [{"name": "acme", "base_url": "https://acme.thoughtindustries.com",
                            "secrets": {"api_key": "TI_ACME_KEY"}, "hourly_limit": "500/3600"}],
}}


def write_sources(folder, names=("north", "south")):
    for name in names:
        (folder / f"{name}.csv").write_text("course_id,title\nC1,One\n")
    entries = [{"name": n, "format": "csv", "path": f"{n}.csv", "tables": {"courses": {}}} for n in names]
    (folder / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    return folder / "sources.yaml"


def write(folder, document, name="destinations.yaml"):
    path = folder / name
    path.write_text(yaml.safe_dump(document) if not isinstance(document, str) else document)
    return path


def test_without_a_file_every_vendor_has_its_default_account(tmp_path, monkeypatch):
    monkeypatch.delenv(DESTINATIONS_ENV, raising=False)
    (tmp_path / "sources.yaml").write_text("sources: []\n")
    assert destinations_file(tmp_path / "sources.yaml") is None
    destinations = read_destinations(None)
    assert [(d.vendor, d.name, d.key) for d in destinations.all] == [(v, "default", v) for v in VENDOR_NAMES]
    # Today's names stay: the asset, the pool and the resource of the default account are the vendor's.
    assert sync_asset_key(destinations.get("highlevel").key) == "highlevel_sync"
    assert vendor_pool(destinations.get("highlevel").key) == "vendor_highlevel"


def test_named_accounts_replace_a_vendors_default_and_others_keep_theirs(tmp_path, monkeypatch):
    monkeypatch.delenv(DESTINATIONS_ENV, raising=False)
    path = write(tmp_path, AGENCY)
    destinations = read_destinations(path, source_names=["north", "south"])
    assert [d.key for d in destinations.all] == ["highlevel__north", "highlevel__south", "kombo", "stackone",
                                                  "thought_industries__acme"]
    north = destinations.get("highlevel", "north")
    assert north.receives("north") and not north.receives("south")
    assert destinations.get("highlevel", "south").receives("anything")  # no `sources`: every source
    assert [d.key for d in destinations.receiving("south")] == ["highlevel__south", "kombo", "stackone",
                                                                "thought_industries__acme"]
    assert vendor_pool(north.key) == "vendor_highlevel__north"
    with pytest.raises(ConfigError, match="name one with --destination"):
        destinations.get("highlevel")


def test_each_destination_is_a_resource_and_a_sync_asset_with_its_own_pool(tmp_path, monkeypatch):
    write_sources(tmp_path)
    write(tmp_path, AGENCY)
    defs = build_defs(destinations=load_destinations(tmp_path / "sources.yaml"))
    graph = defs.resolve_asset_graph()
    pools = {key.to_user_string(): graph.get(key).pools for key in graph.get_all_asset_keys()
             if key.to_user_string().endswith("_sync")}
    assert pools == {"highlevel__north_sync": {"vendor_highlevel__north"},
                     "highlevel__south_sync": {"vendor_highlevel__south"},
                     "kombo_sync": {"vendor_kombo"}, "stackone_sync": {"vendor_stackone"},
                     "thought_industries__acme_sync": {"vendor_thought_industries__acme"}}
    resources = defs.resources
    assert {"highlevel__north", "highlevel__south", "thought_industries__acme"} <= set(resources)
    assert resources["highlevel__north"].rate_limit == "50/10"
    assert resources["thought_industries__acme"].hourly_limit == "500/3600"


def test_the_slowest_paced_syncs_go_first_when_steps_wait_for_a_slot(tmp_path, monkeypatch):
    """Each sync step carries its pace as Dagster's and dagster-celery's priority, so an executor (or celery's
    queue) with more ready steps than slots starts the slowest-paced accounts' syncs first, after the steps every
    sync waits on."""
    from dagster._core.execution.api import create_execution_plan
    from dagster_celery.tags import DAGSTER_CELERY_STEP_PRIORITY_TAG as CELERY_PRIORITY_TAG

    from course_pipeline.vendors.settings import seconds_per_item

    # The documented paces: Thought Industries 60 / min and 1,000 / h, one course a request; HighLevel 100 / 10 s.
    assert seconds_per_item("thought_industries") == pytest.approx(3.6)
    assert seconds_per_item("thought_industries", "300/60", "10000/3600") == pytest.approx(0.36)
    assert seconds_per_item("highlevel", batch_size=50) == pytest.approx(0.002)
    assert seconds_per_item("kombo") == 0  # paced by requests in flight only
    write_sources(tmp_path)
    write(tmp_path, AGENCY)
    job = build_defs(destinations=load_destinations(tmp_path / "sources.yaml")).resolve_job_def("sync_job")
    plan = create_execution_plan(job)
    tags = {key: plan.get_step_by_key(key).tags for key in plan.step_keys_to_execute if key.endswith("_sync")}
    priority = {key: (int(t["dagster/priority"]), int(t[CELERY_PRIORITY_TAG])) for key, t in tags.items()}
    # acme: 500 / h, 7.2 s a course; north: 50 / 10 s at 10 a request, 0.02 s; the rest as documented.
    assert priority == {"thought_industries__acme_sync": (3, 8), "highlevel__north_sync": (1, 6),
                        "highlevel__south_sync": (0, 5), "kombo_sync": (0, 5), "stackone_sync": (0, 5)}
    # The steps every sync waits on come first: a catalog's payloads are not held behind another run's syncs.
    upstream = {key: int(plan.get_step_by_key(key).tags[CELERY_PRIORITY_TAG])
                for key in ("raw_catalog", "valid_catalog", "vendor_payloads")}
    assert upstream == {"raw_catalog": 10, "valid_catalog": 10, "vendor_payloads": 10}


def test_live_destinations_take_their_secrets_from_the_variables_named(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_PIPELINE_TARGET", "live")
    monkeypatch.setenv("HL_NORTH_TOKEN", "pit-north-secret")
    monkeypatch.setenv("HL_SOUTH_TOKEN", "pit-south-secret")
    monkeypatch.setenv("HL_SOUTH_LOCATION", "loc-south")
    monkeypatch.setenv("TI_ACME_KEY", "ti-acme-secret")
    write_sources(tmp_path)
    write(tmp_path, AGENCY)
    resources = build_defs(destinations=load_destinations(tmp_path / "sources.yaml")).resources
    north = resources["highlevel__north"].process_config_and_initialize().settings()
    south = resources["highlevel__south"].process_config_and_initialize().settings()
    acme = resources["thought_industries__acme"].process_config_and_initialize().settings()
    assert (north.account, north.secret, north.limits.requests) == ("loc-north", "pit-north-secret", 50)
    assert (south.account, south.secret) == ("loc-south", "pit-south-secret")
    assert (acme.account, acme.base_url, acme.secret) == ("acme.thoughtindustries.com",
                                                          "https://acme.thoughtindustries.com", "ti-acme-secret")
    assert acme.limits.also == ((500, 3600.0),)
    # Dagster keeps the variables' names, never their values.
    assert "pit-north-secret" not in repr(resources["highlevel__north"])
    assert "HL_NORTH_TOKEN" in repr(resources["highlevel__north"])


@pytest.mark.parametrize(("document", "expected"), [
    ({"destinations": {"moodle": [{"name": "x"}]}}, r"unknown vendor\(s\) moodle"),
    ({"destinations": {"highlevel": [{"name": "North Side", "account": "a"}]}}, r"destinations.highlevel\[0\]: name"),
    ({"destinations": {"highlevel": [{"name": "a", "account": "x"}, {"name": "a", "account": "y"}]}},
     r"destinations.highlevel\[1\]: the name 'a' is given twice"),
    ({"destinations": {"highlevel": [{"name": "a", "acount": "x"}]}}, r"destinations.highlevel\[0\]: acount: Extra"),
    ({"destinations": {"kombo": [{"name": "a", "secrets": {"token": "K"}}]}}, "kombo has no secret token"),
    ({"destinations": {"highlevel": [{"name": "a", "sources": ["nort"]}]}}, "sources nort are not in the sources file"),
    ({"destinations": {"stackone": [{"name": "a", "account": "same"}, {"name": "b", "account": "same"}]}},
     "account.s. given to more than one destination: stackone same"),
    ({"destinations": {"highlevel": []}}, "must be a list of accounts"),
    ({"sources": []}, "expected one key, `destinations`"),
])
def test_a_mistake_names_the_file_the_entry_and_what_was_expected(tmp_path, document, expected):
    path = write(tmp_path, document)
    with pytest.raises(ConfigError, match=expected) as raised:
        read_destinations(path, source_names=["north"])
    assert str(path) in str(raised.value)


def test_a_secret_pasted_where_its_variables_name_belongs_is_refused_and_not_echoed(tmp_path):
    path = write(tmp_path, {"destinations": {"highlevel": [
        {"name": "north", "account": "loc", "secrets": {"token": "pit-3f9a1c2e-live-token"}}]}})
    with pytest.raises(ConfigError, match="NAME of the environment variable") as raised:
        read_destinations(path)
    assert "pit-3f9a1c2e" not in str(raised.value)


def test_the_variable_names_a_file_elsewhere(tmp_path, monkeypatch):
    path = write(tmp_path, AGENCY, name="agency.yaml")
    monkeypatch.setenv(DESTINATIONS_ENV, str(path))
    assert destinations_file(tmp_path / "elsewhere" / "sources.yaml") == path
    monkeypatch.setenv(DESTINATIONS_ENV, str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="not a file"):
        destinations_file(None)


def test_a_live_named_account_without_its_id_says_which_setting_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_PIPELINE_TARGET", "live")
    (tmp_path / "sources.yaml").write_text("sources: []\n")
    write(tmp_path, {"destinations": {"kombo": [{"name": "emea", "secrets": {"api_key": "KOMBO_EMEA_KEY"}}]}})
    with pytest.raises(ConfigError, match="destination kombo emea: give its account .the integration id."):
        build_defs(destinations=load_destinations(tmp_path / "sources.yaml"))


def test_the_example_file_reads_against_the_sample_sources(sample_sources_file):
    from course_pipeline.catalog.sources import read_sources

    names = [s.name for s in read_sources(sample_sources_file).configured]
    destinations = read_destinations(sample_sources_file.parent / "destinations.example.yaml", source_names=names)
    assert [d.key for d in destinations.of("highlevel")] == ["highlevel__north", "highlevel__dach", "highlevel__hq"]
    assert len(destinations.of("thought_industries")) == 2


def test_the_destinations_command_lists_the_accounts_and_the_variables_they_lack(tmp_path, monkeypatch, capsys):
    from course_pipeline.cli import EXIT_OK, EXIT_REJECTS, main

    sources_file = write_sources(tmp_path)
    write(tmp_path, AGENCY)
    monkeypatch.setenv("COURSE_PIPELINE_VENDORS", "highlevel,thought_industries")
    assert main(["destinations", str(sources_file)]) == EXIT_OK  # the sandbox needs no variable
    out = capsys.readouterr().out
    assert "loc-north" in out and "$HL_SOUTH_LOCATION" in out and "north" in out and "500/3600" in out
    monkeypatch.setenv("COURSE_PIPELINE_TARGET", "live")
    monkeypatch.setenv("HL_NORTH_TOKEN", "pit-north-secret")
    monkeypatch.setenv("TI_ACME_KEY", "ti-acme-secret")
    assert main(["destinations", str(sources_file)]) == EXIT_REJECTS  # south lacks its token and location
    out = capsys.readouterr().out
    south = next(line for line in out.splitlines() if line.startswith("highlevel") and " south " in line)
    assert "HL_SOUTH_TOKEN" in south and "HL_SOUTH_LOCATION" in south
    assert "pit-north-secret" not in out and "ti-acme-secret" not in out


def test_a_process_builds_the_definitions_once_until_a_choice_or_a_file_changes(tmp_path, monkeypatch):
    from course_pipeline import definitions

    monkeypatch.setenv("COURSE_PIPELINE_SOURCES", str(write_sources(tmp_path)))
    first = definitions.defs()
    assert definitions.defs() is first  # a worker's next step: no second build
    write(tmp_path, AGENCY)  # a destinations file appears beside the sources
    second = definitions.defs()
    assert second is not first and "highlevel__north" in second.resources
    monkeypatch.setenv("COURSE_PIPELINE_VENDORS", "highlevel")
    assert definitions.defs() is not second
