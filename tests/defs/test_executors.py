"""The sync jobs' executor, chosen where the code location loads: in-process unless COURSE_PIPELINE_EXECUTOR
says celery; Celery's broker, backend and queue from the environment (kept by name) unless the run's config
names them. tests/deploy/test_celery.py runs the celery executor on real workers."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._config import process_config
from dagster._serdes import serialize_value

from course_pipeline.catalog.errors import ConfigError
from course_pipeline.defs.definitions import build_defs
from course_pipeline.defs.executors import BROKER_ENV, DEFAULT_BROKER, EXECUTOR_ENV, QUEUE_ENV

SYNC_JOBS = ("sync_job", "retry_failed")


def executor_config(executor: dg.ExecutorDefinition, run_config: dict) -> dict:
    """What the executor is started with for a run with this `execution: config:` (as Dagster resolves it)."""
    processed = process_config(executor.config_schema.config_type, run_config)
    assert processed.success, processed.errors
    return executor.config_schema.resolve_config({"config": processed.value}).value["config"]


def test_the_sync_jobs_run_in_process_unless_the_location_says_celery(monkeypatch):
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    defs = build_defs()
    assert {defs.resolve_job_def(job).executor_def.name for job in SYNC_JOBS} == {"in_process"}
    monkeypatch.setenv(EXECUTOR_ENV, "celery")
    defs = build_defs()
    assert {defs.resolve_job_def(job).executor_def.name for job in SYNC_JOBS} == {"celery"}
    assert defs.resolve_job_def("catalog_job").executor_def.name != "celery"  # only the sync jobs
    monkeypatch.setenv(EXECUTOR_ENV, "dask")
    with pytest.raises(ConfigError, match="COURSE_PIPELINE_EXECUTOR must be one of in_process, celery"):
        build_defs()


def test_celery_takes_the_broker_from_the_environment_by_name_and_the_run_may_name_another(monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "celery")
    monkeypatch.delenv(BROKER_ENV, raising=False)
    monkeypatch.delenv(QUEUE_ENV, raising=False)
    job = build_defs().resolve_job_def("sync_job")
    assert executor_config(job.executor_def, {})["broker"] == DEFAULT_BROKER
    assert executor_config(job.executor_def, {})["config_source"] == {"task_default_queue": "dagster"}

    monkeypatch.setenv(BROKER_ENV, "pyamqp://team:not-in-the-snapshot@broker.internal:5672//")
    monkeypatch.setenv(QUEUE_ENV, "course_sync")
    job = build_defs().resolve_job_def("sync_job")
    config = executor_config(job.executor_def, {})
    assert config["broker"] == "pyamqp://team:not-in-the-snapshot@broker.internal:5672//"  # resolved at run start
    assert config["config_source"] == {"task_default_queue": "course_sync"}
    assert "not-in-the-snapshot" not in serialize_value(job.get_job_snapshot())  # what Dagster stores of the job

    config = executor_config(job.executor_def, {"broker": "redis://127.0.0.1:6379/0", "queue": "other"})
    assert config["broker"] == "redis://127.0.0.1:6379/0" and config["config_source"] == {"task_default_queue": "other"}
