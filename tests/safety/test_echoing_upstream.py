"""An upstream that echoes every request's headers back in its error answers: no form of any credential
(raw, Bearer, Basic base64 of `key:`) may reach the output, the logs, the ledger or the Dagster home."""

from __future__ import annotations

import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from course_pipeline.cli import main
from course_pipeline.vendors.transport import Redactor, credential_forms

SECRETS = {
    "HIGHLEVEL_TOKEN": "hl-TOKEN-5f1d9a7c3e2b4d6f",
    "KOMBO_API_KEY": "kombo-KEY-8a2c4e6f0b1d3f5a",
    "STACKONE_API_KEY": "stackone-KEY-1b3d5f7a9c0e2a4c",
    "THOUGHT_INDUSTRIES_API_KEY": "ti-KEY-6e8a0c2e4a6c8e0b",
}
ACCOUNTS = {"HIGHLEVEL_LOCATION_ID": "loc-1", "KOMBO_INTEGRATION_ID": "int-1", "STACKONE_ACCOUNT_ID": "acc-1"}


def forms(secret: str) -> set[str]:
    """What to look for: the secret, and the Basic credentials built from it, as written here (not with
    the code under test)."""
    basic = base64.b64encode(f"{secret}:".encode()).decode()
    return {secret, basic, basic.rstrip("=")}


class Echo(BaseHTTPRequestHandler):
    """Every vendor's error shape, each message holding the request's headers (Authorization first)."""

    def _echo(self) -> str:
        headers = {"Authorization": self.headers.get("Authorization"), **dict(self.headers)}
        return json.dumps(headers)

    def _answer(self, status: int, body: dict | str) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Echo-Authorization", self.headers.get("Authorization") or "")
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path, echo = self.path, self._echo()
        if path.startswith("/hl/"):  # a 500 on an import (not repeatable): the transport's message
            self._answer(500, echo)
        elif path == "/kombo/lms/courses/bulk":  # accepted, then the task poll fails: Kombo's poll path
            self._answer(200, {"status": "success", "data": {"task_id": "task-1"}, "warnings": []})
        elif path.startswith("/kombo/"):
            self._answer(400, {"status": "error", "error": {"code": "PLATFORM.INPUT_INVALID", "message": echo}})
        elif path.startswith("/stackone/"):
            self._answer(400, {"statusCode": 400, "message": echo, "timestamp": "now"})
        else:
            self._answer(422, {"error": "Validation Error", "code": "INVALID_FIELD_VALUE", "message": echo,
                               "statusCode": 422})

    do_GET = do_POST = do_PUT = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_redactor_knows_every_form():
    redact = Redactor(["s3cret-key"])
    basic = base64.b64encode(b"s3cret-key:").decode()
    for text in ("s3cret-key", "Bearer s3cret-key", f"Basic {basic}", basic.rstrip("=")):
        assert redact(text).endswith("***") and "s3cret" not in redact(text) and basic not in redact(text)
    assert Redactor(["a/b+c=d"])("x a%2Fb%2Bc%3Dd") == "x ***"
    redact.add("user-key", password="pw")
    assert base64.b64encode(b"user-key:pw").decode() not in redact(base64.b64encode(b"user-key:pw").decode())
    assert base64.b64encode(b"user-key:").decode() in credential_forms("user-key")


def test_no_credential_leaks_through_an_echoing_upstream(upstream, tmp_path, monkeypatch, capfd, caplog):
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "courses.csv").write_text(
        "course_id,title,course_url,description\n"
        + "".join(f"C{i},Course {i},https://learn.example.com/c/{i},About {i}\n" for i in range(3)),
        encoding="utf-8")
    sources = folder / "sources.yaml"
    sources.write_text("sources:\n  - name: shop\n    format: csv\n    path: courses.csv\n"
                       "    tables: {courses: {}}\n", encoding="utf-8")
    home, state = tmp_path / "dagster_home", tmp_path / "state"
    home.mkdir()
    env = {**SECRETS, **ACCOUNTS, "COURSE_PIPELINE_TARGET": "live", "DAGSTER_HOME": str(home),
           "COURSE_PIPELINE_STATE_DIR": str(state), "HIGHLEVEL_BASE_URL": f"{upstream}/hl",
           "KOMBO_BASE_URL": f"{upstream}/kombo", "STACKONE_BASE_URL": f"{upstream}/stackone",
           "THOUGHT_INDUSTRIES_BASE_URL": f"{upstream}/ti", "KOMBO_TIMEOUT": "5"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("COURSE_PIPELINE_LEDGER_URL", "COURSE_PIPELINE_VENDORS", "HIGHLEVEL_AUTH", "STACKONE_BATCH_PATH"):
        monkeypatch.delenv(key, raising=False)
    caplog.set_level(logging.DEBUG)

    code = main(["sync", str(sources), "--json"])

    out, err = capfd.readouterr()
    assert code == 1, (out, err)  # every item failed
    counts = json.loads(out)["vendors"]
    assert set(counts) == {"highlevel", "kombo", "stackone", "thought_industries"}
    assert all(c["failed"] + c["unknown"] == 3 for c in counts.values()), counts

    haystacks = {"stdout": out.encode(), "stderr": err.encode(), "logs": caplog.text.encode()}
    files = [p for p in [*home.rglob("*"), *state.rglob("*")] if p.is_file()]
    assert any(p.name.startswith("ledger") for p in files)
    haystacks.update({str(p): p.read_bytes() for p in files})
    for secret in SECRETS.values():
        for form in forms(secret):
            leaked = [where for where, data in haystacks.items() if form.encode() in data]
            assert not leaked, f"{form!r} found in {leaked}"
    # The echo did reach the ledger, redacted: the test looked where the secrets would have been.
    ledger = next(p for p in files if p.name == "ledger.db").read_bytes()
    assert b"***" in ledger and b"Authorization" in ledger
