"""<vendor>_sync: push each vendor's payloads through its rate-limited client, in the vendor's pool
(one step per vendor across all runs, dagster.yaml), and sync_report: every outcome of the run, joined
to the catalog row it came from."""

import logging
import math
import time
import warnings

import dagster as dg
import pandas as pd

from .. import pipeline
from ..catalog.validation import ValidationResult
from ..destinations import Destination
from ..diff import dry_run_changes
from ..ledger import OUTCOME_COLUMNS
from ..locks import AccountBusy
from ..progress import report as report_progress
from ..state import NEEDS_ACTION, UNDELIVERED, current_state, summary, validation_rejects
from ..sync import OUTCOMES, DeactivationLimit, Plan, SyncReport, SyncStopped
from ..vendors.base import PayloadSet
from ..vendors.settings import seconds_per_item
from .charts import state_chart
from .executors import priority_tags
from .partitions import catalog_partitions
from .payload_assets import payload_asset_key
from .recovery import mark_worker

NO_FAILED_ITEMS = "no_failed_items"
CHANGES_LANDED = "changes_landed"
DEACTIVATION_GUARD = "deactivation_guard"
FAILURES_SHOWN = 25
SHOWN_CHARS = 60  # a table cell in the UI; the full text is in the asset's output and `course-pipeline status`
SENT = ("created", "queued", "updated", "reconciled", "accepted", "deactivated")
STEP_RETRIES = 1
# PREVIEW: partitioned asset checks are a preview in Dagster 1.13 (AssetCheckSpec(partitions_def=...), the
# documented API): its warning would print on every load of the definitions.
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


def vendor_pool(key: str) -> str:
    """A destination's pool (its key: the vendor for the default account, else vendor__name): one step per
    account at a time across all runs, while different accounts sync side by side."""
    return f"vendor_{key}"


def sync_priority(destination: Destination) -> int:
    """0 for a sync paced like HighLevel's imports, one higher for each tenfold slower pace per course, up to 4
    (Thought Industries creating one course a request, 60 a minute: 3). When sync steps wait for a slot (a
    worker's, a run's), the slowest-paced start first: they decide when the last account is done."""
    seconds = seconds_per_item(destination.vendor, destination.rate_limit, destination.hourly_limit,
                               destination.batch_size)
    return min(4, max(0, math.ceil(math.log10(seconds * 100)))) if seconds > 0 else 0


def sync_asset_key(key: str) -> str:
    return f"{key}_sync"


def sync_keys(destinations: list[Destination]) -> list[str]:
    """What syncing a catalog to these destinations materializes: the catalog, their payloads and syncs, the report."""
    return ["raw_catalog", "valid_catalog", *sorted({payload_asset_key(d.vendor) for d in destinations}),
            *(sync_asset_key(d.key) for d in destinations), "sync_report"]


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


def clip(value, width: int = SHOWN_CHARS) -> str:
    text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    return text if len(text) <= width else text[:width - 1] + "…"


def where(row) -> str:
    """The catalog cell a row came from, as one short column: file[:sheet]:row."""
    parts = [clip(row.get("source_file"), 30), clip(row.get("source_sheet"), 20)]
    place = ":".join(p for p in parts if p)
    row_number = row.get("source_row")
    return f"{place}:{int(row_number)}" if place and not pd.isna(row_number) else place


def items_markdown(items: pd.DataFrame, titles: pd.Series | None = None, limit: int = FAILURES_SHOWN,
                   empty: str = "None.") -> str:
    """A narrow table of items (course, title, state, why, where), the first `limit` of them."""
    if items.empty:
        return empty
    shown = items.head(limit)
    table = pd.DataFrame({
        "vendor": shown["vendor"] if "vendor" in shown else "",
        "course": shown["course_id"].map(lambda v: clip(v, 30)),
        "title": shown["course_id"].map(lambda cid: clip(titles.get(cid) if titles is not None else "", 40)),
        "state": shown["state"] if "state" in shown else shown["status"],
        "why": [clip(" ".join(str(x) for x in (code, msg) if x is not None and not pd.isna(x)))
                for code, msg in zip(shown["error_code"], shown["error_message"], strict=True)],
        "where": [where(r) for r in shown.to_dict("records")],
    })
    if titles is None:
        table = table.drop(columns="title")
    if "vendor" not in shown or shown["vendor"].nunique() <= 1:  # a vendor's own check: it is that vendor
        table = table.drop(columns="vendor")
    more = len(items) - limit
    return table.to_markdown(index=False) + (f"\n\n… and {more} more: `course-pipeline status`" if more > 0 else "")


