"""The lease a worker holds on a document while it processes it.

`mark_processing` grants `lease_s()` (settings.ingest_lease_s, 60 s); while the pipeline runs,
a heartbeat thread pushes lease_until forward every sixth of it (also through a long PDF
extraction, which reports no progress). A worker killed mid-document stops the heartbeat, the
lease runs out, and the reconciler (workers.ingest.reconcile, every RECONCILE_S) re-enqueues
the document: back to `ready` within about lease + RECONCILE_S + the processing time, instead
of the broker's visibility timeout.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from api.core.config import get_settings

log = logging.getLogger("renum.ingest")
RECONCILE_S = 15


def lease_s() -> float:
    return get_settings().ingest_lease_s


@contextmanager
def heartbeat(renew: Callable[[], bool], every_s: float | None = None) -> Iterator[None]:
    """Call `renew` every `every_s` while the block runs; it returns False once the document
    is no longer ours (finished, replaced, deleted), which ends the heartbeat."""
    stop = threading.Event()
    every_s = every_s or lease_s() / 6

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                if not renew():
                    return
            except Exception:  # noqa: BLE001 - a missed beat is retried; the lease covers several
                log.warning("lease heartbeat failed", exc_info=True)

    thread = threading.Thread(target=beat, name="ingest-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
