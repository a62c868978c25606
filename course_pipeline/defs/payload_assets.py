"""<vendor>_payloads: each valid catalog turned into what each vendor accepts, in one walk over the
catalog (a multi-asset, subsettable, so one vendor can be rebuilt alone)."""

import json

import dagster as dg

from .. import pipeline
from ..catalog.validation import ValidationResult
from ..vendors import BUILDERS, VENDOR_NAMES
from ..vendors.base import PayloadSet
from .executors import UPSTREAM_PRIORITY, priority_tags
from .partitions import catalog_partitions

REJECTS_SHOWN = 25


def payload_asset_key(vendor: str) -> str:
    return f"{vendor}_payloads"


def rejects_markdown(payloads: PayloadSet) -> str:
    if not payloads.rejects:
        return "No course rejected by this vendor."
    frame = payloads.rejects_frame().drop(columns=["vendor"])
    text = frame.head(REJECTS_SHOWN).to_markdown(index=False)
    more = len(frame) - REJECTS_SHOWN
    return text + (f"\n\n… and {more} more" if more > 0 else "")


def payload_metadata(payloads: PayloadSet) -> dict:
    sample = payloads.items[0].body if payloads.items else {}
    return {
        "items": dg.MetadataValue.int(len(payloads.items)),
        "rejects": dg.MetadataValue.int(len(payloads.rejects)),
        "dagster/row_count": dg.MetadataValue.int(len(payloads.items)),
        "rejected_courses": dg.MetadataValue.md(rejects_markdown(payloads)),
        "sample_payload": dg.MetadataValue.json(json.loads(json.dumps(sample))),
    }


@dg.multi_asset(
    outs={payload_asset_key(name): dg.AssetOut(
        kinds={"python"}, is_required=False, description=f"Each valid course as {name} accepts it (body, content hash, "
                                      "source rows), and the courses it cannot take, with the reason.")
        for name in VENDOR_NAMES},
    partitions_def=catalog_partitions,
    group_name="payloads",
    can_subset=True,
    op_tags=priority_tags(UPSTREAM_PRIORITY),
)
def vendor_payloads(context: dg.AssetExecutionContext, valid_catalog: ValidationResult):
    selected = [name for name in VENDOR_NAMES if dg.AssetKey(payload_asset_key(name)) in context.selected_asset_keys]
    # Payloads need no account (HighLevel's client adds the locationId to each request), so building them
    # needs no credential either.
    builders = [BUILDERS[name]() for name in selected]
    for name, payloads in pipeline.build(valid_catalog, builders).items():
        yield dg.Output(payloads, output_name=payload_asset_key(name), metadata=payload_metadata(payloads))