def course_list(items: pd.DataFrame, shown: int = 5) -> str:
    ids = list(items["course_id"].head(shown))
    return ", ".join(ids) + (f" and {len(items) - shown} more" if len(items) > shown else "")


def build_sync_asset(destination: Destination) -> dg.AssetsDefinition:
    vendor, label = destination.vendor, destination.label
    key = sync_asset_key(destination.key)
    resolve_as = vendor if destination.is_default else f"{vendor} --destination {destination.name}"
    priority = sync_priority(destination)

    with warnings.catch_warnings():  # the preview's warning (see PREVIEW above)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        check_specs = [
            dg.AssetCheckSpec(NO_FAILED_ITEMS, asset=key, partitions_def=catalog_partitions,
                              description="No course of the catalog is failed or unknown at the account now, "
                                          "whichever run last sent it (a warning: the rest landed)."),
            dg.AssetCheckSpec(CHANGES_LANDED, asset=key, partitions_def=catalog_partitions,
                              description="Every change of the catalog reached the account (a warning where the "
                                          "vendor cannot update a course: a person acts)."),
            dg.AssetCheckSpec(DEACTIVATION_GUARD, asset=key, partitions_def=catalog_partitions,
                              description="The run did not try to take down more courses than the deactivation "
                                          "limit allows without a go-ahead (an error: none of them was sent)."),
        ]

    @dg.asset(
        name=key,
        partitions_def=catalog_partitions,
        group_name="sync",
        kinds={"api"},
        pool=vendor_pool(destination.key),
        ins={"payloads": dg.AssetIn(payload_asset_key(vendor)), "valid_catalog": dg.AssetIn("valid_catalog")},
        required_resource_keys={destination.key, "ledger"},
        # Vendors' transient answers are retried by the transport; an exception that escapes the step is the
        # infrastructure's (the ledger's database unreachable, a worker lost): one more try, which resumes
        # from the ledger, so what landed is not sent again. See the README's retry budget.
        retry_policy=dg.RetryPolicy(max_retries=STEP_RETRIES, delay=15, jitter=dg.Jitter.PLUS_MINUS),
        op_tags=priority_tags(priority),
        description=f"Sends what changed to {label} (rate-limited, retried only where a repeat cannot make a "
                    "duplicate) and records every course's outcome in the ledger. Its output is this run's "
                    "outcomes; its checks judge the ledger's current state of the catalog at the vendor.",
        # Checks per catalog partition: a result names its catalog and the courses it is about.
        check_specs=check_specs,
    )
    def _sync(context: dg.AssetExecutionContext, config: SyncConfig, payloads: PayloadSet,
              valid_catalog: ValidationResult):
        mark_worker(context)
        catalog = context.partition_key
        if not destination.receives(catalog):  # materialized from the UI with the rest: nothing is this account's
            yield from not_a_destination(destination, catalog)
            return
        target = getattr(context.resources, destination.key)
        ledger = context.resources.ledger.open()
        client = target.client()
        started = time.monotonic()
        last_logged = [0.0]

        def progress(done: int, total: int) -> None:
            report_progress(label, context.partition_key, done, total)  # course-pipeline sync's progress bars
            if done and (time.monotonic() - last_logged[0] > 5 or done == total):  # not the start (0 of total)
                last_logged[0] = time.monotonic()
                context.log.info(f"{label}: {done}/{total} items sent")

        limit = DeactivationLimit(percent=config.max_deactivation_percent, count=config.max_deactivation_count)
        try:
            done = pipeline.sync_vendor(payloads, client, ledger, source=catalog,
                                        catalog_ids=valid_catalog.catalog_course_ids, run_id=context.run.run_id,
                                        dry_run=config.dry_run, only_failed=config.only_failed,
                                        allow_deactivations=config.allow_deactivations, limit=limit,
                                        progress=progress, notify=lambda line: (context.log.warning(line),
                                                                                WAITING.info(line)))
            state = current_state(ledger, source=catalog, vendor=vendor, account=client.account)
        except (SyncStopped, AccountBusy) as exc:  # not the infrastructure's: a step retry would not help
            raise dg.Failure(str(exc), allow_retries=False) from None
        finally:
            client.close()
            ledger.dispose()
        titles = valid_catalog.valid["courses"].set_index("course_id")["title"]
        report = done.report
        counts = done.counts()
        outcomes = plan_frame(done.plan, vendor, client.account) if report is None else outcomes_frame(report)
        seconds = time.monotonic() - started
        sent = sum(counts[status] for status in SENT)
        undelivered = state[state["state"].isin(UNDELIVERED)]
        not_updated = state[state["state"] == "not_updated"]
        this_run = outcomes[outcomes["status"].isin(UNDELIVERED)]
        # Numbers Dagster plots per partition: few, each one meaningful over time.
        metadata = {
            "this_run": dg.MetadataValue.json({**{s: counts[s] for s in OUTCOMES}, "requests": counts["requests"],
                                               "throttled": counts["throttled"],
                                               "retries": report.retries if report else 0}),
            "sent": dg.MetadataValue.int(sent),
            "landed": dg.MetadataValue.int(int((state["state"] == "landed").sum())),
            "open_items": dg.MetadataValue.int(int(state["state"].isin(NEEDS_ACTION).sum())),
            "requests": dg.MetadataValue.int(counts["requests"]),
            "throttled_429": dg.MetadataValue.int(counts["throttled"]),
            "duration_seconds": dg.MetadataValue.float(round(seconds, 2)),
            "dry_run": dg.MetadataValue.bool(config.dry_run),
            "held_deactivations": dg.MetadataValue.int(len(done.plan.held)),
            "failures": dg.MetadataValue.md(items_markdown(this_run, titles, empty="No failed or unknown items.")),
            "dagster/row_count": dg.MetadataValue.int(len(outcomes)),
        }
        if done.plan.verdict:
            metadata["deactivation_guard"] = dg.MetadataValue.text(done.plan.verdict)
            context.log.error(done.plan.verdict)
        if client.halt:  # the vendor could take nothing more (e.g. StackOne's batch endpoint gone): say it once
            metadata["halted"] = dg.MetadataValue.text(client.halt)
            context.log.error(client.halt)
        # The run's log says what did not land, not only how many items went out.
        for status in UNDELIVERED:
            items = this_run[this_run["status"] == status]
            if len(items):
                reasons = ", ".join(f"{code} ×{n}" for code, n in items["error_code"].fillna("?").value_counts().items())
                context.log.warning(f"{label}: {len(items)} of {len(outcomes)} items {status} ({reasons}): "
                                    f"{course_list(items)}")
        earlier = undelivered[~undelivered["course_id"].isin(this_run["course_id"])]
        if len(earlier):
            context.log.warning(f"{label}: {len(earlier)} items of catalog {catalog} are still failed or unknown "
                                f"from earlier runs: {course_list(earlier)}")
        not_updated_why = None if not_updated.empty else (
            f"{label} holds an older version of {len(not_updated)} courses of catalog {catalog} and cannot update "
            f"them: {course_list(not_updated)}. Change each there by hand, then `course-pipeline resolve {resolve_as} "
            "COURSE --landed`; or delete it there and `resolve … --not-landed` so the next run creates it.")
        if not_updated_why:
            context.log.warning(not_updated_why)
        if config.dry_run:  # what would change, field by field: `changes` in the UI, the column for `plan --diff`
            column, markdown = dry_run_changes(done.plan, outcomes["course_id"])
            outcomes["changes"], metadata["changes"] = column, dg.MetadataValue.md(markdown)
        yield dg.Output(outcomes, metadata=metadata)
        yield dg.AssetCheckResult(check_name=DEACTIVATION_GUARD, passed=done.plan.verdict is None,
                                  severity=dg.AssetCheckSeverity.ERROR, description=done.plan.verdict,
                                  metadata={"catalog": catalog, "held": len(done.plan.held),
                                            "verdict": done.plan.verdict or "within the limit"})
        yield dg.AssetCheckResult(
            check_name=NO_FAILED_ITEMS, passed=undelivered.empty, severity=dg.AssetCheckSeverity.WARN,
            description=None if undelivered.empty else
            (f"{len(undelivered)} courses of catalog {catalog} are not delivered to {label} "
             f"({account_label(client.account)}): {course_list(undelivered)}. Failed ones are sent again by the next "
             "run (or `retry_failed`); unknown ones as the outcome says."),
            metadata={"catalog": catalog, "account": account_label(client.account),
                      "failed": int((undelivered["state"] == "failed").sum()),
                      "unknown": int((undelivered["state"] == "unknown").sum()),
                      "courses": dg.MetadataValue.md(items_markdown(undelivered, titles))})
        yield dg.AssetCheckResult(
            check_name=CHANGES_LANDED, passed=not_updated.empty, severity=dg.AssetCheckSeverity.WARN,
            description=not_updated_why,
            metadata={"catalog": catalog, "not_updated": len(not_updated),
                      "courses": dg.MetadataValue.md(items_markdown(not_updated, titles))})

    return _sync


