"""<vendor>_sync: push each vendor's payloads through its rate-limited client, in the vendor's pool
(one step per vendor across all runs, dagster.yaml), and sync_report: every outcome of the run, joined
to the catalog row it came from."""

import logging
import time

import dagster as dg
import pandas as pd

from .. import pipeline
from ..catalog.validation import ValidationResult
from ..diff import dry_run_changes
from ..ledger import OUTCOME_COLUMNS
from ..locks import AccountBusy
from ..progress import report as report_progress
from ..sync import OUTCOMES, DeactivationLimit, Plan, SyncReport, SyncStopped
from ..vendors import VENDOR_NAMES
from ..vendors.base import PayloadSet
from .partitions import catalog_partitions
from .payload_assets import payload_asset_key
from .recovery import mark_worker

NO_FAILED_ITEMS = "no_failed_items"
DEACTIVATION_GUARD = "deactivation_guard"
FAILURES_SHOWN = 25
STEP_RETRIES = 1
# What a sync step waits for, also for the command line (whose console shows only critical run events).
WAITING = logging.getLogger("course_pipeline.waiting")


class SyncConfig(dg.Config):
    dry_run: bool = False  # plan only: what would be created, updated, deactivated; nothing is sent
    only_failed: bool = False  # send only the items whose last outcome is failed, or unknown where safe
    # The deactivation guard: this run may take down (deactivate or orphan) up to this many courses past
    # the limit below. The go-ahead belongs to one run: give it in the launchpad, not in a job's defaults.
    allow_deactivations: int = 0
    # The limit: a run that would take down more than max_deactivation_count courses of a source at an
    # account AND more than max_deactivation_percent of them holds all of them back.
    max_deactivation_percent: float = DeactivationLimit.percent
    max_deactivation_count: int = DeactivationLimit.count


def vendor_pool(vendor: str) -> str:
    return f"vendor_{vendor}"


def sync_asset_key(vendor: str) -> str:
    return f"{vendor}_sync"


def outcomes_frame(report: SyncReport) -> pd.DataFrame:
    return pd.DataFrame([o.as_row() for o in report.outcomes], columns=OUTCOME_COLUMNS)


def plan_frame(plan: Plan, vendor: str, account: str) -> pd.DataFrame:
    rows = []
    for row in plan.rows():
        origin = row.pop("origin", None)
        rows.append({**row, "vendor": vendor, "account": account, "source": plan.source,
                     "payload_hash": plan.hashes.get(row["course_id"]),
                     "source_file": origin.file if origin else None, "source_sheet": origin.sheet if origin else None,
                     "source_row": origin.row if origin else None})
    return pd.DataFrame(rows, columns=OUTCOME_COLUMNS).assign(run_id="dry-run")


def failures_markdown(outcomes: pd.DataFrame) -> str:
    failed = outcomes[outcomes["status"].isin(["failed", "unknown"])]
    if failed.empty:
        return "No failed or unknown items."
    view = failed[["course_id", "action", "status", "http_status", "error_code", "error_message", "source_file",
                   "source_row"]].head(FAILURES_SHOWN).astype(object).fillna("")
    view["error_message"] = view["error_message"].astype(str).str.slice(0, 160)
    more = len(failed) - FAILURES_SHOWN
    return view.to_markdown(index=False) + (f"\n\n… and {more} more" if more > 0 else "")


