"""Errors a person can act on: each names the source, the setting or file, and what was expected."""

from __future__ import annotations


class CatalogError(Exception):
    """A catalog source cannot be configured or read. The message is meant for the user, not a traceback."""

    def __init__(self, message: str, *, source: str | None = None, table: str | None = None):
        self.source = source
        self.table = table
        where = " ".join(part for part in (f"source '{source}'" if source else "",
                                            f"table '{table}'" if table else "") if part)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(CatalogError):
    """sources.yaml says something we cannot follow (unknown key, missing file, bad mapping)."""


class SourceReadError(CatalogError):
    """The file is there but cannot be read as the configured format."""
