"""course-pipeline: the command line.

    course-pipeline validate data/sources.yaml [--source NAME] [--json]
    course-pipeline payloads data/sources.yaml --source NAME --vendor V [--lines]
    course-pipeline plan data/sources.yaml [--source NAME] [--vendor V] [--json] [--diff] [--allow-deactivations N]
    course-pipeline sync data/sources.yaml [--source NAME] [--vendor V] [--json] [--dry-run [--diff]]
                         [--allow-deactivations N]
    course-pipeline unknowns data/sources.yaml [--vendor V] [--source NAME] [--output FILE.csv]
    course-pipeline resolve VENDOR COURSE_ID --landed [--vendor-id ID] | --not-landed
    course-pipeline resolve VENDOR --from-file FILE.csv
    course-pipeline status [data/sources.yaml] [--source NAME] [--vendor V] [--all] [--json]
    course-pipeline history COURSE_ID [--vendor V] [--json]
    course-pipeline demo [--sources data/sources.yaml]
    course-pipeline ui [--port 3000]
    course-pipeline sandbox [--host 127.0.0.1] [--port 8787]

`unknowns` lists the items whose outcome nobody knows (an answer lost, a run that died mid-send) as a
CSV with their titles and when they were sent; fill its `landed` column with yes or no (and `vendor_id`
if you know it) and `resolve VENDOR --from-file` settles them all in one transaction.

Exit codes: 0 all good; 1 rows were rejected (validate, payloads) or items failed or are unknown
(sync); 2 a source could not be read or configured (the other sources are still done), a run
could not run, or a file or argument cannot be used (nothing is settled from a file with a bad
row); 3 the deactivation guard held back take-downs (plan, sync: nothing was deactivated; the
message says how to proceed); 130 stopped by SIGINT or SIGTERM (what was in flight is left for
the next sync to reconcile).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
from collections.abc import Sequence

from tabulate import tabulate

from . import pipeline
from .catalog.errors import CatalogError, ConfigError
from .catalog.report import rejects_table, summary_table
from .catalog.sources import BrokenSource, Sources, read_sources
from .catalog.validation import ValidationResult
from .locks import AccountBusy
from .vendors import CLIENTS, VENDOR_NAMES

EXIT_OK, EXIT_REJECTS, EXIT_UNREADABLE, EXIT_HELD, EXIT_STOPPED = 0, 1, 2, 3, 130
STOP_GRACE_SECONDS = 10.0  # after SIGTERM/SIGINT, how long the batches in flight get to settle


def _select(sources_file: str, name: str | None) -> Sources:
    """The sources asked for; one that cannot be configured is reported by each command, which goes on."""
    return read_sources(sources_file).select(name)


def report_broken(broken: list[BrokenSource]) -> None:
    for source in broken:
        print(f"error: {source.error}", file=sys.stderr)


def exit_code(results: list[ValidationResult]) -> int:
    if any(r.table_errors for r in results):
        return EXIT_UNREADABLE
    return EXIT_REJECTS if any(r.rejected_rows for r in results) else EXIT_OK


def results_as_json(results: list[ValidationResult], broken: list[BrokenSource] = ()) -> dict:
    tables, rejects, notes = [], [], []
    errors = [{"source": source.name, "table": None, "error": source.error} for source in broken]
    for result in results:
        tables += [{"source": result.source, **row} for row in result.summary.to_dict("records")]
        rejects += [{k: (None if v != v else v) for k, v in row.items()}  # NaN -> null
                    for row in result.rejects.to_dict("records")]
        errors += [{"source": result.source, "table": t, "error": why} for t, why in result.table_errors.items()]
        notes += [{"source": result.source, "note": note} for note in result.notes]
    return {"tables": tables, "rejects": rejects, "errors": errors, "notes": notes}


def print_results(results: list[ValidationResult], out=None) -> None:
    out = out or sys.stdout
    for result in results:
        print(f"\n== {result.source}", file=out)
        for table, why in result.table_errors.items():
            print(f"  cannot read {table}: {why}", file=out)
        for note in result.notes:
            print(f"  note: {note}", file=out)
        print(summary_table(result), file=out)
        if not result.rejects.empty:
            print(f"\nrejected ({result.rejected_rows} rows, {len(result.rejects)} reasons):", file=out)
            print(rejects_table(result), file=out)


def cmd_validate(args: argparse.Namespace) -> int:
    selected = _select(args.sources_file, args.source)
    report_broken(selected.broken)
    results = [pipeline.read(s) for s in selected.configured]
    if args.json:
        json.dump(results_as_json(results, selected.broken), sys.stdout, indent=2, default=str, ensure_ascii=False)
        print()
    else:
        print_results(results)
    return EXIT_UNREADABLE if selected.broken else exit_code(results)


def _destinations(sources_file: str | None):
    from .defs.definitions import load_destinations

    return load_destinations(sources_file)


def _target(vendor: str, destination: str | None = None, sources_file: str | None = None, *, first: bool = False,
            destinations=None):
    """A destination's target as the definitions configure it, resolved now (secrets from the environment):
    the one named, else the vendor's only one (first: else its first, where the account does not matter)."""
    from .defs.definitions import targets

    destinations = destinations or _destinations(sources_file)
    chosen = (destinations.of(vendor)[0] if first and destination is None else
              destinations.get(vendor, destination))
    resource = targets(destinations)[chosen.key]  # the resources alone: no assets built
    try:
        return resource.process_config_and_initialize()
    except Exception as exc:  # an EnvVar that is not set: Dagster names it
        raise ConfigError(f"{chosen.label}: {str(exc).strip().splitlines()[-1]}") from None


