"""`course-pipeline demo`: start the local vendor sandbox, run the whole pipeline on the sample
catalogs in the local Dagster instance (DAGSTER_HOME), so every run is there to inspect in the UI,
and print what happened. A second demo finds everything unchanged and sends nothing."""

import os
import socket

from tabulate import tabulate

from ..catalog.sources import read_sources
from ..ledger import describe_url, ledger_url
from ..pipeline import COUNT_KEYS
from .definitions import enabled_vendors
from .runner import local_instance, run_sync
from .sandbox_target import SANDBOX_URL_ENV, SandboxServer

SANDBOX_PORT = 8787


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def run_demo(sources_file: str) -> int:
    selected = read_sources(sources_file)
    sources = selected.configured
    vendors = enabled_vendors()
    instance = local_instance()
    # The clients' default base URLs point at port 8787; another free port works just as well.
    with SandboxServer(port=SANDBOX_PORT if _free(SANDBOX_PORT) else 0) as sandbox:
        print(f"vendor sandbox at {sandbox.url}; syncing {len(sources)} catalog(s) to {', '.join(vendors)} …")
        os.environ[SANDBOX_URL_ENV] = sandbox.url  # the sandbox targets read it when the runs start
        outcome = run_sync(sources_file, sources, vendors, instance=instance, broken=selected.broken)
    for broken in selected.broken:
        print(f"\n== {broken.name}: not run: {broken.error}")
    for source in sources:
        result = outcome.runs[source.name]
        if source.name in outcome.failed_sources:
            print(f"\n== {source.name}: the run failed: {outcome.failed_sources[source.name]}")
            continue
        validated = result.output_for_node("valid_catalog")
        summary = validated.summary.set_index("table")
        print(f"\n== {source.name} ({source.path.name}, run {result.run_id[:8]}): "
              f"{int(summary.at['courses', 'valid'])} of {int(summary.at['courses', 'rows'])} courses valid, "
              f"{validated.rejected_rows} rows rejected")
    rows = [{"vendor": v, **{k: int(c[k]) for k in COUNT_KEYS}} for v, c in outcome.totals.vendors.items()]
    print("\noutcome per vendor (all catalogs):")
    print(tabulate(rows, headers="keys"))
    print(f"\nDagster instance: {instance.root_directory}")
    print(f"Ledger: {describe_url(ledger_url())}")
    print("See every run, the rejected rows and each course's outcome in the Dagster UI:\n"
          "  make ui   then open http://127.0.0.1:3000  (Assets > sync_report, or valid_catalog for rejects)")
    print("Run `make demo` again: the ledger finds everything unchanged and no vendor request is sent.")
    return 2 if outcome.failed_sources else 0
