"""Leases instead of visibility timeouts: a document whose worker was SIGKILLed mid-ingest is
taken back by the reconciler once its lease expires and finishes on another worker, long
before the broker would redeliver the task; a live worker's heartbeat keeps its lease."""
from __future__ import annotations

import signal
import time

from api.core import tasks
from api.core.tasks import enqueue
from api.documents import jobs as ingest_jobs
from tests.conftest import wait_for
from tests.support.documents import chunk_rows, create_kb, paragraphs, upload, wait_done
from tests.test_ingest_recovery import _start_worker, _state, _stop, only_extra_workers_consume_ingest  # noqa: F401

LEASE_S = 4


def _stale() -> list[str]:
    return [str(r["id"]) for r in ingest_jobs.stuck_documents(600)]


def _lease_left(admin_conn, doc_id: str) -> float:
    return admin_conn.execute("select extract(epoch from lease_until - now()) from public.documents where id = %s",
                              [doc_id]).fetchone()[0]


def test_killed_worker_lease_expires_and_the_reconciler_takes_the_document_back(
        client, new_tenant, admin_conn, only_extra_workers_consume_ingest):
    t = new_tenant()
    kb = create_kb(client, t)
    data = paragraphs(14, seed=12).encode()
    # The broker would redeliver only after 10 minutes: any faster recovery is the lease's.
    slow_broker = {"RENUM_TASK_VISIBILITY_TIMEOUT_S": "600", "RENUM_INGEST_LEASE_S": str(LEASE_S)}
    doomed, _ = _start_worker("leased", RENUM_EMBEDDING_BATCH_SIZE="4", **slow_broker)
    rescuer = None
    try:
        doc_id = upload(client, t, kb["id"], "leased.txt", data, "text/plain").json()["id"]
        wait_for(lambda: _state(admin_conn, doc_id)[1] > ingest_jobs._CHUNKED, timeout=90, interval=0.05)
        assert 0 < _lease_left(admin_conn, doc_id) <= LEASE_S
        _stop(doomed, signal.SIGKILL)
        killed = time.monotonic()
        assert doc_id not in _stale()  # lease still running: not stale yet
        wait_for(lambda: _lease_left(admin_conn, doc_id) < 0, timeout=LEASE_S + 5, message="lease to expire")
        assert doc_id in _stale()  # reclaimed by lease (updated_at is recent: age alone would wait 600 s)
        assert doc_id not in _stale()  # and given a fresh lease: not reclaimed twice
        rescuer, _ = _start_worker("rescuer2", **slow_broker)
        enqueue(tasks.PROCESS_DOCUMENT, t.org_id, doc_id, 1)  # what reconcile sends
        doc = wait_done(client, t, doc_id, timeout=90)
        recovered_s = time.monotonic() - killed
    finally:
        _stop(doomed, signal.SIGKILL)
        _stop(rescuer)
    assert doc["status"] == "ready"
    assert doc["attempts"] == 2
    rows = chunk_rows(admin_conn, doc_id)
    assert len(rows) == doc["chunk_count"]
    assert sorted(r[0] for r in rows) == list(range(doc["chunk_count"]))
    assert recovered_s < 600  # the broker's redelivery never came into play


def test_heartbeat_renews_the_lease_while_the_block_runs():
    from api.documents import lease
    beats = []
    with lease.heartbeat(lambda: beats.append(1) or True, every_s=0.05):
        time.sleep(0.3)
    count = len(beats)
    assert count >= 2
    time.sleep(0.15)
    assert len(beats) == count  # stopped with the block
    stopped = []
    with lease.heartbeat(lambda: stopped.append(1) and False, every_s=0.05):
        time.sleep(0.3)
    assert len(stopped) == 1  # renew said "not ours any more": no further beats


