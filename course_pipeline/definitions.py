"""Entry point for `dagster dev`, `dg` and workspace.yaml: the definitions, built when Dagster loads them.

A process loads them more than once: a celery worker's child for each step of another run (Dagster keeps
only the last job it loaded), a run's process per step. With many destinations a build costs seconds of
CPU (100 accounts: about 3 s), so a process builds them once for the same deployment choices and files,
and again only when one of those changed."""

import os
from functools import lru_cache

import dagster as dg

from .catalog.errors import ConfigError
from .defs.definitions import build_defs
from .destinations import destinations_file
from .paths import default_sources_file

# The variables read when the definitions are built (the rest, secrets included, are read at run time).
LOAD_TIME_PREFIXES = ("COURSE_PIPELINE_", "HIGHLEVEL_AUTH")


def _mtime(path) -> float | None:
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None


def _built_from() -> tuple:
    """The deployment's variables and the files they name, as of now."""
    variables = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(LOAD_TIME_PREFIXES)))
    sources = default_sources_file()
    return variables, str(sources), _mtime(sources), _mtime(destinations_file(sources))


@lru_cache(maxsize=1)
def _build(built_from: tuple) -> dg.Definitions:
    return build_defs()


@dg.definitions
def defs() -> dg.Definitions:
    try:
        key = _built_from()
    except ConfigError:  # a destinations file that is not there: build_defs says so
        return build_defs()
    return _build(key)
