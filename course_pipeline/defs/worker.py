"""What a celery worker imports before it forks its children (`dagster-celery worker start -i
course_pipeline.defs.worker`): the definitions, built once here, so that each child starts its first step
with them already built (a fork shares them) instead of building them again, seconds of CPU apiece with
many destinations. Likewise what a step imports only when it first needs it (the report's chart, pandera's
checks, the databases' drivers, Dagster's step execution, the instance's storage classes): about a second
of CPU per child otherwise, all children at once when a backfill starts."""

import importlib
import os

import dagster._core.execution.api  # noqa: F401 - the step execution the celery task runs
import matplotlib
import psycopg2  # noqa: F401 - the ledger's and the instance's PostgreSQL driver

# pandera imports its pandas checks on the first validation
from pandera.backends.pandas import builtin_checks, builtin_hypotheses  # noqa: F401

from ..definitions import defs

defs().get_repository_def()  # the repository Dagster makes of them is cached on the Definitions object too
matplotlib.use("Agg")  # as charts.py renders: no screen
import matplotlib.pyplot  # noqa: E402, F401 - after the backend is chosen


def import_instance_classes(home: str | None) -> None:
    """The modules of the classes the worker's dagster.yaml names (dagster-postgres' storages and what they
    import): each step's task builds the instance from them, and the first build in a child imports them
    (0.4 s of CPU; 0.05 s once imported). Imported only: no connection is opened before the fork."""
    if not home or not os.path.exists(os.path.join(home, "dagster.yaml")):
        return
    # The rest of from_ref's own imports: dagster-postgres' driver extras, the defs state storage's paths.
    import psycopg2.extras  # noqa: F401
    import upath  # noqa: F401
    from dagster._core.instance import factory  # noqa: F401
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.secrets import loader  # noqa: F401

    ref = InstanceRef.from_dir(home)
    for name in dir(ref):
        data = getattr(ref, name) if name.endswith("_data") else None
        if data is not None and hasattr(data, "module_name"):
            importlib.import_module(data.module_name)


import_instance_classes(os.environ.get("DAGSTER_HOME"))
