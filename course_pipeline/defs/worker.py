"""What a celery worker imports before it forks its children (`dagster-celery worker start -i
course_pipeline.defs.worker`): the definitions, built once here, so that each child starts its first step
with them already built (a fork shares them) instead of building them again, seconds of CPU apiece with
many destinations. Likewise what a step imports only when it first needs it (the report's chart, pandera's
checks, the databases' drivers, Dagster's step execution): about a second of CPU per child otherwise, all
children at once when a backfill starts."""

import dagster._core.execution.api  # noqa: F401 - the step execution the celery task runs
import matplotlib
import psycopg2  # noqa: F401 - the ledger's and the instance's PostgreSQL driver

# pandera imports its pandas checks on the first validation
from pandera.backends.pandas import builtin_checks, builtin_hypotheses  # noqa: F401

from ..definitions import defs

defs().get_repository_def()  # the repository Dagster makes of them is cached on the Definitions object too
matplotlib.use("Agg")  # as charts.py renders: no screen
import matplotlib.pyplot  # noqa: E402, F401 - after the backend is chosen
