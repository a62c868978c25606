"""Credentials: HighLevel OAuth refresh with rotation, live targets (their secrets always from the run's
environment, never the sandbox's), and no secret anywhere in output, the ledger or the Dagster home."""

from __future__ import annotations

import json
import logging
import stat
import threading

import dagster as dg
import pytest
from fake_clock import FakeClock
from sync_support import FAST, sync

from course_pipeline.cli import main
from course_pipeline.sandbox import SANDBOX_TOKENS, SandboxConfig, SandboxServer

OAUTH_RUNS = 20
TOKEN_LIFETIME = 30.0  # seconds of the ticking clock: an access token serves about 15 imports


class TickingClock(FakeClock):
    """Moves on one second each time the sandbox reads it (about twice a request), so an access token
    expires after a few imports, in the middle of a run, whatever the real time."""

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.now += 1.0
            return self.now


@pytest.fixture
def oauth_sandbox(env, tmp_path, monkeypatch):
    """A sandbox whose access tokens expire after a few requests, with HighLevel on OAuth and its default
    worker threads (HIGHLEVEL_WORKERS unset), one course a request."""
    clock = TickingClock()
    config = SandboxConfig(**{**FAST, "highlevel_token_lifetime": TOKEN_LIFETIME}, clock=clock)
    with SandboxServer(config) as sandbox:
        monkeypatch.setenv("COURSE_PIPELINE_SANDBOX_URL", sandbox.url)
        monkeypatch.setenv("HIGHLEVEL_AUTH", "oauth")
        monkeypatch.setenv("HIGHLEVEL_BATCH_SIZE", "1")
        monkeypatch.delenv("HIGHLEVEL_WORKERS", raising=False)
        yield sandbox, clock


def test_highlevel_oauth_refreshes_once_per_expiry_under_default_workers_and_stores_the_rotated_token(
        oauth_sandbox, catalog, instance, tmp_path):
    sandbox, _ = oauth_sandbox
    token_file = tmp_path / "state" / "highlevel_oauth.json"
    catalog.n, stored, expiries = 0, None, 0
    for run in range(OAUTH_RUNS):
        before = sandbox.state()["vendors"]["highlevel"]["oauth"]
        catalog.n += 24
        report = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
        after = sandbox.state()["vendors"]["highlevel"]["oauth"]
        assert (report.counts["queued"], report.counts["failed"], report.counts["unknown"]) == (24, 0, 0), run
        expired = after["expired_tokens"] - before["expired_tokens"]
        # One refresh to start (the access token is not kept between runs) and one per token that expired,
        # however many worker threads met it: the refresh token works once, and none was refused.
        assert after["refreshes"] - before["refreshes"] == 1 + expired, run
        assert after["refused"] == 0, run
        expiries += expired
        assert token_file.read_text() != stored, run  # rotated, and the new one kept
        stored = token_file.read_text()
    assert expiries >= OAUTH_RUNS  # the tokens did expire mid-run, under every worker
    assert SANDBOX_TOKENS["highlevel_refresh_token"] not in stored  # the first one is spent
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    held = sandbox.state()["vendors"]["highlevel"]["created_per_key"]
    assert len(held) == 24 * OAUTH_RUNS and set(held.values()) == {1}


def test_a_refused_refresh_fails_the_items_without_sending(oauth_sandbox, catalog, instance, tmp_path, ledger):
    sandbox, _ = oauth_sandbox
    token_file = tmp_path / "state" / "highlevel_oauth.json"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(json.dumps({"refresh_token": "spent-or-wrong-refresh-token"}))  # newer than the default
    catalog.n = 4
    report = sync(catalog, instance, vendors=("highlevel",))["highlevel"]
    assert report.counts["failed"] == 4 and report.counts["unknown"] == 0
    highlevel = sandbox.state()["vendors"]["highlevel"]
    assert highlevel["counters"]["requests"] == 1 and highlevel["created_per_key"] == {}  # the refresh only
    assert highlevel["oauth"] == {"refreshes": 0, "refused": 1, "expired_tokens": 0}  # once, for 4 threads
    messages = " ".join(report.outcomes["error_message"])
    assert "refresh refused" in messages and "spent-or-wrong" not in messages


