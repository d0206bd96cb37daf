"""A trivial task the readiness probe can round-trip through the broker."""
from api.core import tasks
from workers.celery_app import app


@app.task(name=tasks.HEALTH_PING.name)
def ping() -> str:
    return "pong"
