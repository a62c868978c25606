"""What a celery worker imports before it forks its children (`dagster-celery worker start -i
course_pipeline.defs.worker`): the definitions, built once here, so that each child starts its first step
with them already built (a fork shares them) instead of building them again, seconds of CPU apiece with
many destinations."""

from ..definitions import defs

defs().get_repository_def()  # the repository Dagster makes of them is cached on the Definitions object too
