"""`./renum run`'s supervisor restarts a child that dies instead of stopping everything."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from infra import supervisor
from infra.supervisor import Supervisor


def test_dead_child_is_restarted_with_backoff_and_others_keep_running(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(supervisor, "BASE_S", 0.2)
    marker = tmp_path / "starts"
    crasher = [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x'); raise SystemExit(3)"]
    steady = [sys.executable, "-c", "import time; time.sleep(60)"]
    sup = Supervisor({"crasher": crasher, "steady": steady}, env={}, cwd=tmp_path, poll_s=0.05)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not marker.exists() or len(marker.read_text()) < 3):
            sup.check()
            time.sleep(0.05)
        crash, calm = sup.children
        assert len(marker.read_text()) >= 3
        assert crash.restarts >= 2
        assert crash.failures >= 2  # consecutive quick deaths back off further each time
        assert calm.proc.poll() is None
        assert calm.restarts == 0  # the rest of the stack kept running
    finally:
        sup.stop()
    assert all(c.proc.poll() is not None for c in sup.children)


def test_backoff_doubles_up_to_the_cap():
    sup = Supervisor.__new__(Supervisor)
    delays = [sup.backoff(supervisor.Child("x", [], failures=n)) for n in (1, 2, 3, 4, 10)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 30.0]
