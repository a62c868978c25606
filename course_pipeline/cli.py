"""course-pipeline: the command line.

    course-pipeline validate data/sources.yaml [--source NAME] [--json]
    course-pipeline payloads data/sources.yaml --source NAME --vendor V
    course-pipeline plan data/sources.yaml [--source NAME] [--vendor V] [--json]
    course-pipeline sync data/sources.yaml [--source NAME] [--vendor V] [--json] [--dry-run]
    course-pipeline resolve VENDOR COURSE_ID --landed | --not-landed
    course-pipeline demo [--sources data/sources.yaml]
    course-pipeline ui [--port 3000]
    course-pipeline sandbox [--host 127.0.0.1] [--port 8787]

Exit codes: 0 all good; 1 rows were rejected (validate, payloads) or items failed or are unknown
(sync); 2 a source could not be read or configured (the other sources are still done), or a run could not
run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from tabulate import tabulate

from . import pipeline
from .catalog.errors import CatalogError, ConfigError
from .catalog.report import rejects_table, summary_table
from .catalog.sources import BrokenSource, Sources, read_sources
from .catalog.validation import ValidationResult
from .vendors import VENDOR_NAMES

EXIT_OK, EXIT_REJECTS, EXIT_UNREADABLE = 0, 1, 2


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


def _target(vendor: str):
    """The vendor's target as the definitions configure it, resolved now (secrets from the environment)."""
    from .defs.definitions import build_defs

    resource = build_defs(vendors=[vendor]).resources[vendor]
    try:
        return resource.process_config_and_initialize()
    except Exception as exc:  # an EnvVar that is not set: Dagster names it
        raise ConfigError(f"{vendor}: {str(exc).strip().splitlines()[-1]}") from None


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
    builder = _target(args.vendor).builder()
    payloads = pipeline.build(result, [builder])[args.vendor]
    for item in payloads.items:
        sys.stdout.write(json.dumps(builder.request_body([item.body]), ensure_ascii=False) + "\n")
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


def cmd_sync(args: argparse.Namespace) -> int:
    """`sync` materializes the assets on the local instance; `plan` (and `sync --dry-run`) runs the same
    assets as a dry run on a throw-away instance: the same code, nothing sent, nothing recorded."""
    import dagster as dg

    from .defs.runner import run_sync  # imports Dagster: only for the commands that need it
    from .ledger import describe_url, ledger_url

    dry_run = args.command == "plan" or args.dry_run
    selected, vendors = _select(args.sources_file, args.source), _vendors(args)
    instance = dg.DagsterInstance.ephemeral() if dry_run else None
    outcome = run_sync(args.sources_file, selected.configured, vendors, dry_run=dry_run, instance=instance,
                       broken=selected.broken)
    if args.json:
        print(json.dumps({**outcome.totals.as_json(), "failed_sources": outcome.failed_sources,
                          "ledger": describe_url(ledger_url())}, indent=2))
    else:
        print(f"ledger: {describe_url(ledger_url())}")
        if dry_run:
            print("plan (nothing is sent):")
        print_totals(outcome.totals)
        for source, why in outcome.failed_sources.items():
            print(f"  {source}: failed: {why}")
    if outcome.failed_sources:
        return EXIT_UNREADABLE
    return EXIT_REJECTS if outcome.totals.failed_or_unknown and not dry_run else EXIT_OK


def cmd_resolve(args: argparse.Namespace) -> int:
    from .ledger import Ledger

    account = _target(args.vendor).settings().account
    ledger = Ledger()
    try:
        done = ledger.resolve(args.vendor, account, args.course_id, landed=args.landed, vendor_id=args.vendor_id)
    finally:
        ledger.dispose()
    if not done:
        print(f"error: {args.vendor} has no unknown item {args.course_id!r} in the ledger ({ledger.location})",
              file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"{args.vendor} {args.course_id}: " + ("landed" if args.landed else "not landed; the next sync sends it"))
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

    payloads = commands.add_parser("payloads", help="print each request body a vendor would receive (JSON lines); "
                                                    "vendor rejects go to stderr")
    payloads.add_argument("sources_file", help="path to sources.yaml")
    payloads.add_argument("--source", required=True, help="the catalog source")
    payloads.add_argument("--vendor", required=True, choices=VENDOR_NAMES)
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
        if name == "sync":
            command.add_argument("--dry-run", action="store_true", help="the same as plan: send nothing")
        command.set_defaults(func=cmd_sync, dry_run=False)

    resolve = commands.add_parser("resolve", help="settle an item whose outcome is unknown (HighLevel: an import "
                                                  "whose answer was lost)")
    resolve.add_argument("vendor", choices=VENDOR_NAMES)
    resolve.add_argument("course_id")
    landed = resolve.add_mutually_exclusive_group(required=True)
    landed.add_argument("--landed", action="store_true", help="it is there (give --vendor-id if you know it)")
    landed.add_argument("--not-landed", dest="landed", action="store_false", help="it is not: send it next time")
    resolve.add_argument("--vendor-id")
    resolve.set_defaults(func=cmd_resolve)

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
    except CatalogError as exc:
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
