"""The Celery app of ``observatory worker``: dagster-celery's step task, on the broker and result
backend of ``$CELERY_BROKER_URL``/``$CELERY_RESULT_BACKEND``, with the settings the executor
submits with (``pipelines.execution.celery_settings``). Celery loads it by name
(``celery -A pipelines.worker worker``); each task loads the run's step from
``pipelines.definitions`` and records its events in the run's instance.
"""

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from pipelines.execution import celery_settings, celery_urls

_broker, _backend = celery_urls()
app = make_app(
    CeleryExecutor.for_cli(
        broker=_broker, backend=_backend, config_source=celery_settings()
    ).app_args()
)
execute_plan = create_task(app)
