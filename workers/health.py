"""A trivial task the readiness probe can round-trip through the broker."""
from workers.celery_app import app


@app.task(name="workers.health.ping")
def ping() -> str:
    return "pong"
