"""Pictures for the Dagster UI where they beat tables: one stacked bar chart per catalog, courses per
state at each vendor account, embedded in the metadata as a PNG (markdown with a data URI, which the
UI's markdown renders)."""

from __future__ import annotations

import base64
import io

import dagster as dg
import pandas as pd

from ..state import STATES

# One colour per state, the same in every chart: greens landed, amber waiting, reds need a person.
COLOURS = {"landed": "#2e7d32", "accepted": "#9ccc65", "not_updated": "#f9a825", "rejected": "#ef6c00",
           "failed": "#c62828", "unknown": "#6a1b9a", "deactivated": "#90a4ae", "orphaned": "#455a64"}


def state_chart(table: pd.DataFrame, catalog: str) -> dg.MetadataValue | None:
    """table: state.summary()'s frame (vendor, account, one column per state). None when it is empty."""
    if table.empty:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no screen: render to memory
    from matplotlib import pyplot as plt

    labels = [v if not a else f"{v}\n{a}" for v, a in zip(table["vendor"], table["account"], strict=True)]
    states = [s for s in STATES if table[s].sum() > 0]
    figure, axes = plt.subplots(figsize=(7, 0.6 * len(labels) + 1.4), dpi=100)
    left = pd.Series(0, index=table.index)
    for state in states:
        axes.barh(labels, table[state], left=left, color=COLOURS[state], label=state)
        left = left + table[state]
    axes.invert_yaxis()
    axes.set_xlabel("courses")
    axes.set_title(f"catalog {catalog}: courses by state at each vendor", fontsize=11)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(labels) < 3 else -0.15), ncol=len(states),
                frameon=False, fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return dg.MetadataValue.md(f"![courses by state at each vendor](data:image/png;base64,{encoded})")
