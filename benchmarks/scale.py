"""Issue 15's scale benchmark: many accounts (half HighLevel locations, half Thought Industries instances),
each receiving its own catalog of `courses` courses through the sandbox, each with its own documented
limits set on both sides (the sandbox's account and the destination's rate_limit / hourly_limit).

Dagster's own engine runs it as a team deploys it: the instance and the ledger on PostgreSQL (fresh
databases, dropped after), one run per catalog, all launched at once (each run's process orchestrates,
`execute_job` as `dagster job execute` does), every step a Celery task run by W `dagster-celery worker`
processes on a queue of the benchmark's own. Figures per W: wall time (first run start to last run end)
against the bound, requests against the minimum, 429s, duplicates, peak memory per worker.

    python -m benchmarks.scale [--accounts 100 --courses 500 --workers 1,2,4] [--quick]

The bound: accounts run in parallel, so it is the slowest account's own. An account that sends R requests
into a sliding window of N per W seconds, starting empty, needs at least (ceil(R/N) - 1) x W seconds; its
bound is the largest over its windows. HighLevel's 10 imports of 50 products fit its 100 / 10 s at once
(bound 0); Thought Industries' `single` dialect creates one course a request, 500 at 60 a minute: 480 s."""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing as mp
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from tabulate import tabulate

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKER_CONFIG = PROJECT / "dagster_home" / "celery_worker.yaml"  # the team's worker settings (README)
# A server of the benchmark's own unless one is named: 50 syncs at once hold two connections each (the account's
# lock and the ledger's pool) beside Dagster's, past PostgreSQL's default max_connections of 100.
POSTGRES_URL = os.environ.get("COURSE_PIPELINE_BENCH_POSTGRES_URL")
MAX_CONNECTIONS = 500
BROKER = os.environ.get("COURSE_PIPELINE_BENCH_CELERY_BROKER", "pyamqp://guest:guest@127.0.0.1:5672//")
VENDORS = ("highlevel", "thought_industries")
# Documented limits (sandbox/config.py and the vendor modules cite them). A plan: the sandbox account's
# fields and the destination's. HighLevel: 100 / 10 s per location, 50 products an import. Thought
# Industries: 60 / min and 1,000 / h per instance (Enterprise plans 300 / min and 10,000 / h), 5 in flight,
# one course a request (`single`).
PLANS = {
    "highlevel": {"sandbox": {"rate_limit": 100, "rate_window": 10.0}, "windows": [(100, 10.0)], "batch": 50},
    "thought_industries": {"sandbox": {"rate_limit": 60, "rate_window": 60.0, "hourly_limit": 1000,
                                       "hourly_window": 3600.0}, "windows": [(60, 60.0), (1000, 3600.0)], "batch": 1},
    "thought_industries_enterprise": {"sandbox": {"rate_limit": 300, "rate_window": 60.0, "hourly_limit": 10000,
                                                  "hourly_window": 3600.0},
                                      "windows": [(300, 60.0), (10000, 3600.0)], "batch": 1},
}
ENTERPRISE_EVERY = 5  # every 5th Thought Industries instance is on an Enterprise plan: accounts' limits differ


@dataclass(frozen=True)
class Account:
    vendor: str
    name: str  # the destination's name
    account: str  # its id in the sandbox
    plan: str
    catalog: str

    @property
    def key(self) -> str:
        return f"{self.vendor}__{self.name}"

    def windows(self, scale: float) -> list[tuple[int, float]]:
        return [(n, seconds / scale) for n, seconds in PLANS[self.plan]["windows"]]

    def minimum(self, courses: int) -> int:
        return math.ceil(courses / PLANS[self.plan]["batch"])

    def bound(self, courses: int, scale: float) -> float:
        return bound_seconds(self.minimum(courses), self.windows(scale))


def bound_seconds(requests: int, windows: list[tuple[int, float]]) -> float:
    """The least time `requests` take through sliding windows that start empty: the slowest window's."""
    return max(((math.ceil(requests / n) - 1) * seconds for n, seconds in windows), default=0.0)


