"""Entry point for `dagster dev`, `dg` and workspace.yaml: the definitions, built when Dagster loads them."""

import dagster as dg

from .defs.definitions import build_defs


@dg.definitions
def defs() -> dg.Definitions:
    return build_defs()
