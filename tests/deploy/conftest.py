"""A team's deployment on this machine: the Dagster instance and the ledger on PostgreSQL (fresh databases,
dropped after), the vendor sandbox on a free loopback port, the webserver and the daemon, and two celery
workers, each a separate OS process listening on a queue only this test uses. Without PostgreSQL or RabbitMQ
the tests here are skipped, saying which service is missing and how to start it."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster_stack import (
    BIN,
    PROJECT,
    RUN_COORDINATOR,
    Dagster,
    free_port,
    limited_env,
    limited_sandbox_config,
    start,
    start_webserver_and_daemon,
    stop,
    write_catalogs,
)
from sqlalchemy import URL, Engine, create_engine, make_url, text

from course_pipeline.defs.definitions import load_destinations
from course_pipeline.defs.executors import DEFAULT_BROKER
from course_pipeline.defs.sandbox_target import sandbox_id
from course_pipeline.defs.sync_assets import vendor_pool
from course_pipeline.sandbox import SandboxServer, sandbox_account

WORKER_CONFIG = PROJECT / "dagster_home" / "celery_worker.yaml"  # as the README starts a worker

# Where the machine's services are; CI's machine runs both, as this one does.
POSTGRES_URL = os.environ.get("COURSE_PIPELINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER = os.environ.get("COURSE_PIPELINE_TEST_CELERY_BROKER", DEFAULT_BROKER)
WORKERS = 2
PARTITIONS = ["north", "south", "west"]
COURSES = 10  # per catalog: enough requests that a sync takes a second or more at the sandbox's limits


# Two HighLevel locations (an agency's), every other vendor its default account; every catalog goes to all.
DESTINATIONS = {"destinations": {"highlevel": [{"name": "east", "account": "loc-east"},
                                               {"name": "west", "account": "loc-west"}]}}


@dataclass(frozen=True)
class Destinations:
    """What the test syncs and where it lands: the catalogs (one partition each, their course ids) and the
    destinations every catalog goes to, with each one's account (the ledger's) and sandbox account."""

    sources_file: Path
    courses: dict[str, list[str]]  # partition -> course ids
    accounts: dict[str, tuple[str, str, str]]  # destination key -> (vendor, ledger account, sandbox account)

    @property
    def partitions(self) -> list[str]:
        return list(self.courses)

    @property
    def all_courses(self) -> set[str]:
        return {course for ids in self.courses.values() for course in ids}


@pytest.fixture
def destinations(tmp_path) -> Destinations:
    """The catalogs and accounts, in one place."""
    folder = tmp_path / "catalogs"
    folder.mkdir()
    sources_file = write_catalogs(folder, PARTITIONS, COURSES)
    (folder / "destinations.yaml").write_text(yaml.safe_dump(DESTINATIONS))  # beside sources.yaml: found there
    accounts = {}
    for d in load_destinations(sources_file).all:
        found = sandbox_account("http://127.0.0.1", d.vendor, None if d.is_default else sandbox_id(d))
        in_sandbox = found["account"].removesuffix(".thoughtindustries.local")  # an instance: by its name
        accounts[d.key] = (d.vendor, found["account"], in_sandbox)
    return Destinations(sources_file=sources_file,
                        courses={p: [f"{p}-{i}" for i in range(COURSES)] for p in PARTITIONS}, accounts=accounts)


def _admin_engine() -> Engine:
    """The PostgreSQL server, through psycopg2 (dagster-postgres' driver); the test is skipped without one."""
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg2")
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect is a missing service here
        engine.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {url.host}:{url.port or 5432} as {url.username} "
                    f"({type(exc).__name__}): start it (`service postgresql start`) or point "
                    "COURSE_PIPELINE_TEST_POSTGRES_URL at a server where this user may CREATE DATABASE")
    return engine


def _check_broker() -> None:
    from kombu import Connection

    with Connection(BROKER, connect_timeout=5) as conn:
        try:
            conn.ensure_connection(max_retries=1)
        except Exception as exc:  # noqa: BLE001 - any failure to connect is a missing service here
            pytest.skip(f"RabbitMQ is not reachable at {conn.as_uri()} ({type(exc).__name__}): start it "
                        "(`service rabbitmq-server start`) or point COURSE_PIPELINE_TEST_CELERY_BROKER at a broker")


def delete_queue(queue: str) -> None:
    """The test's queue, which the broker would otherwise keep (celery declares it durable)."""
    from kombu import Connection

    with Connection(BROKER, connect_timeout=5) as conn:
        conn.default_channel.queue_delete(queue)


@contextmanager
def fresh_database(admin: Engine, name: str) -> Iterator[URL]:
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name)
    finally:
        with admin.connect() as conn:  # FORCE: a process that did not stop in time keeps no connection open
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Deployment:
    dagster: Dagster
    sandbox: SandboxServer
    home: Path
    ledger_url: str
    queue: str
    workers: dict[str, int]  # celery node name -> the worker's process group (its pid)
    logs: Path

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))


def start_workers(queue: str, env: dict[str, str], logs: Path, processes: list) -> dict[str, int]:
    """WORKERS celery workers on the queue, as the README starts them (the broker from CELERY_BROKER_URL, so
    that no URL is on a command line or in a file): their node names -> their process groups."""
    env = {**env, "CELERY_BROKER_URL": BROKER, "CELERY_RESULT_BACKEND": "rpc://"}
    workers = {}
    for i in range(1, WORKERS + 1):
        name = f"{queue}_w{i}"
        process = start([str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-n", name,
                         "-q", queue, "-i", "course_pipeline.defs.worker", "-y", str(WORKER_CONFIG),
                         "--", "--concurrency=2", "--without-mingle", "--without-gossip"], env, logs / f"{name}.log")
        processes.append(process)
        workers[f"{name}@{socket.gethostname()}"] = process.pid
    return workers


