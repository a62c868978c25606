"""The executor of the sync jobs, chosen when the code location loads (COURSE_PIPELINE_EXECUTOR):

- `in_process` (the default): one process per run, every step in it. A step subprocess costs seconds of
  Dagster start-up, more than a catalog's sync takes; the vendors' pools are claimed per step all the same.
- `multiprocess`: Dagster's multiprocess executor, each step its own process on this machine: the steps of
  different accounts (destinations) of one run sync side by side, each paced in its own pool, at the cost of
  a process start per step.
- `celery`: dagster-celery's executor. The run's process orchestrates; each step is a Celery task that
  any worker listening on the queue runs (`dagster-celery worker start -A dagster_celery.app -q QUEUE`).
  The run's process still claims each step's pool slot before it submits the task, and frees it when the
  step's events come back (dagster_celery/core_execution_loop.py enters InstanceConcurrencyContext and
  hands it to execution_plan.start, as the multiprocess executor does), so `vendor_<name>` keeps one
  sync per vendor across runs and workers. That needs an instance every process shares (PostgreSQL).

Where Celery is (the run's environment when the location loads, as the other deployment choices):
COURSE_PIPELINE_CELERY_BROKER (default RabbitMQ on this host with its guest account),
COURSE_PIPELINE_CELERY_BACKEND (default `rpc://`, the answers back over the broker) and
COURSE_PIPELINE_CELERY_QUEUE (default `dagster`, the queue dagster-celery's workers listen on). A run's
config can set each again (`execution: config: {broker, backend, queue}`). A broker or backend URL
taken from the environment is kept as the variable's name, resolved in each process that uses it, so a
password in it is not stored with the job or the run."""

from __future__ import annotations

import os

import dagster as dg
from dagster_celery.tags import DAGSTER_CELERY_STEP_PRIORITY_TAG  # 0-10, default 5; imports no celery

from ..catalog.errors import ConfigError

EXECUTOR_ENV = "COURSE_PIPELINE_EXECUTOR"
BROKER_ENV = "COURSE_PIPELINE_CELERY_BROKER"
BACKEND_ENV = "COURSE_PIPELINE_CELERY_BACKEND"
QUEUE_ENV = "COURSE_PIPELINE_CELERY_QUEUE"
EXECUTORS = ("in_process", "multiprocess", "celery")
DEFAULT_BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"  # RabbitMQ's own default account, no secret
DEFAULT_BACKEND = "rpc://"
DEFAULT_QUEUE = "dagster"  # dagster-celery's default queue (dagster_celery/defaults.py)


# A sync's priority is 0-4 by its pace (sync_assets.sync_priority). The steps every sync of a catalog waits on
# (reading, validating, building payloads) come before any sync: a short step queued behind another run's
# HighLevel syncs held back this catalog's slow syncs (the scale benchmark: Thought Industries syncs queued
# up to 60 s).
UPSTREAM_PRIORITY = 5


def priority_tags(priority: int) -> dict[str, str]:
    """op_tags that order a step among those ready: Dagster's step priority (default 0) for the run's executor,
    dagster-celery's (0-10, default 5) for its queue."""
    return {"dagster/priority": str(priority), DAGSTER_CELERY_STEP_PRIORITY_TAG: str(5 + priority)}


def _from_env(variable: str, default: str) -> str | dict:
    """The variable's name when it is set (Dagster resolves it where the executor starts), else the default."""
    return {"env": variable} if os.environ.get(variable) else default


def celery_executor() -> dg.ExecutorDefinition:
    """dagster-celery's executor, its broker, backend and queue from the environment unless the run's
    config names them."""
    from dagster_celery import celery_executor as dagster_celery_executor

    broker, backend = _from_env(BROKER_ENV, DEFAULT_BROKER), _from_env(BACKEND_ENV, DEFAULT_BACKEND)
    queue = os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE

    @dg.configured(dagster_celery_executor, config_schema={
        "broker": dg.Field(dg.Noneable(dg.StringSource), is_required=False,
                           description=f"The Celery broker's URL (default: {BROKER_ENV}, else {DEFAULT_BROKER})."),
        "backend": dg.Field(dg.Noneable(dg.StringSource), is_required=False,
                            description=f"Celery's result backend (default: {BACKEND_ENV}, else {DEFAULT_BACKEND})."),
        "queue": dg.Field(dg.Noneable(str), is_required=False,
                          description=f"The queue the steps are sent to, which the workers listen on (default: "
                                      f"{QUEUE_ENV}, else {DEFAULT_QUEUE})."),
    })
    def celery(config: dict) -> dict:
        return {"broker": config.get("broker") or broker, "backend": config.get("backend") or backend,
                "config_source": {"task_default_queue": config.get("queue") or queue}}

    return celery


def run_executor(name: str | None = None) -> dg.ExecutorDefinition:
    """The executor of sync_job and retry_failed: in-process unless COURSE_PIPELINE_EXECUTOR says otherwise."""
    name = name or os.environ.get(EXECUTOR_ENV) or "in_process"
    if name not in EXECUTORS:
        raise ConfigError(f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)}, not {name!r}")
    if name == "celery":
        return celery_executor()
    return dg.multiprocess_executor if name == "multiprocess" else dg.in_process_executor
