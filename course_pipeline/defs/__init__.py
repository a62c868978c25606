"""Dagster wiring only: assets, checks, resources, partitions. The work itself is in catalog/ and vendors/."""

import warnings

import dagster as dg

# Data versions on outputs are "beta" in Dagster 1.13 but are how the UI shows a changed catalog.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