def cmd_payloads(args: argparse.Namespace) -> int:
    source = read_sources(args.sources_file).get(args.source)
    result = pipeline.read(source)
    if result.table_errors:
        for table, why in result.table_errors.items():
            where = "" if why.startswith("source '") else f"source '{source.name}': "
            print(f"error: {where}cannot read {table}: {why}", file=sys.stderr)
        return EXIT_UNREADABLE
    for note in result.notes:
        print(f"note: source '{source.name}': {note}", file=sys.stderr)
    target = _target(args.vendor, args.destination, args.sources_file, first=True)  # the batch size is the account's
    builder = target.builder()
    payloads = pipeline.build(result, [builder])[args.vendor]
    client = target.client()  # sends nothing: it knows the batch size and how a request is spelled
    try:
        # The requests a first sync sends, in the vendor's batches and the order Sync.run sends them; with
        # --lines, each item alone as a request of its own.
        size = 1 if args.lines else client.batch_size
        batches = [payloads.items[i:i + size] for i in range(0, len(payloads.items), size)]
        bodies = [body for batch in batches for body in client.create_requests([item.body for item in batch])]
    finally:
        client.close()
    for body in bodies:
        sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
    if result.rejected_rows:
        print(f"note: {result.rejected_rows} catalog rows were rejected by validation and are not here "
              f"(course-pipeline validate {args.sources_file} --source {source.name})", file=sys.stderr)
    for reject in payloads.rejects:
        print(json.dumps({"rejected": reject.course_id, "vendor": reject.vendor, "rule": reject.rule,
                          "message": reject.message, "file": reject.origin.file, "sheet": reject.origin.sheet,
                          "row": reject.origin.row}, ensure_ascii=False), file=sys.stderr)
    return EXIT_REJECTS if payloads.rejects else EXIT_OK


def _vendors(args: argparse.Namespace) -> list[str]:
    from .defs.definitions import enabled_vendors

    vendors = enabled_vendors()
    if args.vendor:
        if args.vendor not in vendors:
            raise ConfigError(f"vendor {args.vendor!r} is not enabled; enabled: {', '.join(vendors)}")
        return [args.vendor]
    return vendors


def print_totals(totals, out=None) -> None:
    from .pipeline import COUNT_KEYS

    rows = [{"vendor": vendor, **{k: int(counts[k]) for k in COUNT_KEYS}} for vendor, counts in totals.vendors.items()]
    print(tabulate(rows, headers="keys"), file=out or sys.stdout)