def account_label(account: str) -> str:
    return f"account {account}" if account else "its default account"


def not_a_destination(destination: Destination, catalog: str):
    """The step of an account the catalog is not sent to (destinations file): an empty outcome, checks passed."""
    why = f"catalog {catalog} is not sent to {destination.label} (its sources in the destinations file)"
    yield dg.Output(pd.DataFrame(columns=OUTCOME_COLUMNS), metadata={"receives": dg.MetadataValue.text(why),
                                                                     "dagster/row_count": dg.MetadataValue.int(0)})
    for check in (DEACTIVATION_GUARD, NO_FAILED_ITEMS, CHANGES_LANDED):
        yield dg.AssetCheckResult(check_name=check, passed=True, description=why, metadata={"catalog": catalog})

REPORT_COLUMNS = ["vendor", "account", "course_id", "title", "state", "vendor_id", "error_code", "error_message",
                  "http_status", "last_action", "last_status", "run_id", "at", "source_file", "source_sheet",
                  "source_row"]


def build_sync_report(destinations: list[Destination]) -> dg.AssetsDefinition:
    """sync_report, after every destination's sync step."""

    @dg.asset(
        partitions_def=catalog_partitions,
        group_name="sync",
        kinds={"pandas"},
        deps=[sync_asset_key(d.key) for d in destinations],
        required_resource_keys={"ledger"},
        description="The catalog's current state at every vendor: for every course, what the ledger holds now "
                    "(landed with the vendor's id, not updated, rejected with the reason, failed, unknown, "
                    "deactivated, orphaned), whichever run last touched it, with the catalog row it came from; "
                    "validation rejects included. A retry or partial run never hides an item still open.",
    )
    def sync_report(context: dg.AssetExecutionContext, valid_catalog: ValidationResult) -> dg.Output:
        ledger = context.resources.ledger.open()
        try:
            state = current_state(ledger, source=context.partition_key)
        finally:
            ledger.dispose()
        report = pd.concat([frame for frame in (state, validation_rejects(valid_catalog)) if len(frame)],
                           ignore_index=True) if len(state) or len(valid_catalog.rejects) else state
        titles = valid_catalog.valid["courses"].set_index("course_id")["title"]
        report["title"] = report["course_id"].map(titles)
        report = report.reindex(columns=REPORT_COLUMNS)
        table = summary(report)
        needs_action = report[report["state"].isin(NEEDS_ACTION)]
        metadata = {
            "dagster/row_count": dg.MetadataValue.int(len(report)),
            "state_by_vendor": dg.MetadataValue.md(table.to_markdown(index=False) if len(table) else "No courses."),
            "needs_action": dg.MetadataValue.md(items_markdown(needs_action, titles, limit=50,
                                                               empty="Nothing: every course is where it should be.")),
            "failed_or_unknown": dg.MetadataValue.int(int(report["state"].isin(UNDELIVERED).sum())),
            "landed": dg.MetadataValue.int(int((report["state"] == "landed").sum())),
            "needs_action_count": dg.MetadataValue.int(len(needs_action)),
        }
        chart = state_chart(table, context.partition_key)
        if chart is not None:
            metadata["state_chart"] = chart
        return dg.Output(report, metadata=metadata)

    return sync_report
