"""Where the project keeps its files, the same wherever a command runs.

The ledger, the HighLevel token file, the Dagster instance and the default sources file are found from
the project (the checkout that holds this package, as `pip install -e .` and `make` set it up), never
from the working directory: a command run elsewhere must find the same ledger, or it would plan every
course as new and re-import it on HighLevel. Installed without a checkout, the state lives in the user's
data folder. Each can be set explicitly:

    COURSE_PIPELINE_STATE_DIR   the ledger (ledger.db) and the HighLevel token file
    COURSE_PIPELINE_SOURCES     the sources file Dagster reads
    DAGSTER_HOME                the Dagster instance
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "COURSE_PIPELINE_STATE_DIR"
SOURCES_ENV = "COURSE_PIPELINE_SOURCES"


def project_root() -> Path | None:
    """The checkout this package runs from, or None when it is installed from a wheel."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "course_pipeline").is_dir() else None


def state_dir() -> Path:
    explicit = os.environ.get(STATE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    root = project_root()
    if root is not None:
        return root / "data" / "state"
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "course_pipeline"


def default_sources_file() -> Path:
    explicit = os.environ.get(SOURCES_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    root = project_root()
    return (root / "data" / "sources.yaml") if root else Path("sources.yaml").resolve()


def dagster_home() -> Path:
    explicit = os.environ.get("DAGSTER_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    root = project_root()
    return (root / "dagster_home") if root else state_dir() / "dagster_home"