def print_changes(rows: list[dict], out=None) -> None:
    """The dry run's changes per course and vendor, `field: old → new`, values cut (diff.WIDTH)."""
    from .diff import FieldChange, changes_table

    out = out or sys.stdout
    if not rows:
        print("\nchanges: none (nothing would be created, updated or taken down)", file=out)
        return
    print(f"\nchanges ({len(rows)}):", file=out)
    print(changes_table([FieldChange(**row) for row in rows]), file=out)


def cmd_sync(args: argparse.Namespace) -> int:
    """`sync` materializes the assets on the local instance; `plan` (and `sync --dry-run`) runs the same
    assets as a dry run on a throw-away instance: the same code, nothing sent, nothing recorded."""
    import dagster as dg

    from .defs.runner import local_instance, run_sync  # imports Dagster: only for the commands that need it
    from .ledger import describe_url, ledger_url

    dry_run = args.command == "plan" or args.dry_run
    if args.diff and not dry_run:
        raise ConfigError("sync: --diff shows what a dry run would change; use plan --diff (or sync --dry-run --diff)")
    selected, vendors = _select(args.sources_file, args.source), _vendors(args)
    invoker = {"course_pipeline/invoked_by": f"{socket.gethostname()}:{os.getpid()}"}
    _show_waits()
    bars = None if dry_run else _progress_bars()  # a dry run sends nothing: no bars

    def work():  # the instance is made in the thread that uses it (SQLite connections stay in their thread)
        with dg.DagsterInstance.ephemeral() if dry_run else local_instance() as instance:  # and closed there
            return run_sync(args.sources_file, selected.configured, vendors, dry_run=dry_run, instance=instance,
                            allow_deactivations=args.allow_deactivations, tags=invoker, broken=selected.broken,
                            notify=lambda line: print(f"note: {line}", file=sys.stderr, flush=True))

    if bars is None:
        outcome = _interruptible(work, None if dry_run else local_instance, invoker)
    else:
        from .progress import listening

        with bars, listening(bars):
            outcome = _interruptible(work, local_instance, invoker, on_stop=bars.stop)
    if outcome is None:
        return EXIT_STOPPED
    if args.json:
        diff = {"changes": outcome.changes} if args.diff else {}
        print(json.dumps({**outcome.totals.as_json(), "failed_sources": outcome.failed_sources,
                          "deactivation_guard": outcome.guarded, "ledger": describe_url(ledger_url()), **diff},
                         indent=2, ensure_ascii=False))
    else:
        print(f"ledger: {describe_url(ledger_url())}")
        if dry_run:
            print("plan (nothing is sent):")
        print_totals(outcome.totals)
        if args.diff:
            print_changes(outcome.changes)
        for source, why in outcome.failed_sources.items():
            print(f"  {source}: failed: {why}")
        for verdicts in outcome.guarded.values():
            for verdict in verdicts.values():
                print(f"  held: {verdict}")
    if outcome.failed_sources:
        return EXIT_UNREADABLE
    if outcome.guarded:
        return EXIT_HELD
    return EXIT_REJECTS if outcome.totals.failed_or_unknown and not dry_run else EXIT_OK


def _progress_bars():
    """A progress bar per vendor for `sync`, on a terminal; None elsewhere."""
    from .progress import Bars

    console = _progress_console()
    return None if console is None else Bars(console)


def _progress_console():
    """Where `sync` draws its progress bars: stderr, when it is a terminal; None (no bars, plain output) when
    it is not, as in a pipe, a file, CI or a test."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console

    return Console(file=sys.stderr)


def _show_waits() -> None:
    """What a sync step waits for (another sync holding the account) reaches the terminal: the run's own
    console log shows only critical events here."""
    from .defs.sync_assets import WAITING

    if not WAITING.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("note: %(message)s"))
        WAITING.addHandler(handler)
        WAITING.setLevel(logging.INFO)
        WAITING.propagate = False


class _Stderr(logging.Handler):
    """Writes to sys.stderr as it is when a record comes (above the progress bars while they are drawn)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:
            self.handleError(record)


