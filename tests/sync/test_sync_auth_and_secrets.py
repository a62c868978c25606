"""Credentials: HighLevel OAuth refresh with rotation, a live vendor without its secret, and no secret
anywhere in logs, the ledger or the Dagster instance's files."""

from __future__ import annotations

import logging
import stat

import dagster as dg
import pytest
from sync_support import FAST, Catalog, env_for, sync_all

from course_pipeline.catalog.errors import ConfigError
from course_pipeline.defs.definitions import ASSETS, build_resources, sync_selection
from course_pipeline.defs.partitions import register_sources
from course_pipeline.defs.resources import CatalogSources
from course_pipeline.sandbox import SANDBOX_TOKENS, SandboxConfig, SandboxServer
from course_pipeline.vendors.settings import settings_from_env


def test_highlevel_oauth_refreshes_on_401_and_stores_the_rotated_token(catalog, tmp_path, ledger):
    token_file = tmp_path / "oauth" / "highlevel.json"
    with SandboxServer(SandboxConfig(**{**FAST, "highlevel_token_lifetime": 0.5})) as sandbox:
        env = env_for(sandbox, HIGHLEVEL_REFRESH_TOKEN=SANDBOX_TOKENS["highlevel_refresh_token"],
                      HIGHLEVEL_CLIENT_ID=SANDBOX_TOKENS["highlevel_client_id"],
                      HIGHLEVEL_CLIENT_SECRET=SANDBOX_TOKENS["highlevel_client_secret"],
                      HIGHLEVEL_TOKEN_FILE=str(token_file), HIGHLEVEL_BATCH_SIZE="2", HIGHLEVEL_WORKERS="1")
        catalog.n = 6
        first = sync_all(catalog.validated(), ledger, env, vendors=("highlevel",))["highlevel"]
        assert first.counts()["created"] == 6
        stored = token_file.read_text()
        assert SANDBOX_TOKENS["highlevel_refresh_token"] not in stored  # rotated: the first one is spent
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        import time

        time.sleep(0.6)  # the access token expires: the next import gets a 401, refreshes once, retries once
        catalog.n = 8
        second = sync_all(catalog.validated(), ledger, env, vendors=("highlevel",))["highlevel"]
        assert second.counts()["created"] == 2 and second.counts()["failed"] == 0
        assert token_file.read_text() != stored  # rotated again, and the new one kept


def test_live_base_url_without_its_secret_stops_with_the_variable_named():
    with pytest.raises(ConfigError, match="STACKONE_API_KEY is not set"):
        settings_from_env("stackone", {"STACKONE_BASE_URL": "https://api.stackone.com",
                                       "STACKONE_ACCOUNT_ID": "acc"})
    with pytest.raises(ConfigError, match="HIGHLEVEL_CLIENT_ID"):
        settings_from_env("highlevel", {"HIGHLEVEL_BASE_URL": "https://services.leadconnectorhq.com",
                                        "HIGHLEVEL_LOCATION_ID": "loc", "HIGHLEVEL_REFRESH_TOKEN": "r"})
    assert repr(settings_from_env("kombo", {})).count(SANDBOX_TOKENS["kombo_api_key"]) == 0


def test_secrets_are_nowhere_in_logs_ledger_or_dagster_home(tmp_path, monkeypatch, caplog, capfd):
    home = tmp_path / "dagster_home"
    home.mkdir()
    folder = tmp_path / "catalog"
    folder.mkdir()
    catalog = Catalog(folder, n=12)
    catalog.write()
    wrong = "wrong-kombo-secret-0123456789"  # refused by the sandbox: its error must not echo it
    secrets = [SANDBOX_TOKENS[k] for k in ("highlevel_token", "stackone_api_key", "thought_industries_api_key")]
    secrets.append(wrong)
    monkeypatch.setenv("HIGHLEVEL_TOKEN", SANDBOX_TOKENS["highlevel_token"])
    monkeypatch.setenv("KOMBO_API_KEY", wrong)
    monkeypatch.setenv("STACKONE_API_KEY", SANDBOX_TOKENS["stackone_api_key"])
    monkeypatch.setenv("THOUGHT_INDUSTRIES_API_KEY", SANDBOX_TOKENS["thought_industries_api_key"])
    ledger_file = tmp_path / "ledger.db"
    caplog.set_level(logging.DEBUG)
    with SandboxServer(SandboxConfig(**FAST)) as sandbox:
        for key, value in {"HIGHLEVEL_RATE_LIMIT": "200/1", "STACKONE_RATE_LIMIT": "200/1",
                           "THOUGHT_INDUSTRIES_RATE_LIMIT": "400/1"}.items():
            monkeypatch.setenv(key, value)
        instance = dg.DagsterInstance.local_temp(str(home))
        sources = CatalogSources(sources_file=str(catalog.sources_file)).all()
        register_sources(instance, sources)
        resources = build_resources(sandbox_url=sandbox.url, sources_file=str(catalog.sources_file),
                                    ledger_url=f"sqlite:///{ledger_file}")
        result = dg.materialize(ASSETS, selection=sync_selection(["highlevel", "kombo", "stackone",
                                                                  "thought_industries"]),
                                partition_key="shop", instance=instance, resources=resources, raise_on_error=False)
        instance.dispose()
    assert result.success
    kombo = result.asset_materializations_for_node("kombo_sync")[0].metadata
    assert kombo["count/failed"].value == 12  # the wrong key was really used, and refused
    out, err = capfd.readouterr()
    texts = {"logs": caplog.text + out + err}
    for path in [*home.rglob("*"), ledger_file]:
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {where}"
    assert any("sync_report" in where or where.endswith(".db") for where in texts)  # the files were read


def test_a_refused_refresh_fails_the_items_without_sending(catalog, tmp_path, ledger):
    with SandboxServer(SandboxConfig(**FAST)) as sandbox:
        env = env_for(sandbox, HIGHLEVEL_REFRESH_TOKEN="spent-or-wrong-refresh-token",
                      HIGHLEVEL_CLIENT_ID=SANDBOX_TOKENS["highlevel_client_id"],
                      HIGHLEVEL_CLIENT_SECRET=SANDBOX_TOKENS["highlevel_client_secret"],
                      HIGHLEVEL_TOKEN_FILE=str(tmp_path / "oauth.json"))
        catalog.n = 4
        report = sync_all(catalog.validated(), ledger, env, vendors=("highlevel",))["highlevel"]
        assert report.counts()["failed"] == 4 and report.counts()["unknown"] == 0
        highlevel = sandbox.state()["vendors"]["highlevel"]
        assert highlevel["counters"]["requests"] == 1 and highlevel["created_per_key"] == {}  # the refresh only
        outcome = ledger.outcomes().iloc[0]
        assert "refresh refused" in outcome["error_message"] and "spent-or-wrong" not in outcome["error_message"]