def live_env(monkeypatch, sandbox, **secrets) -> None:
    """Live targets pointed at the sandbox's address: only the run's environment gives them credentials."""
    monkeypatch.setenv("COURSE_PIPELINE_TARGET", "live")
    for vendor, prefix in (("highlevel", "HIGHLEVEL"), ("kombo", "KOMBO"), ("stackone", "STACKONE"),
                           ("thought_industries", "THOUGHT_INDUSTRIES")):
        monkeypatch.setenv(f"{prefix}_BASE_URL", sandbox.base_urls[vendor])
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)


def test_a_live_target_without_its_secret_stops_at_start_naming_the_variable(env, catalog, monkeypatch, capsys):
    live_env(monkeypatch, env, STACKONE_ACCOUNT_ID=SANDBOX_TOKENS["stackone_account_id"])
    assert main(["sync", str(catalog.write()), "--vendor", "stackone"]) == 2
    err = capsys.readouterr().err
    assert "STACKONE_API_KEY" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert env.state()["vendors"]["stackone"]["counters"]["requests"] == 0


def test_a_live_target_never_gets_the_sandbox_credential_even_at_a_local_url(env, catalog, monkeypatch, capsys):
    live_env(monkeypatch, env, STACKONE_ACCOUNT_ID=SANDBOX_TOKENS["stackone_account_id"],
             STACKONE_API_KEY="a-live-key-the-sandbox-refuses")
    assert main(["sync", str(catalog.write()), "--vendor", "stackone", "--json"]) == 1
    counts = json.loads(capsys.readouterr().out)["vendors"]["stackone"]
    assert counts["failed"] == 30 and counts["created"] == 0  # the live key was sent, and refused (401)


def test_secrets_are_nowhere_in_output_ledger_or_dagster_home(env, catalog, tmp_path, monkeypatch, caplog, capfd):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    wrong = "wrong-kombo-secret-0123456789"  # refused by the sandbox: its error must not echo it
    secrets = {"HIGHLEVEL_TOKEN": SANDBOX_TOKENS["highlevel_token"], "KOMBO_API_KEY": wrong,
               "STACKONE_API_KEY": SANDBOX_TOKENS["stackone_api_key"],
               "THOUGHT_INDUSTRIES_API_KEY": SANDBOX_TOKENS["thought_industries_api_key"]}
    live_env(monkeypatch, env, **secrets, HIGHLEVEL_LOCATION_ID=SANDBOX_TOKENS["highlevel_location_id"],
             KOMBO_INTEGRATION_ID=SANDBOX_TOKENS["kombo_integration_id"],
             STACKONE_ACCOUNT_ID=SANDBOX_TOKENS["stackone_account_id"])
    caplog.set_level(logging.DEBUG)
    catalog.n = 12
    assert main(["sync", str(catalog.write()), "--json"]) == 1  # Kombo's items failed: the wrong key was used
    out, err = capfd.readouterr()
    assert json.loads(out)["vendors"]["kombo"]["failed"] == 12
    assert json.loads(out)["vendors"]["stackone"]["created"] == 12
    texts = {"output": caplog.text + out + err}
    ledger_file = tmp_path / "ledger.db"
    for path in [*home.rglob("*"), ledger_file]:
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert any(where.endswith("ledger.db") for where in texts) and len(texts) > 3  # the files were read
    for where, text in texts.items():
        for secret in secrets.values():
            assert secret not in text, f"a secret leaked into {where}"
    with dg.DagsterInstance.from_config(str(home)) as instance:  # the runs are there to inspect in the UI
        assert instance.get_runs_count() == 1