def _interruptible(work, open_instance, invoker: dict[str, str], on_stop=lambda: None):
    """Run `work` in a thread so SIGTERM and SIGINT reach us even while Dagster waits for a pool slot
    (its in-process executor does not look at signals there). On a signal, every sync stops sending,
    the batches in flight get STOP_GRACE_SECONDS to settle, and the runs this command started are marked
    failed with their pool slots freed; returns None when stopped. on_stop: called first then (the
    progress bars give the terminal back, as the process may end without unwinding)."""
    import signal
    import threading

    from dagster import DagsterRunStatus, RunsFilter

    from .sync import request_stop

    result, error = [], []
    stopped = threading.Event()

    def target():
        try:
            result.append(work())
        except BaseException as exc:  # handed to the main thread, which reports it
            error.append(exc)

    def on_signal(signum, _frame):
        if not stopped.is_set():
            print(f"stopping ({signal.Signals(signum).name}): no new requests; settling what is in flight",
                  file=sys.stderr, flush=True)
        stopped.set()
        request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    worker = threading.Thread(target=target, name="course-pipeline-sync", daemon=True)
    worker.start()
    try:
        while worker.is_alive() and not stopped.is_set():
            worker.join(0.2)
        if stopped.is_set():
            on_stop()
            worker.join(STOP_GRACE_SECONDS)
            live = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED]
            instance = open_instance() if open_instance else None
            for run in instance.get_runs(filters=RunsFilter(tags=invoker, statuses=live)) if instance else []:
                instance.report_run_failed(run, message="stopped by a signal; the next sync resumes from the ledger")
                instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            sys.stdout.flush()
            sys.stderr.flush()
            if worker.is_alive():  # a request still hangs: leave it in flight for the next sync to reconcile
                os._exit(EXIT_STOPPED)
            return None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if error:
        raise error[0]
    return result[0]


def _read_catalogs(sources_file: str, names: set[str] | None) -> dict[str, ValidationResult]:
    """The current catalogs of these sources (all in the file when None), read and validated. A source
    that is gone or cannot be read is left out (said on stderr): what the ledger holds is what matters."""
    found = read_sources(sources_file)
    for source in (b for b in found.broken if names is None or b.name in names):
        print(f"note: source {source.name!r} cannot be read ({source.error}): its titles are blank", file=sys.stderr)
    sources = {s.name: s for s in found.configured}
    results: dict[str, ValidationResult] = {}
    for name in sorted(set(sources) if names is None else names):
        if name not in sources:
            if name not in {b.name for b in found.broken}:
                print(f"note: source {name!r} is not in {sources_file}: its titles are blank", file=sys.stderr)
            continue
        try:
            results[name] = pipeline.read(sources[name])
        except CatalogError as exc:
            print(f"note: {exc}: its titles are blank", file=sys.stderr)
    return results


def _catalog_titles(sources_file: str, names: set[str]) -> dict[tuple[str, str], str]:
    """(source, course_id) -> title in the current catalog."""
    titles: dict[tuple[str, str], str] = {}
    for name, result in _read_catalogs(sources_file, names).items():
        courses = result.valid["courses"]
        titles.update({(name, str(cid)): str(title) for cid, title in zip(courses["course_id"], courses["title"],
                                                                          strict=True)})
    return titles


def cmd_unknowns(args: argparse.Namespace) -> int:
    from .ledger import Ledger
    from .unknowns import write_csv

    if args.source:
        _select(args.sources_file, args.source)  # a name that is not there: say so
    vendors = _vendors(args)
    destinations = _destinations(args.sources_file)  # read once for every destination
    accounts = [(d.vendor, _target(d.vendor, d.name, destinations=destinations).settings().account)
                for d in destinations.all if d.vendor in vendors]
    ledger = Ledger()
    try:
        items = [item for vendor, account in accounts for item in ledger.unknowns(vendor, account)
                 if args.source in (None, item.source)]
    finally:
        ledger.dispose()
    titles = _catalog_titles(args.sources_file, {item.source for item in items})
    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as out:
            count = write_csv(items, titles, out)
    else:
        count = write_csv(items, titles, sys.stdout)
    per_vendor = {v: sum(1 for i in items if i.vendor == v) for v in vendors}
    where = f" in {args.output}" if args.output else ""
    print(f"{count} items whose outcome is unknown ({', '.join(f'{v} {n}' for v, n in per_vendor.items())}){where}"
          + (": fill `landed` with yes or no, then `course-pipeline resolve VENDOR --from-file FILE`" if count else ""),
          file=sys.stderr)
    resending = [v for v, n in per_vendor.items() if n and CLIENTS[v].resend_is_safe]
    if resending:
        print(f"note: the next sync sends the unknown items of {', '.join(resending)} again by itself (a repeat "
              "cannot duplicate there): no need to settle those by hand", file=sys.stderr)
    return EXIT_OK


