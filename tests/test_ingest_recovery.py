"""Ingest under failure: a worker SIGKILLed mid-document, duplicate deliveries, stuck documents."""
import os
import signal
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from api.core import tasks
from api.core.tasks import enqueue, producer
from api.documents import jobs as ingest_jobs
from api.documents.chunking import chunk_document
from api.documents.extract import extract_text
from tests.conftest import ROOT, TEST_DIR, wait_for
from tests.support.documents import chunk_rows, create_kb, paragraphs, upload, wait_done

# Only this test's extra workers use a short broker visibility timeout (the session's worker
# keeps a long one, so slow memory tasks on a loaded machine are not handed out again and again).
VISIBILITY_TIMEOUT_S = 15


def _start_worker(tag: str, **env) -> tuple[subprocess.Popen, str]:
    """An extra worker on the ingest queue only, in its own process group so it can be killed whole."""
    from infra.local import worker_command
    cmd = worker_command(concurrency=1)
    cmd[cmd.index("-Q") + 1] = "ingest"
    name = f"{tag}-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    cmd[cmd.index("-n") + 1] = name
    log = open(TEST_DIR / f"worker-{tag}-{os.getpid()}.log", "ab")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RENUM_TASK_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S), **env}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    wait_for(lambda: producer().control.ping(destination=[name], timeout=0.5), timeout=60, message=f"{tag} worker")
    return proc, name


def _stop(proc: subprocess.Popen | None, sig=signal.SIGTERM) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)


def _state(admin_conn, doc_id: str) -> tuple[str, float]:
    return admin_conn.execute("select status, progress from public.documents where id = %s", [doc_id]).fetchone()


@pytest.fixture
def only_extra_workers_consume_ingest(celery_worker):
    """The session worker stops taking ingest tasks, so the document goes to the worker under test."""
    others = [name for reply in producer().control.ping(timeout=1) for name in reply]
    producer().control.cancel_consumer("ingest", destination=others, reply=True)
    yield
    producer().control.add_consumer("ingest", destination=others, reply=True)


def test_worker_killed_mid_document_is_redelivered_and_finishes_cleanly(
        client, new_tenant, admin_conn, only_extra_workers_consume_ingest):
    t = new_tenant()
    kb = create_kb(client, t)
    data = paragraphs(14, seed=11).encode()
    expected = len(chunk_document(extract_text(data, "text/plain", "big.txt")))
    # Small batches so progress moves (and is cached in Redis) well before the kill.
    doomed, _ = _start_worker("doomed", RENUM_EMBEDDING_BATCH_SIZE="4")
    rescuer = None
    try:
        doc_id = upload(client, t, kb["id"], "big.txt", data, "text/plain").json()["id"]
        wait_for(lambda: _state(admin_conn, doc_id)[0] == "processing", timeout=60, interval=0.05)
        delivered = time.monotonic()
        wait_for(lambda: _state(admin_conn, doc_id)[1] > ingest_jobs._CHUNKED, timeout=60, interval=0.05)
        _stop(doomed, signal.SIGKILL)
        status, progress = _state(admin_conn, doc_id)
        assert status == "processing"
        assert progress < 1
        assert chunk_rows(admin_conn, doc_id) == []
        # Redis hands an unacknowledged message to another worker once the visibility timeout
        # has passed since delivery; a starting worker sweeps for such messages at once.
        time.sleep(max(0.0, delivered + VISIBILITY_TIMEOUT_S + 1 - time.monotonic()))
        rescuer, _ = _start_worker("rescuer")
        doc = wait_done(client, t, doc_id, timeout=90)
    finally:
        _stop(doomed, signal.SIGKILL)
        _stop(rescuer)
    assert doc["status"] == "ready"
    assert doc["attempts"] >= 2
    assert doc["chunk_count"] == expected
    rows = chunk_rows(admin_conn, doc_id)
    assert len(rows) == expected
    assert sorted(r[0] for r in rows) == list(range(expected))
    assert {r[1] for r in rows} == {1}
    dupes = admin_conn.execute("select count(*) from (select 1 from public.document_chunks where document_id = %s "
                               "group by document_id, ordinal having count(*) > 1) d", [doc_id]).fetchone()[0]
    assert dupes == 0


def test_duplicate_deliveries_write_one_set_of_chunks(client, new_tenant, celery_worker, admin_conn):
    t = new_tenant()
    kb = create_kb(client, t)
    doc = upload(client, t, kb["id"], "dup.txt", paragraphs(2, seed=5).encode(), "text/plain").json()
    # The worker has the real message; two more deliveries of the same task run here at the same time.
    with ThreadPoolExecutor(2) as threads:
        outcomes = list(threads.map(lambda _: ingest_jobs.process(t.org_id, doc["id"], 1), range(2)))
    assert set(outcomes) <= {"ready", "superseded", "skipped"}
    final = wait_done(client, t, doc["id"])
    rows = chunk_rows(admin_conn, doc["id"])
    assert final["status"] == "ready"
    assert [r[0] for r in rows] == list(range(final["chunk_count"]))
    # Already ready for this version, or a version that is not the current one: nothing to do.
    assert ingest_jobs.process(t.org_id, doc["id"], 1) == "skipped"
    assert ingest_jobs.process(t.org_id, doc["id"], 7) == "skipped"
    assert ingest_jobs.process(t.org_id, str(uuid.uuid4()), 1) == "skipped"


def test_reconcile_requeues_documents_stuck_in_queued(client, new_tenant, celery_worker, admin_conn):
    t = new_tenant()
    kb = create_kb(client, t)
    doc = upload(client, t, kb["id"], "lost.txt", "Lojas fecham no feriado.".encode(), "text/plain").json()
    assert wait_done(client, t, doc["id"])["status"] == "ready"

    def lose_it():  # as if the enqueue had failed an hour ago (replica mode skips the updated_at trigger)
        with admin_conn.transaction():
            admin_conn.execute("set local session_replication_role = replica")
            admin_conn.execute("update public.documents set status = 'queued', progress = 0, "
                               "updated_at = now() - interval '1 hour' where id = %s", [doc["id"]])

    lose_it()
    found = ingest_jobs.stuck_documents(1800)
    assert [(str(r["organization_id"]), str(r["id"]), r["version"]) for r in found] == [(t.org_id, doc["id"], 1)]
    assert ingest_jobs.stuck_documents(1800) == []  # re-stamped: one re-enqueue per window, not one per sweep
    lose_it()
    enqueue(tasks.INGEST_RECONCILE, older_than_s=1800)
    final = wait_done(client, t, doc["id"])
    assert final["status"] == "ready"
    assert final["attempts"] == 2
    assert len(chunk_rows(admin_conn, doc["id"])) == final["chunk_count"]