def plan_accounts(accounts: int, per_catalog: int) -> list[Account]:
    """Half HighLevel locations, half Thought Industries instances; catalog c goes to `per_catalog` accounts,
    half of each vendor, so one run (one catalog) syncs both vendors."""
    half = accounts // 2
    found = []
    for vendor, count in (("highlevel", half), ("thought_industries", accounts - half)):
        for i in range(count):
            plan = vendor
            if vendor == "thought_industries" and i % ENTERPRISE_EVERY == ENTERPRISE_EVERY - 1:
                plan = "thought_industries_enterprise"
            short = "hl" if vendor == "highlevel" else "ti"
            catalog = f"catalog_{i // max(1, per_catalog // 2):03d}"
            found.append(Account(vendor, f"{short}_{i:03d}", f"{'loc' if short == 'hl' else 'ti'}-{i:03d}", plan, catalog))
    return found


def write_inputs(folder: Path, accounts: list[Account], courses: int, scale: float) -> Path:
    """The catalogs (courses only, CSV), sources.yaml and destinations.yaml beside it."""
    catalogs = sorted({a.catalog for a in accounts})
    entries = []
    for catalog in catalogs:
        with (folder / f"{catalog}.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["course_id", "title", "description", "course_url", "duration_minutes", "languages"])
            for i in range(courses):
                writer.writerow([f"{catalog}-{i:04d}", f"{catalog} course {i}", "<p>About it</p>",
                                 f"https://learn.example.com/{catalog}/{i}", 60, "en"])
        entries.append({"name": catalog, "format": "csv", "path": f"{catalog}.csv", "tables": {"courses": {}}})
    (folder / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    destinations: dict[str, list] = {vendor: [] for vendor in VENDORS}
    for a in accounts:
        (first, *rest) = a.windows(scale)
        entry = {"name": a.name, "account": a.account, "rate_limit": f"{first[0]}/{first[1]:g}",
                 "batch_size": PLANS[a.plan]["batch"], "sources": [a.catalog]}
        if rest:
            entry["hourly_limit"] = f"{rest[0][0]}/{rest[0][1]:g}"
        destinations[a.vendor].append(entry)
    (folder / "destinations.yaml").write_text(yaml.safe_dump({"destinations": destinations}, sort_keys=False))
    return folder / "sources.yaml"


def sandbox_config(accounts: list[Account], scale: float):
    from course_pipeline.sandbox import SandboxConfig

    config = {}
    for a in accounts:
        fields = dict(PLANS[a.plan]["sandbox"])
        for name in fields:
            if name.endswith("window"):
                fields[name] = fields[name] / scale
        config[f"{a.vendor}/{a.account}"] = fields
    return SandboxConfig(accounts=config)


# ------------------------------------------------------------------------------------------ services

@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server in a temporary folder on a free loopback port (trust auth, MAX_CONNECTIONS), as the
    postgres user when run as root (PostgreSQL refuses root); stopped and deleted after. Yields its admin URL."""
    if POSTGRES_URL:
        yield POSTGRES_URL
        return
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not binaries:
        raise RuntimeError("no PostgreSQL server binaries (apt-get install postgresql), or set "
                           "COURSE_PIPELINE_BENCH_POSTGRES_URL to a server where this user may CREATE DATABASE")
    folder = Path(tempfile.mkdtemp(prefix="cp_scale_pg_"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(folder, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = None
    try:
        subprocess.run([*as_user, str(binaries[-1]), "-D", str(folder / "data"), "-U", "postgres", "-A", "trust",
                        "--no-sync"], check=True, stdout=subprocess.DEVNULL)
        server = start([*as_user, str(binaries[-1].parent / "postgres"), "-D", str(folder / "data"), "-p", str(port),
                        "-k", str(folder), "-c", "listen_addresses=127.0.0.1", "-c", f"max_connections={MAX_CONNECTIONS}"],
                       dict(os.environ), Path(os.devnull))
        url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
        _wait_for_postgres(url, server)
        yield url
    finally:
        if server is not None:
            stop([server])
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_postgres(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    from sqlalchemy import create_engine, text

    engine, deadline = create_engine(url), time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except Exception:  # noqa: BLE001 - not accepting connections yet
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the benchmark's PostgreSQL server did not start") from None
                time.sleep(0.2)
    finally:
        engine.dispose()


@contextmanager
def fresh_database(server: str, name: str) -> Iterator[str]:
    """A database of its own, dropped after (WITH FORCE: a process that did not stop keeps no connection)."""
    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def instance_yaml(runs: int) -> str:
    """The team's instance file (dagster_home/dagster.postgres.yaml) with what a benchmark changes: every run
    at once (the point is accounts in parallel), no daemon-side retries (a lost run must show, not be hidden),
    and no compute-log capture (the steps' stdout and stderr files: not measured here)."""
    config = yaml.safe_load((PROJECT / "dagster_home" / "dagster.postgres.yaml").read_text())
    config["concurrency"]["runs"]["max_concurrent_runs"] = runs
    config["run_retries"] = {"enabled": False}
    config["run_monitoring"] = {"enabled": False}
    config["compute_logs"] = {"module": "dagster._core.storage.noop_compute_log_manager",
                              "class": "NoOpComputeLogManager"}
    return yaml.safe_dump(config)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A process in a session of its own, so that it and its children stop together."""
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        # dagster-celery's wrapper exits at once; its celery worker waits for its running tasks (warm shutdown).
        deadline = time.monotonic() + 30
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False


def wait_for_workers(names: list[str], timeout: float = 120) -> None:
    from celery import Celery

    app = Celery(broker=BROKER)
    try:
        deadline = time.monotonic() + timeout
        while True:
            answered = {name for reply in app.control.ping(destination=names, timeout=1.0) for name in reply}
            if answered >= set(names):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"celery workers {sorted(set(names) - answered)} did not start")
    finally:
        app.close()


def delete_queue(queue: str) -> None:
    from kombu import Connection

    with Connection(BROKER, connect_timeout=5) as conn:
        conn.default_channel.queue_delete(queue)


@contextmanager
def sandbox_process(config, log: Path) -> Iterator:
    """The sandbox in a process of its own, as the vendors' servers are not in ours: a thread of this process, its
    one event loop shared the GIL with the memory sampler, and answered a request that does no work in up to
    41 s (a create answered past the client's 30 s read timeout is lost). Yields a SandboxServer handle that is
    not started: its controls (`state`) go over HTTP to the process."""
    import urllib.request

    from course_pipeline.sandbox import SandboxServer

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    process = start([sys.executable, "-m", "course_pipeline.sandbox", "--port", str(port), "--no-access-log",
                     "--accounts", json.dumps(config.accounts)], dict(os.environ), log)
    try:
        handle = SandboxServer(config, port=port)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{handle.url}/_sandbox/faults", timeout=5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the sandbox did not start on {handle.url}: see {log}") from None
                time.sleep(0.2)
        yield handle
    finally:
        stop([process])


# ------------------------------------------------------------------------------------------ memory

def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc (psutil is not a dependency)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent = int(fh.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    return children


def _tree(pid: int, children: dict[int, list[int]]) -> list[int]:
    """The process and its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB: PSS shares pages among the processes that map them, so forked children add up honestly."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class EverySecond:
    """A thread that calls `tick` every second between enter and exit."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.tick()

    def tick(self) -> None:
        raise NotImplementedError


class MemorySampler(EverySecond):
    """Every second, each watched process tree's RSS and PSS summed; keeps each tree's peak."""

    def __init__(self, roots: dict[str, int]):
        super().__init__()
        self.roots, self.peak = roots, {name: (0, 0) for name in roots}

    def tick(self) -> None:
        children = _children()  # once a tick, not once per tree
        for name, pid in self.roots.items():
            rss, pss = map(sum, zip(*(_memory_kb(p) for p in _tree(pid, children)), strict=True))
            self.peak[name] = (max(self.peak[name][0], rss), max(self.peak[name][1], pss))


class LatencyProbe(EverySecond):
    """Every second, how long the sandbox takes to answer a request that does no work: how long a vendor's
    answer waits in the sandbox's queue. Keeps the slowest and a count of answers slower than 5 s (the
    clients' read timeout is 30 s)."""

    def __init__(self, url: str):
        super().__init__()
        self.url, self.slowest, self.slow, self.samples = f"{url}/_sandbox/faults", 0.0, 0, 0

    def tick(self) -> None:
        import urllib.request

        started = time.monotonic()
        try:
            urllib.request.urlopen(self.url, timeout=120).close()
        except OSError:
            pass
        took = time.monotonic() - started
        self.samples += 1
        self.slowest = max(self.slowest, took)
        self.slow += took > 5


# ------------------------------------------------------------------------------------------ runs

def _run_catalog(env: dict[str, str], catalog: str, keys: list[str], answers) -> None:
    """One run: the catalog's partition of sync_job, these accounts only (as the sensor asks for them),
    orchestrated in this process; its steps go to the workers."""
    os.environ.update(env)
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from course_pipeline.defs.runner import QUIET_RUN_CONFIG

    job = ReconstructableRepository.for_module("course_pipeline.definitions", "defs",
                                               working_directory=str(PROJECT)).get_reconstructable_job("sync_job")
    try:
        with dg.DagsterInstance.get() as instance:
            result = dg.execute_job(job, instance, run_config=QUIET_RUN_CONFIG, tags={"dagster/partition": catalog},
                                    asset_selection=[dg.AssetKey(k) for k in keys])
    except BaseException as exc:  # the parent waits for an answer from every run
        answers.put({"catalog": catalog, "error": f"{type(exc).__name__}: {exc}"})
        raise
    answers.put({"catalog": catalog, "run_id": result.run_id, "success": result.success,
                 "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)})


def run_once(accounts: list[Account], courses: int, workers: int, concurrency: int, pool: str,
             sources_file: Path, scale: float, logs: Path) -> dict:
    """The whole sync with `workers` celery workers, on fresh databases, a fresh sandbox and a queue of its own."""
    import dagster as dg

    from course_pipeline.catalog.sources import load_sources
    from course_pipeline.defs.partitions import register_sources
    from course_pipeline.defs.sync_assets import sync_keys
    from course_pipeline.destinations import read_destinations

    tag = uuid.uuid4().hex[:8]
    catalogs = sorted({a.catalog for a in accounts})
    home = logs / f"home_{workers}"
    (home / "artifacts").mkdir(parents=True)
    (home / "dagster.yaml").write_text(instance_yaml(len(catalogs)))
    queue = f"course_pipeline_scale_{tag}"
    destinations = read_destinations(sources_file.parent / "destinations.yaml", list(VENDORS))
    with ExitStack() as stack:
        server = stack.enter_context(postgres_server())
        instance_url = stack.enter_context(fresh_database(server, f"cp_scale_{tag}_dagster"))
        ledger_url = stack.enter_context(fresh_database(server, f"cp_scale_{tag}_ledger"))
        sandbox = stack.enter_context(sandbox_process(sandbox_config(accounts, scale), logs / "sandbox.log"))
        from sqlalchemy import make_url

        pg = make_url(instance_url)
        env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_ARTIFACTS_DIR": str(home / "artifacts"),
               "DAGSTER_PG_HOST": pg.host, "DAGSTER_PG_PORT": str(pg.port or 5432), "DAGSTER_PG_DB": pg.database,
               "DAGSTER_PG_USERNAME": pg.username, "DAGSTER_PG_PASSWORD": pg.password or "",
               "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COURSE_PIPELINE_SOURCES": str(sources_file),
               "COURSE_PIPELINE_LEDGER_URL": ledger_url, "COURSE_PIPELINE_STATE_DIR": str(home / "state"),
               "COURSE_PIPELINE_SANDBOX_URL": sandbox.url, "COURSE_PIPELINE_AUTOMATION": "stopped",
               "COURSE_PIPELINE_VENDORS": ",".join(VENDORS), "COURSE_PIPELINE_EXECUTOR": "celery",
               "COURSE_PIPELINE_CELERY_BROKER": BROKER, "COURSE_PIPELINE_CELERY_QUEUE": queue,
               "CELERY_BROKER_URL": BROKER, "CELERY_RESULT_BACKEND": "rpc://"}
        saved = dict(os.environ)
        os.environ.update(env)  # this process reads the instance too
        stack.callback(lambda: (os.environ.clear(), os.environ.update(saved)))
        with dg.DagsterInstance.get() as instance:  # the schema first: processes opening it at once race
            register_sources(instance, load_sources(sources_file))
        processes: list[subprocess.Popen] = []
        stack.callback(delete_queue, queue)
        stack.callback(stop, processes)
        names = {}
        for i in range(1, workers + 1):
            name = f"{queue}_w{i}"
            processes.append(start([str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                                    "-n", name, "-q", queue, "-i", "course_pipeline.defs.worker",
                                    "-y", str(WORKER_CONFIG), "--", f"--pool={pool}", f"--concurrency={concurrency}", "--without-mingle",
                                    "--without-gossip", "--prefetch-multiplier=1"], env, logs / f"{name}.log"))
            names[f"{name}@{socket.gethostname()}"] = processes[-1].pid
        wait_for_workers(list(names))
        context = mp.get_context("spawn")
        answers = context.Queue()
        runs = []
        for catalog in catalogs:
            keys = sync_keys([d for d in destinations.all if d.receives(catalog)])
            runs.append(context.Process(target=_run_catalog, args=(env, catalog, keys, answers)))
        sampler = stack.enter_context(MemorySampler(
            {f"worker {i + 1}": pid for i, pid in enumerate(names.values())}))
        probe = stack.enter_context(LatencyProbe(sandbox.url))
        for run in runs:
            run.start()
        try:
            done = [answers.get(timeout=3600) for _ in runs]
        except BaseException:
            for run in runs:  # interrupted: each run's process revokes its steps' tasks as it stops
                run.terminate()
            raise
        finally:
            deadline = time.monotonic() + 30
            for run in runs:
                run.join(timeout=max(0.1, deadline - time.monotonic()))
                if run.is_alive():
                    run.kill()
        failed = [d for d in done if "error" in d]
        if failed:
            raise RuntimeError(f"runs could not start: {failed}")
        state = sandbox.state()["vendors"]
        with dg.DagsterInstance.get() as instance:
            records = [instance.get_run_record_by_id(d["run_id"]) for d in done]
            syncs = _sync_seconds(instance, accounts, catalogs)
            steps = step_timeline(instance, [d["run_id"] for d in done], accounts, state)
    first, last = min(r.start_time for r in records), max(r.end_time for r in records)
    row = measure(accounts, courses, scale, state, syncs, done, sampler.peak, last - first, workers,
                  f"{pool} x{concurrency}")
    row["sandbox_latency"] = {"slowest_s": round(probe.slowest, 2), "over_5_s": probe.slow, "samples": probe.samples}
    row["timeline"] = timeline_summary(steps, first)
    return row


# What each step of a run was doing when: from the runs' event logs (dagster-celery's own engine events) and the
# sandbox's first and last request per account. Where the wall time above the bound goes.
_MARKS = {"Submitting celery task": "submitted", "] Executing steps": "in_worker"}  # "[CeleryExecutor] Executing ..."


def step_timeline(instance, run_ids: list[str], accounts: list[Account], state: dict) -> list[dict]:
    """One row per step of every run: its kind and the wall-clock time of each mark it passed."""
    from dagster import DagsterEventType

    from course_pipeline.defs.sync_assets import sync_asset_key

    by_key = {sync_asset_key(a.key): a for a in accounts}
    rows = []
    for run_id in run_ids:
        steps: dict[str, dict] = {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or not entry.step_key:
                continue
            marks = steps.setdefault(entry.step_key, {"step": entry.step_key})
            kind = event.event_type
            if kind == DagsterEventType.ENGINE_EVENT:
                mark = next((m for prefix, m in _MARKS.items() if prefix in (event.message or "")), None)
            else:
                mark = {DagsterEventType.STEP_START: "started", DagsterEventType.STEP_SUCCESS: "done",
                        DagsterEventType.STEP_FAILURE: "done"}.get(kind)
            if mark and mark not in marks:
                marks[mark] = entry.timestamp
        for key, marks in steps.items():
            account = by_key.get(key)
            if account is not None:
                held = state[account.vendor]["accounts"].get(account.account, {})
                marks.update(first_request=held.get("first_request_at"), last_request=held.get("last_request_at"))
            marks["kind"] = _step_kind(key, account)
            rows.append(marks)
    return rows


def _step_kind(key: str, account: Account | None) -> str:
    if account is not None:
        return f"sync: {account.plan}"
    return "payloads" if key.endswith("_payloads") else key


def timeline_summary(steps: list[dict], first_start: float) -> list[dict]:
    """Per kind of step: when its steps started (seconds after the first run started) and how long each phase
    took, as min / median / max: queued (submitted until a worker's child had the task and its plan), set up
    (until the step started: resources), ran (the step), and for syncs the first request after the step started
    and the span from first request to last."""
    import statistics

    def spread(values: list[float]) -> str:
        values = sorted(v for v in values if v is not None)
        if not values:
            return ""
        return f"{values[0]:.1f} / {statistics.median(values):.1f} / {values[-1]:.1f}"

    def gap(row: dict, a: str, b: str) -> float | None:
        return row[b] - row[a] if row.get(a) is not None and row.get(b) is not None else None

    found = []
    for kind in dict.fromkeys(row["kind"] for row in sorted(steps, key=lambda r: r.get("started") or 0)):
        rows = [r for r in steps if r["kind"] == kind]
        found.append({
            "step": kind, "n": len(rows),
            "started at": spread([r["started"] - first_start for r in rows if r.get("started")]),
            "queued": spread([gap(r, "submitted", "in_worker") for r in rows]),
            "set up": spread([gap(r, "in_worker", "started") for r in rows]),
            "ran": spread([gap(r, "started", "done") for r in rows]),
            "first request": spread([gap(r, "started", "first_request") for r in rows]),
            "sending": spread([gap(r, "first_request", "last_request") for r in rows]),
            "ended at": spread([r["done"] - first_start for r in rows if r.get("done")]),
        })
    return found


def _sync_seconds(instance, accounts: list[Account], catalogs: list[str]) -> dict[str, dict]:
    """Each account's sync step: its duration_seconds (the step's own time, bound-comparable) and what it says
    of its items (this_run: created, failed, unknown, ...), to tell a course reported undelivered from one lost."""
    import dagster as dg

    found = {}
    for a in accounts:
        records = instance.fetch_materializations(dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(f"{a.key}_sync"), asset_partitions=[a.catalog]), limit=1).records
        if records:
            metadata = records[0].asset_materialization.metadata
            found[a.key] = {"seconds": metadata["duration_seconds"].value, **metadata["this_run"].value}
    return found


def measure(accounts, courses, scale, state, syncs, done, peak, wall, workers, pool) -> dict:
    requests = minimum = throttled = duplicates = missing = 0
    off_minimum = []
    for a in accounts:
        held = state[a.vendor]["accounts"].get(a.account, {})
        sent, least = held.get("requests", 0), a.minimum(courses)
        requests, minimum = requests + sent, minimum + least
        throttled += held.get("throttled", 0)
        duplicates += held.get("duplicates", 0)
        missing += courses - held.get("courses", 0)
        if sent != least or held.get("courses", 0) != courses:
            said = {k: v for k, v in syncs.get(a.key, {}).items() if k != "seconds" and v}
            off_minimum.append(f"{a.key}: {sent} requests (minimum {least}), {held.get('courses', 0)} courses held; "
                               f"its sync step says {said or 'nothing (no materialization)'}")
    slowest = max(accounts, key=lambda a: a.bound(courses, scale))
    bound = slowest.bound(courses, scale)
    return {
        "workers": workers, "pool": pool, "runs": len(done), "runs_ok": sum(d["success"] for d in done),
        "accounts": len(accounts), "courses_each": courses, "requests": requests, "minimum": minimum,
        "throttled_429": throttled, "duplicates": duplicates, "not_landed": missing,
        "wall_seconds": round(wall, 1), "bound_seconds": round(bound, 1),
        "wall_over_bound": round(wall / bound, 3) if bound else None,
        "slowest_sync_seconds": round(max((sync["seconds"] for sync in syncs.values()), default=0.0), 1),
        "worker_peak_rss_mb": max(round(rss / 1024) for rss, _ in peak.values()),
        "worker_peak_pss_mb": max(round(pss / 1024) for _, pss in peak.values()),
        "run_peak_rss_mb": max(d["peak_mb"] for d in done),
        "off_minimum": off_minimum[:10], "slowest_account": f"{slowest.key} ({slowest.plan})",
        "peak_per_worker": {name: {"rss_mb": round(r / 1024), "pss_mb": round(p / 1024)} for name, (r, p) in peak.items()},
    }


def run_scale(accounts: int, courses: int, workers: list[int], per_catalog: int, scale: float, pool: str,
              concurrency: int | None) -> list[dict]:
    planned = plan_accounts(accounts, per_catalog)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cp_scale_") as folder:
        folder = Path(folder)
        sources_file = write_inputs(folder, planned, courses, scale)
        for count in workers:
            # Slots (prefork children) for every long sync at once, since a Thought Industries sync holds its slot
            # while it waits on its window, plus one per run for the short steps (catalog, payloads, HighLevel's
            # syncs, the report), which take turns. Split over the workers: the same total at every count.
            long = sum(1 for a in planned if a.bound(courses, scale) > 0)
            each = concurrency or math.ceil((long + len({a.catalog for a in planned})) / count)
            logs = folder / f"logs_{count}"
            logs.mkdir()
            try:
                rows.append(run_once(planned, courses, count, each, pool, sources_file, scale, logs))
            except BaseException:
                kept = Path(tempfile.mkdtemp(prefix="cp_scale_logs_"))
                shutil.copytree(logs, kept, dirs_exist_ok=True, ignore=shutil.ignore_patterns("artifacts"))
                print(f"failed with {count} workers; logs kept in {kept}", file=sys.stderr)
                raise
            print(tabulate([_shown(rows[-1])], headers="keys"), flush=True)
            print("\nwhere the time went (seconds, min / median / max; 'at': after the first run started):")
            print(tabulate(rows[-1]["timeline"], headers="keys"), flush=True)
    return rows


def _shown(row: dict) -> dict:
    """The table's columns: a narrow one of the row."""
    return {"workers": row["workers"], "slots": row["pool"], "runs ok": f"{row['runs_ok']}/{row['runs']}",
            "accounts": f"{row['accounts']} x {row['courses_each']}",
            "requests (minimum)": f"{row['requests']:,} ({row['minimum']:,})", "429s": row["throttled_429"],
            "duplicates": row["duplicates"], "not landed": row["not_landed"], "wall s": row["wall_seconds"],
            "bound s": row["bound_seconds"], "wall / bound": row["wall_over_bound"],
            "slowest sync s": row["slowest_sync_seconds"],
            "worker peak RSS / PSS MB": f"{row['worker_peak_rss_mb']:,} / {row['worker_peak_pss_mb']:,}",
            "run peak MB": row["run_peak_rss_mb"],
            "sandbox slowest answer s": row["sandbox_latency"]["slowest_s"]}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--courses", type=int, default=500, help="courses each account receives")
    parser.add_argument("--workers", default="1,2,4", help="celery worker counts, comma-separated")
    parser.add_argument("--per-catalog", type=int, default=10, help="accounts each catalog (one run) goes to")
    parser.add_argument("--scale", type=float, default=1.0, help="divide every window by this, on both sides")
    # Not threads: Dagster configures logging (logging.config.dictConfig) as each step starts, which deadlocks
    # against another step's thread emitting a log record in the same process (seen here, at two steps).
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads"], help="celery worker pool")
    parser.add_argument("--concurrency", type=int, help="slots per worker (default: every long sync at once)")
    parser.add_argument("--quick", action="store_true",
                        help="4 accounts x 120 courses, windows / 10, 1 and 2 workers: about a minute")
    args = parser.parse_args(argv)
    if args.quick:
        args.accounts, args.courses, args.workers, args.per_catalog, args.scale = 4, 120, "1,2", 2, 10.0
    workers = [int(w) for w in args.workers.split(",")]
    started = time.perf_counter()
    rows = run_scale(args.accounts, args.courses, workers, args.per_catalog, args.scale, args.pool, args.concurrency)
    print(f"\nscale: {args.accounts} accounts x {args.courses} courses, windows / {args.scale:g}; targets: requests = "
          "minimum, 0 x 429, wall time <= 1.2 x the slowest account's bound "
          f"({time.perf_counter() - started:.0f} s in all)")
    print(tabulate([_shown(r) for r in rows], headers="keys"))
    print(json.dumps({"accounts": args.accounts, "courses": args.courses, "scale": args.scale, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