def cmd_resolve(args: argparse.Namespace) -> int:
    from .ledger import Ledger

    if args.from_file:
        if args.course_id or args.vendor_id:
            raise ConfigError("resolve: --from-file takes no COURSE_ID or --vendor-id (the file has them)")
        return _resolve_file(args)
    if not args.course_id:
        raise ConfigError("resolve: give a COURSE_ID with --landed or --not-landed, or --from-file FILE")
    account = _target(args.vendor, args.destination, args.sources).settings().account
    ledger = Ledger()
    try:
        done = ledger.resolve(args.vendor, account, args.course_id, landed=args.landed, vendor_id=args.vendor_id)
    finally:
        ledger.dispose()
    if not done:
        print(f"error: {args.vendor} has no item {args.course_id!r} to settle in the ledger ({ledger.location}): "
              "neither unknown nor a change it could not take (`course-pipeline status` lists them)", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"{args.vendor} {args.course_id}: " + ("landed" if args.landed else "not landed; the next sync sends it"))
    return EXIT_OK


def _resolve_file(args: argparse.Namespace) -> int:
    """Every row of the file with `landed` filled in, in one transaction; a bad row settles nothing."""
    from .ledger import Ledger
    from .unknowns import read_csv

    account = _target(args.vendor, args.destination, args.sources).settings().account
    found = read_csv(args.from_file, vendor=args.vendor, account=account)
    ledger = Ledger()
    try:
        settled = ledger.resolve_many(args.vendor, account, found.resolutions)
    finally:
        ledger.dispose()
    landed = sum(1 for r, done in zip(found.resolutions, settled, strict=True) if done and r.landed)
    not_landed = sum(1 for r, done in zip(found.resolutions, settled, strict=True) if done and not r.landed)
    parts = [f"{landed} settled landed", f"{not_landed} settled not landed (the next sync sends them)",
             f"{found.blank} left blank (still unknown)",
             f"{len(settled) - landed - not_landed} not unknown (settled or sent again since) or not found"]
    if found.other_vendors:
        parts.append(f"{found.other_vendors} rows of other vendors left alone")
    print(f"{args.vendor} ({ledger.location}): " + "; ".join(parts))
    return EXIT_OK


def _cell(value, width: int) -> str:
    text = "" if value is None or (not isinstance(value, str) and value != value) else str(value)
    return text if len(text) <= width else text[:width - 1] + "…"


def _where(row: dict) -> str:
    place = ":".join(str(p) for p in (row.get("source_file"), row.get("source_sheet")) if _cell(p, 200))
    number = row.get("source_row")
    return f"{place}:{int(number)}" if place and number == number and number is not None else place


