"""Entry point for `dagster dev` / `dagster definitions validate` (workspace.yaml points here)."""

from .defs.definitions import defs

__all__ = ["defs"]
