"""Catalog tasks (queue `ingest`): one-line wrappers around api/catalog/jobs.py."""
from api.catalog import jobs
from api.core import tasks
from workers.celery_app import app


@app.task(name=tasks.CATALOG_EMBED.name, acks_late=True)
def embed(organization_id: str, knowledge_base_id: str, max_batches: int = 1000) -> int:
    return jobs.embed(organization_id, knowledge_base_id, max_batches)


@app.task(name=tasks.CATALOG_PULL.name, acks_late=True)
def pull(organization_id: str, feed_id: str, conditional: bool = True) -> str:
    return jobs.pull(organization_id, feed_id, conditional)


@app.task(name=tasks.CATALOG_PULL_DUE.name)
def pull_due(limit: int = 100) -> int:
    return jobs.pull_due(limit)