def cmd_status(args: argparse.Namespace) -> int:
    """The current state the ledger holds, per source and vendor account: counts, then the courses a person
    has to look at (every course with --all). Exit 1 while a course is failed or unknown somewhere."""
    import pandas as pd

    from .ledger import Ledger
    from .state import NEEDS_ACTION, UNDELIVERED, current_state, summary, validation_rejects

    ledger = Ledger()
    try:
        state = current_state(ledger, source=args.source, vendor=args.vendor)
    finally:
        ledger.dispose()
    titles: dict[tuple[str, str], str] = {}
    if args.sources_file:
        catalogs = _read_catalogs(args.sources_file, {args.source} if args.source else None)
        extra = [validation_rejects(result) for result in catalogs.values() if len(result.rejects)]
        if extra and not args.vendor:
            state = pd.concat([state, *extra], ignore_index=True)
        for name, result in catalogs.items():
            courses = result.valid["courses"]
            titles.update({(name, str(c)): str(t) for c, t in zip(courses["course_id"], courses["title"], strict=True)})
    state["title"] = [titles.get((s, c), "") for s, c in zip(state["source"], state["course_id"], strict=True)]
    shown = state if args.all else state[state["state"].isin(NEEDS_ACTION)]
    if args.json:
        print(shown.astype(object).where(shown.notna(), None).to_json(orient="records", date_format="iso", indent=1))
    else:
        print(f"ledger: {ledger.location}")
        if state.empty:
            print("no course of ours is anywhere yet" + (f" for source {args.source!r}" if args.source else ""))
        for source, rows in state.groupby("source", sort=True):
            print(f"\nsource {source}:")
            print(tabulate(summary(rows), headers="keys", tablefmt="simple", showindex=False))
        if len(shown):
            print("\n" + ("every course:" if args.all else "to look at:"))
            print(tabulate([{"source": r["source"], "vendor": r["vendor"], "course": _cell(r["course_id"], 24),
                             "title": _cell(r["title"], 30), "state": r["state"],
                             "vendor id": _cell(r["vendor_id"], 16),
                             "why": _cell(" ".join(str(x) for x in (r["error_code"], r["error_message"])
                                                   if _cell(x, 10)), 70),
                             "where": _where(r)} for r in shown.to_dict("records")], headers="keys"))
    return EXIT_REJECTS if state["state"].isin(UNDELIVERED).any() else EXIT_OK


