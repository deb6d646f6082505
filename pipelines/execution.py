"""Where a run's steps execute: the Dagster executor chosen by ``[execution]``, and the steps
that must share one machine.

Python steps read and write only the lake, so with the lake on object storage and the instance on
PostgreSQL any worker can run them. The steps that build the DuckDB warehouse (the SQL stages, the
trends read from a mart, the serving database and the report) need the build database, a local
file with one writer: they carry ``WAREHOUSE_QUEUE`` as their Celery queue, served by the workers of
one machine; with the k8s executor every pod mounts the warehouse volume at the data home.

Celery's broker and result backend come from ``$CELERY_BROKER_URL`` and
``$CELERY_RESULT_BACKEND`` (default: the broker), read by Dagster at run time, so no URL (nor the
password in it) is stored with the definitions or a run. A step's task is acknowledged only once it
ends, so a worker lost mid-step (killed, or its machine gone) leaves the task to be redelivered to
another worker once the broker's visibility timeout (``$CELERY_VISIBILITY_TIMEOUT_SECONDS``,
default an hour: longer than any step) has passed; the step then runs again from the start, which
is safe because every write replaces whole partitions atomically.
"""

from __future__ import annotations

import functools
import os
import warnings
from typing import Any

import dagster as dg

from pipelines.config import WAREHOUSE_QUEUE, Execution, load_execution

BROKER_ENV = "CELERY_BROKER_URL"
BACKEND_ENV = "CELERY_RESULT_BACKEND"
VISIBILITY_ENV = "CELERY_VISIBILITY_TIMEOUT_SECONDS"
DEFAULT_VISIBILITY_SECONDS = 3_600
CELERY_QUEUE_TAG = "dagster-celery/queue"


def celery_settings() -> dict[str, Any]:
    """The Celery app's settings beyond dagster-celery's defaults, shared by the executor (which
    submits tasks) and ``observatory worker`` (which runs them)."""
    visibility = int(os.environ.get(VISIBILITY_ENV, DEFAULT_VISIBILITY_SECONDS))
    return {
        "task_acks_late": True,  # a task is acknowledged when its step ends, not when taken
        "task_reject_on_worker_lost": True,  # a step process killed: its task is queued again
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {
            "visibility_timeout": visibility,  # a lost worker's task is redelivered after this
            "unacked_restore_interval": max(1, min(10, visibility // 5)),
            "unacked_restore_throttle": 1,
            # dagster-celery's own connection retries (replaced by this dict otherwise)
            "max_retries": 3,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "worker_hijack_root_logger": False,
    }


def celery_urls() -> tuple[str, str]:
    """The broker and result backend URLs, from the environment."""
    broker = os.environ.get(BROKER_ENV)
    if not broker:
        raise RuntimeError(
            f"the celery executor needs ${BROKER_ENV} (e.g. redis://host:6379/0); "
            f"${BACKEND_ENV} defaults to it"
        )
    return broker, os.environ.get(BACKEND_ENV) or broker


def executor_definition(execution: Execution) -> dg.ExecutorDefinition:
    """The Dagster executor of ``[execution] executor``."""
    retries = {"enabled": {}}
    if execution.executor == "multiprocess":
        return dg.multiprocess_executor.configured(
            {"max_concurrent": execution.max_concurrent, "retries": retries}
        )
    if execution.executor == "celery":
        from celery.exceptions import DuplicateTaskNameWarning
        from dagster_celery import celery_executor

        # dagster-celery registers its step task again on every run's app: same task, no harm
        warnings.filterwarnings("ignore", category=DuplicateTaskNameWarning)

        backend = BACKEND_ENV if os.environ.get(BACKEND_ENV) else BROKER_ENV
        return celery_executor.configured(
            {
                "broker": {"env": BROKER_ENV},
                "backend": {"env": backend},
                "config_source": celery_settings(),
                "retries": retries,
            }
        )
    if execution.executor == "k8s":  # pods, secrets and volumes: the run launcher's (Helm)
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured({"retries": retries})
    return dg.in_process_executor


def warehouse_tags() -> dict[str, Any]:
    """Op tags of the steps that build the warehouse: the Celery queue the warehouse machine
    serves. (With the k8s executor every step pod gets the run launcher's volumes, the warehouse
    volume among them: see deploy/helm/values.yaml.)"""
    return {CELERY_QUEUE_TAG: WAREHOUSE_QUEUE}


def backfill_policy() -> dg.BackfillPolicy:
    """How a backfill of the day-stamped raw tables (yearly partitions) is cut into runs: one
    run, every year in one step, on one machine; a run per year when steps are distributed, so
    that the workers share the years (``observatory run`` cuts its ranges itself: ``runner``)."""
    if configured_execution().distributed:
        return dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
    return dg.BackfillPolicy.single_run()


@functools.cache
def configured_execution() -> Execution:
    """The ``[execution]`` settings of the config in use (``$OBSERVATORY_CONFIG``)."""
    return load_execution()