def start_code_server(env: dict[str, str], folder: Path, logs: Path, processes: list) -> Path:
    """One code server for the location, used by the webserver and the daemon alike (and starting the runs'
    processes), as a team runs its user code deployment: the workspace.yaml that points at it."""
    port = free_port()
    processes.append(start([str(BIN / "dagster"), "code-server", "start", "-m", "course_pipeline.definitions",
                            "-h", "127.0.0.1", "-p", str(port)], env, logs / "code_server.log"))
    workspace = folder / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
        "host": "127.0.0.1", "port": port, "location_name": "course_pipeline"}}]}))
    wait_for_code_server(port, processes[-1])
    return workspace


def wait_for_workers(names: list[str], timeout: float = 60) -> None:
    """Until every worker answers a ping through the broker (it then consumes its queues)."""
    from celery import Celery

    app = Celery(broker=BROKER)
    try:
        deadline = time.monotonic() + timeout
        while True:
            answered = {name for reply in app.control.ping(destination=names, timeout=1.0) for name in reply}
            if answered >= set(names):
                return
            assert time.monotonic() < deadline, f"celery workers {sorted(set(names) - answered)} did not start"
    finally:
        app.close()


def wait_for_code_server(port: int, process, timeout: float = 60) -> None:
    """Until the code server answers (it does once it has loaded the definitions)."""
    from dagster._grpc.client import DagsterGrpcClient

    client, deadline = DagsterGrpcClient(port=port, host="127.0.0.1"), time.monotonic() + timeout
    while True:
        try:
            client.ping("ready?")
            return
        except Exception:  # noqa: BLE001 - not listening yet
            assert process.poll() is None, "the code server exited"
            assert time.monotonic() < deadline, "the code server did not start"
            time.sleep(0.2)  # a poll of the port, not a wait for something to happen


@pytest.fixture
def deployment(destinations, tmp_path, monkeypatch) -> Iterator[Deployment]:
    admin = _admin_engine()
    _check_broker()
    tag = uuid.uuid4().hex[:10]
    home, logs, artifacts = tmp_path / "dagster_home", tmp_path / "logs", tmp_path / "artifacts"
    for folder in (home, logs, artifacts):
        folder.mkdir()
    # The team's dagster.yaml as the README gives it, with the dequeue interval turned down (a poll).
    (home / "dagster.yaml").write_text((PROJECT / "dagster_home" / "dagster.postgres.yaml").read_text()
                                       + RUN_COORDINATOR)
    queue = f"course_pipeline_test_{tag}"  # no other worker on this broker listens here
    try:
        with fresh_database(admin, f"cp_test_{tag}_dagster") as instance_db, \
                fresh_database(admin, f"cp_test_{tag}_ledger") as ledger_db, \
                SandboxServer(limited_sandbox_config()) as sandbox:
            ledger_url = ledger_db.render_as_string(hide_password=False)  # postgresql+psycopg2://
            instance_env = {"DAGSTER_HOME": str(home), "DAGSTER_ARTIFACTS_DIR": str(artifacts),
                            "DAGSTER_PG_HOST": instance_db.host, "DAGSTER_PG_PORT": str(instance_db.port or 5432),
                            "DAGSTER_PG_DB": instance_db.database, "DAGSTER_PG_USERNAME": instance_db.username,
                            "DAGSTER_PG_PASSWORD": instance_db.password or ""}
            for key, value in instance_env.items():  # this process reads the instance too
                monkeypatch.setenv(key, value)
            env = {**os.environ, **instance_env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                   "COURSE_PIPELINE_SOURCES": str(destinations.sources_file),
                   "COURSE_PIPELINE_LEDGER_URL": ledger_url, "COURSE_PIPELINE_STATE_DIR": str(tmp_path / "state"),
                   "COURSE_PIPELINE_SANDBOX_URL": sandbox.url, "COURSE_PIPELINE_AUTOMATION": "stopped",
                   "COURSE_PIPELINE_EXECUTOR": "celery", "COURSE_PIPELINE_CELERY_BROKER": BROKER,
                   "COURSE_PIPELINE_CELERY_QUEUE": queue, **limited_env()}
            # The schema first, as `dagster instance migrate` makes it: processes opening a fresh database at
            # once race to create its tables (one fails with "relation ... already exists").
            # And each account's pool, as the README's setup sets them: runs claiming a pool the instance has not
            # seen yet insert its row at once, and one fails (UniqueViolation on concurrency_limits).
            with dg.DagsterInstance.from_config(str(home)) as instance:
                instance.add_dynamic_partitions("catalog_sources", destinations.partitions)
                for key in destinations.accounts:
                    instance.event_log_storage.set_concurrency_slots(vendor_pool(key), 1)
            processes = []
            try:
                workers = start_workers(queue, env, logs, processes)
                workspace = start_code_server(env, tmp_path, logs, processes)
                dagster, web_processes = start_webserver_and_daemon(env, logs, workspace)
                processes += web_processes
                wait_for_workers(list(workers))
                yield Deployment(dagster, sandbox, home, ledger_url, queue, workers, logs)
            finally:
                stop(processes)
                delete_queue(queue)
    finally:
        admin.dispose()