def cmd_destinations(args: argparse.Namespace) -> int:
    """The accounts each vendor syncs into, what they receive, and which of their variables this environment
    lacks (names only: a value is never printed). Exit 1 while an enabled destination lacks one."""
    from .defs.definitions import TARGET_ENV, enabled_vendors

    destinations, vendors = _destinations(args.sources_file), enabled_vendors()
    live = (os.environ.get(TARGET_ENV) or "sandbox") == "live"
    rows, lacking = [], 0
    for d in destinations.all:
        variables = d.variables(os.environ.get("HIGHLEVEL_AUTH") or "token")
        missing = [v for v in variables if not os.environ.get(v)] if live else []
        lacking += bool(missing) and d.vendor in vendors
        rows.append({"vendor": d.vendor, "destination": d.name, "enabled": "yes" if d.vendor in vendors else "no",
                     "account": d.account or (f"${d.account_variable()}" if d.account_variable() else "(its host)"),
                     "receives": ", ".join(d.sources) if d.sources is not None else "every source",
                     "limits": " ".join(filter(None, (d.rate_limit, d.hourly_limit))) or "documented",
                     "lacks": ", ".join(missing) if live else "(sandbox)"})
    print(f"destinations: {destinations.path or 'no file: each vendor has its default account'}")
    print(tabulate(rows, headers="keys"))
    return EXIT_REJECTS if lacking else EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    """Every outcome of one course at every vendor account, oldest first, with the source row, then what each
    account holds of it now."""
    from .ledger import Ledger
    from .state import current_state

    ledger = Ledger()
    try:
        history = ledger.outcomes(course_id=args.course_id, vendor=args.vendor)
        now_state = current_state(ledger, course_id=args.course_id, vendor=args.vendor)
    finally:
        ledger.dispose()
    if history.empty and now_state.empty:
        print(f"error: the ledger ({ledger.location}) has no outcome of course {args.course_id!r}"
              + (f" at {args.vendor}" if args.vendor else ""), file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        print(json.dumps({"outcomes": json.loads(history.to_json(orient="records", date_format="iso")),
                          "now": json.loads(now_state.to_json(orient="records", date_format="iso"))}, indent=1))
        return EXIT_OK
    print(f"course {args.course_id} (ledger: {ledger.location})")
    print(tabulate([{"at": f"{r['finished_at']:%Y-%m-%d %H:%M:%S}" if r["finished_at"] == r["finished_at"] else "",
                     "run": _cell(r["run_id"], 8), "vendor": r["vendor"], "source": r["source"],
                     "action": r["action"], "status": r["status"], "http": _cell(r["http_status"], 4),
                     "vendor id": _cell(r["vendor_id"], 16),
                     "why": _cell(" ".join(str(x) for x in (r["error_code"], r["error_message"]) if _cell(x, 10)), 60),
                     "where": _where(r)} for r in history.to_dict("records")], headers="keys"))
    print("\nnow:")
    print(tabulate([{"vendor": r["vendor"], "account": r["account"], "state": r["state"],
                     "vendor id": _cell(r["vendor_id"], 40), "source": r["source"]}
                    for r in now_state.to_dict("records")],
                   headers="keys"))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .defs.demo import run_demo  # imports Dagster: only for the commands that need it

    return run_demo(args.sources)


def cmd_ui(args: argparse.Namespace) -> int:
    """`dagster dev` on workspace.yaml, with the vendor sandbox beside it on port 8787 unless something
    already listens there: the default vendor URLs point at it, so runs launched from the UI work on a
    fresh checkout. Live vendors (their *_BASE_URL set) are not affected."""
    import socket
    import subprocess
    from pathlib import Path

    from .defs.sandbox_target import SandboxServer

    with socket.socket() as probe:
        taken = probe.connect_ex(("127.0.0.1", args.sandbox_port)) == 0
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-w", "workspace.yaml", "-h", args.host, "-p", str(args.port)]
    if taken:
        print(f"something already listens on port {args.sandbox_port}; using it as the vendor sandbox")
        return subprocess.call(command)
    with SandboxServer(port=args.sandbox_port) as sandbox:
        print(f"vendor sandbox at {sandbox.url} (stops with the UI)")
        try:
            return subprocess.call(command)
        except KeyboardInterrupt:
            return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from .defs.sandbox_target import serve

    serve(host=args.host, port=args.port)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="course-pipeline", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = commands.add_parser("validate", help="read and validate catalog sources; print rows and rejects")
    validate.add_argument("sources_file", help="path to sources.yaml")
    validate.add_argument("--source", help="only this source (default: all)")
    validate.add_argument("--json", action="store_true", help="print JSON with keys tables and rejects")
    validate.set_defaults(func=cmd_validate)

    payloads = commands.add_parser("payloads", help="print each request body a first sync would send the vendor, "
                                                    "batched as it sends them (one JSON document a line); vendor "
                                                    "rejects go to stderr")
    payloads.add_argument("sources_file", help="path to sources.yaml")
    payloads.add_argument("--source", required=True, help="the catalog source")
    payloads.add_argument("--vendor", required=True, choices=VENDOR_NAMES)
    payloads.add_argument("--destination", help="whose batch size to use (default: the vendor's first)")
    payloads.add_argument("--lines", action="store_true", help="one item a line (each as a request of its own) "
                                                               "instead of the vendor's batches")
    payloads.set_defaults(func=cmd_payloads)

    for name, helper in (("plan", "what a sync would create, update, deactivate, leave unchanged and reject; "
                                   "sends nothing"),
                         ("sync", "run the pipeline on the local Dagster instance (the runs show in the UI) "
                                  "and print the outcome counts")):
        command = commands.add_parser(name, help=helper)
        command.add_argument("sources_file", help="path to sources.yaml")
        command.add_argument("--source", help="only this source (default: all)")
        command.add_argument("--vendor", choices=VENDOR_NAMES, help="only this vendor (default: every enabled vendor)")
        command.add_argument("--json", action="store_true", help="print one JSON object of counts per vendor")
        command.add_argument("--diff", action="store_true",
                             help="after the counts, per course and vendor the fields that would change, old → new "
                                  "(a dry run only: plan, or sync --dry-run; --json: under `changes`)")
        command.add_argument("--allow-deactivations", type=int, default=0, metavar="N",
                             help="the go-ahead for this run to take down (deactivate, or orphan at HighLevel) "
                                  "up to N courses per vendor account past the deactivation guard")
        if name == "sync":
            command.add_argument("--dry-run", action="store_true", help="the same as plan: send nothing")
        command.set_defaults(func=cmd_sync, dry_run=False)

    unknowns = commands.add_parser("unknowns", help="list the items whose outcome is unknown as a CSV to fill in "
                                                    "(landed: yes or no) for resolve --from-file")
    unknowns.add_argument("sources_file", help="path to sources.yaml (for the courses' titles)")
    unknowns.add_argument("--vendor", choices=VENDOR_NAMES, help="only this vendor (default: every enabled vendor)")
    unknowns.add_argument("--source", help="only this source (default: all)")
    unknowns.add_argument("--output", help="write the CSV here (default: stdout)")
    unknowns.set_defaults(func=cmd_unknowns)

    resolve = commands.add_parser("resolve", help="settle an item whose outcome is unknown (HighLevel: an import "
                                                  "whose answer was lost), or every item of a filled-in "
                                                  "`unknowns` CSV")
    resolve.add_argument("vendor", choices=VENDOR_NAMES)
    resolve.add_argument("course_id", nargs="?", help="the course (not with --from-file)")
    landed = resolve.add_mutually_exclusive_group(required=True)
    landed.add_argument("--landed", action="store_true", help="it is there (give --vendor-id if you know it)")
    landed.add_argument("--not-landed", dest="landed", action="store_false", help="it is not: send it next time")
    landed.add_argument("--from-file", metavar="FILE.csv", help="the CSV of `unknowns` with `landed` filled in "
                                                                "(yes/no, true/false, landed/not-landed)")
    resolve.add_argument("--vendor-id")
    resolve.add_argument("--destination", help="the vendor's destination (its name in destinations.yaml; default: its only one)")
    resolve.add_argument("--sources", help="the sources file whose destinations.yaml names the destination "
                                           "(default: COURSE_PIPELINE_SOURCES, else data/sources.yaml)")
    resolve.set_defaults(func=cmd_resolve)

    status = commands.add_parser("status", help="the current state the ledger holds of every course at every "
                                                "vendor account, whichever run last touched it; lists what needs "
                                                "a look")
    status.add_argument("sources_file", nargs="?", help="path to sources.yaml: adds titles and the courses "
                                                        "validation rejected")
    status.add_argument("--source", help="only this source (default: all)")
    status.add_argument("--vendor", choices=VENDOR_NAMES, help="only this vendor (default: all)")
    status.add_argument("--all", action="store_true", help="list every course, landed ones too")
    status.add_argument("--json", action="store_true", help="print the listed rows as JSON")
    status.set_defaults(func=cmd_status)

    destinations = commands.add_parser("destinations", help="the vendor accounts syncs go to (destinations.yaml "
                                                            "beside the sources file), what each receives, and "
                                                            "which of their variables are not set")
    destinations.add_argument("sources_file", nargs="?", help="path to sources.yaml (default: COURSE_PIPELINE_SOURCES, "
                                                              "else data/sources.yaml)")
    destinations.set_defaults(func=cmd_destinations)

    history = commands.add_parser("history", help="every outcome of one course at every vendor, with the source "
                                                  "row it came from")
    history.add_argument("course_id")
    history.add_argument("--vendor", choices=VENDOR_NAMES, help="only this vendor (default: all)")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=cmd_history)

    demo = commands.add_parser("demo", help="run the pipeline on the sample catalogs in the local Dagster instance")
    demo.add_argument("--sources", default="data/sources.yaml", help="path to sources.yaml")
    demo.set_defaults(func=cmd_demo)

    ui = commands.add_parser("ui", help="the Dagster UI (dagster dev) with the vendor sandbox beside it")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--sandbox-port", type=int, default=8787)
    ui.set_defaults(func=cmd_ui)

    sandbox = commands.add_parser("sandbox", help="run the local vendor sandbox in the foreground")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8787)
    sandbox.set_defaults(func=cmd_sandbox)
    return parser


class _Parser(argparse.ArgumentParser):
    """A usage error is one line on stderr and exit 2 (argparse's code), not the whole usage text."""

    def error(self, message: str):
        self.exit(EXIT_UNREADABLE, f"error: {self.prog}: {message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return int(exc.code or 0)
    try:
        return args.func(args)
    except (CatalogError, AccountBusy) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug or an environment problem: one line, the traceback only on request
        if os.environ.get("COURSE_PIPELINE_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {exc} (set COURSE_PIPELINE_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_UNREADABLE


if __name__ == "__main__":
    sys.exit(main())
