"""course-pipeline: the command line.

    course-pipeline validate data/sources.yaml [--source NAME] [--json]
    course-pipeline payloads data/sources.yaml --source NAME --vendor V
    course-pipeline demo [--sources data/sources.yaml]
    course-pipeline sandbox [--host 127.0.0.1] [--port 8787]

Exit codes: 0 all good, 1 rows were rejected, 2 a source could not be read or configured.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .catalog.errors import CatalogError
from .catalog.mapping import extract_catalog
from .catalog.report import rejects_table, summary_table
from .catalog.sources import SourceConfig, find_source, load_sources
from .catalog.validation import ValidationResult, validate_catalog

EXIT_OK, EXIT_REJECTS, EXIT_UNREADABLE = 0, 1, 2


def _select(sources_file: str, name: str | None) -> list[SourceConfig]:
    sources = load_sources(sources_file)
    return [find_source(sources, name)] if name else sources


def exit_code(results: list[ValidationResult]) -> int:
    if any(r.table_errors for r in results):
        return EXIT_UNREADABLE
    return EXIT_REJECTS if any(r.rejected_rows for r in results) else EXIT_OK


def results_as_json(results: list[ValidationResult]) -> dict:
    tables, rejects, errors = [], [], []
    for result in results:
        tables += [{"source": result.source, **row} for row in result.summary.to_dict("records")]
        rejects += [{k: (None if v != v else v) for k, v in row.items()}  # NaN -> null
                    for row in result.rejects.to_dict("records")]
        errors += [{"source": result.source, "table": t, "error": why} for t, why in result.table_errors.items()]
    return {"tables": tables, "rejects": rejects, "errors": errors}


def print_results(results: list[ValidationResult], out=None) -> None:
    out = out or sys.stdout
    for result in results:
        print(f"\n== {result.source}", file=out)
        for table, why in result.table_errors.items():
            print(f"  cannot read {table}: {why}", file=out)
        print(summary_table(result), file=out)
        if not result.rejects.empty:
            print(f"\nrejected ({result.rejected_rows} rows, {len(result.rejects)} reasons):", file=out)
            print(rejects_table(result), file=out)


def cmd_validate(args: argparse.Namespace) -> int:
    results = [validate_catalog(extract_catalog(s)) for s in _select(args.sources_file, args.source)]
    if args.json:
        json.dump(results_as_json(results), sys.stdout, indent=2, default=str, ensure_ascii=False)
        print()
    else:
        print_results(results)
    return exit_code(results)


def cmd_payloads(args: argparse.Namespace) -> int:
    from .vendors import VENDORS
    from .vendors.base import build_payloads
    from .vendors.settings import vendor_from_env

    if args.vendor not in VENDORS:
        print(f"error: unknown vendor {args.vendor!r}; vendors are: {', '.join(VENDORS)}", file=sys.stderr)
        return EXIT_UNREADABLE
    (source,) = _select(args.sources_file, args.source)
    result = validate_catalog(extract_catalog(source))
    if result.table_errors:
        for table, why in result.table_errors.items():
            print(f"error: cannot read {table}: {why}", file=sys.stderr)
        return EXIT_UNREADABLE
    vendor = vendor_from_env(args.vendor)
    payloads = build_payloads(result.valid, [vendor])[args.vendor]
    for item in payloads.items:
        sys.stdout.write(json.dumps(vendor.request_body([item.body]), ensure_ascii=False) + "\n")
    if result.rejected_rows:
        print(f"note: {result.rejected_rows} catalog rows were rejected by validation and are not here "
              f"(course-pipeline validate {args.sources_file} --source {source.name})", file=sys.stderr)
    for reject in payloads.rejects:
        print(json.dumps({"rejected": reject.course_id, "vendor": reject.vendor, "rule": reject.rule,
                          "message": reject.message, "file": reject.origin.file, "sheet": reject.origin.sheet,
                          "row": reject.origin.row}, ensure_ascii=False), file=sys.stderr)
    return EXIT_REJECTS if payloads.rejects else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .defs.demo import run_demo  # imports Dagster: only for the commands that need it

    return run_demo(args.sources)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox import serve

    serve(host=args.host, port=args.port)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course-pipeline", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="read and validate catalog sources; print rows and rejects")
    validate.add_argument("sources_file", help="path to sources.yaml")
    validate.add_argument("--source", help="only this source (default: all)")
    validate.add_argument("--json", action="store_true", help="print JSON with keys tables and rejects")
    validate.set_defaults(func=cmd_validate)

    payloads = commands.add_parser("payloads", help="print each request body a vendor would receive (JSON lines); "
                                                    "vendor rejects go to stderr")
    payloads.add_argument("sources_file", help="path to sources.yaml")
    payloads.add_argument("--source", required=True, help="the catalog source")
    payloads.add_argument("--vendor", required=True, help="highlevel | kombo | stackone | thought_industries")
    payloads.set_defaults(func=cmd_payloads)

    demo = commands.add_parser("demo", help="run the pipeline on the sample catalogs in the local Dagster instance")
    demo.add_argument("--sources", default="data/sources.yaml", help="path to sources.yaml")
    demo.set_defaults(func=cmd_demo)

    sandbox = commands.add_parser("sandbox", help="run the local vendor sandbox in the foreground")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8787)
    sandbox.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