def build_sync_asset(vendor: str) -> dg.AssetsDefinition:
    key = sync_asset_key(vendor)

    @dg.asset(
        name=key,
        partitions_def=catalog_partitions,
        group_name="sync",
        kinds={"api"},
        pool=vendor_pool(vendor),
        ins={"payloads": dg.AssetIn(payload_asset_key(vendor)), "valid_catalog": dg.AssetIn("valid_catalog")},
        required_resource_keys={vendor, "ledger"},
        # Vendors' transient answers are retried by the transport; an exception that escapes the step is the
        # infrastructure's (the ledger's database unreachable, a worker lost): one more try, which resumes
        # from the ledger, so what landed is not sent again. See the README's retry budget.
        retry_policy=dg.RetryPolicy(max_retries=STEP_RETRIES, delay=15, jitter=dg.Jitter.PLUS_MINUS),
        description=f"Sends what changed to {vendor} (rate-limited, retried only where a repeat cannot make a "
                    "duplicate) and records every course's outcome in the ledger.",
        check_specs=[dg.AssetCheckSpec(NO_FAILED_ITEMS, asset=key,
                                       description="No item failed or ended unknown (a warning: the rest landed)."),
                     dg.AssetCheckSpec(DEACTIVATION_GUARD, asset=key,
                                       description="The run did not try to take down more courses than the "
                                                   "deactivation limit allows without a go-ahead (an error: none of "
                                                   "them was sent).")],
    )
    def _sync(context: dg.AssetExecutionContext, config: SyncConfig, payloads: PayloadSet,
              valid_catalog: ValidationResult):
        mark_worker(context)
        target = getattr(context.resources, vendor)
        ledger = context.resources.ledger.open()
        client = target.client()
        started = time.monotonic()
        last_logged = [0.0]

        def progress(done: int, total: int) -> None:
            report_progress(vendor, context.partition_key, done, total)  # course-pipeline sync's progress bars
            if done and (time.monotonic() - last_logged[0] > 5 or done == total):  # not the start (0 of total)
                last_logged[0] = time.monotonic()
                context.log.info(f"{vendor}: {done}/{total} items sent")

        limit = DeactivationLimit(percent=config.max_deactivation_percent, count=config.max_deactivation_count)
        try:
            done = pipeline.sync_vendor(payloads, client, ledger, source=context.partition_key,
                                        catalog_ids=valid_catalog.catalog_course_ids, run_id=context.run.run_id,
                                        dry_run=config.dry_run, only_failed=config.only_failed,
                                        allow_deactivations=config.allow_deactivations, limit=limit,
                                        progress=progress, notify=lambda line: (context.log.warning(line),
                                                                                WAITING.info(line)))
        except (SyncStopped, AccountBusy) as exc:  # not the infrastructure's: a step retry would not help
            raise dg.Failure(str(exc), allow_retries=False) from None
        finally:
            client.close()
            ledger.dispose()
        report = done.report
        counts = done.counts()
        outcomes = plan_frame(done.plan, vendor, client.account) if report is None else outcomes_frame(report)
        seconds = time.monotonic() - started
        sent = sum(counts[status] for status in ("created", "queued", "updated", "reconciled", "accepted",
                                                 "deactivated"))
        metadata = {
            **{f"count/{status}": dg.MetadataValue.int(counts[status]) for status in OUTCOMES},
            "requests": dg.MetadataValue.int(counts["requests"]),
            "throttled_429": dg.MetadataValue.int(counts["throttled"]),
            "retries": dg.MetadataValue.int(report.retries if report else 0),
            "duration_seconds": dg.MetadataValue.float(round(seconds, 2)),
            "items_per_second": dg.MetadataValue.float(round(sent / seconds, 2) if seconds else 0.0),
            "dry_run": dg.MetadataValue.bool(config.dry_run),
            "held_deactivations": dg.MetadataValue.int(len(done.plan.held)),
            "failures": dg.MetadataValue.md(failures_markdown(outcomes)),
            "dagster/row_count": dg.MetadataValue.int(len(outcomes)),
        }
        if done.plan.verdict:
            metadata["deactivation_guard"] = dg.MetadataValue.text(done.plan.verdict)
            context.log.error(done.plan.verdict)
        if client.halt:  # the vendor could take nothing more (e.g. StackOne's batch endpoint gone): say it once
            metadata["halted"] = dg.MetadataValue.text(client.halt)
            context.log.error(client.halt)
        if config.dry_run:  # what would change, field by field: `changes` in the UI, the column for `plan --diff`
            column, markdown = dry_run_changes(done.plan, outcomes["course_id"])
            outcomes["changes"], metadata["changes"] = column, dg.MetadataValue.md(markdown)
        yield dg.Output(outcomes, metadata=metadata)
        yield dg.AssetCheckResult(check_name=DEACTIVATION_GUARD, passed=done.plan.verdict is None,
                                  severity=dg.AssetCheckSeverity.ERROR,
                                  metadata={"held": len(done.plan.held),
                                            "verdict": done.plan.verdict or "within the limit"})
        problems = counts["failed"] + counts["unknown"]
        yield dg.AssetCheckResult(check_name=NO_FAILED_ITEMS, passed=problems == 0,
                                  severity=dg.AssetCheckSeverity.WARN,
                                  metadata={"failed": counts["failed"], "unknown": counts["unknown"]})

    return _sync


SYNC_ASSETS = [build_sync_asset(vendor) for vendor in VENDOR_NAMES]

REPORT_COLUMNS = ["vendor", "course_id", "title", "action", "status", "vendor_id", "http_status", "error_code",
                  "error_message", "source_file", "source_sheet", "source_row", "payload_hash", "attempts"]


@dg.asset(
    partitions_def=catalog_partitions,
    group_name="sync",
    kinds={"pandas"},
    deps=[sync_asset_key(v) for v in VENDOR_NAMES],
    required_resource_keys={"ledger"},
    description="Every course × vendor outcome of this run, with the catalog row it came from and the vendor's "
                "id: lineage from the cell to the vendor. Read from the ledger for the run and the runs it "
                "retries, so a retried run still shows every vendor it synced.",
)
def sync_report(context: dg.AssetExecutionContext, valid_catalog: ValidationResult) -> dg.Output:
    group = context.instance.get_run_group(context.run.run_id)
    run_ids = [run.run_id for run in group[1]] if group else [context.run.run_id]
    ledger = context.resources.ledger.open()
    try:
        report = ledger.outcomes(run_ids=run_ids)
    finally:
        ledger.dispose()
    # A retry's outcome supersedes the first attempt's for the same item (the ledger lists them in order).
    report = report.drop_duplicates(["vendor", "account", "course_id"], keep="last").reset_index(drop=True)
    titles = valid_catalog.valid["courses"].set_index("course_id")["title"]
    report["title"] = report["course_id"].map(titles)
    report = report.reindex(columns=REPORT_COLUMNS)
    summary = (report.pivot_table(index="vendor", columns="status", values="course_id", aggfunc="count", fill_value=0)
               if len(report) else pd.DataFrame())
    shown = report.head(50).astype(object).fillna("")
    shown["error_message"] = shown["error_message"].astype(str).str.slice(0, 120)
    return dg.Output(report, metadata={
        "dagster/row_count": dg.MetadataValue.int(len(report)),
        "outcomes_by_vendor": dg.MetadataValue.md(summary.to_markdown() if len(summary) else "No outcomes."),
        "outcomes": dg.MetadataValue.md(shown.to_markdown(index=False) if len(shown) else "No outcomes."),
        "failed_or_unknown": dg.MetadataValue.int(int(report["status"].isin(["failed", "unknown"]).sum())),
    })
