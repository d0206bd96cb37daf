"""Keeps `./renum run`'s children alive: a child that dies is restarted with backoff instead
of stopping the whole stack (a worker lost to a broker hiccup comes back on its own).

Backoff doubles from BASE_S to MAX_S per consecutive quick death and resets once a child has
stayed up for STABLE_S. SIGINT/SIGTERM stop every child (gracefully, then killed after 20 s).
"""
from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_S = 1.0
MAX_S = 30.0
STABLE_S = 60.0


@dataclass
class Child:
    name: str
    command: list[str]
    proc: subprocess.Popen | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = field(default=0)


class Supervisor:
    def __init__(self, commands: dict[str, list[str]], *, env: dict, cwd: Path, poll_s: float = 0.5):
        self.env, self.cwd, self.poll_s = env, cwd, poll_s
        self.children = [Child(name, command) for name, command in commands.items()]
        self.stopping = False
        for child in self.children:
            self._start(child)

    def _start(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.command, env=self.env, cwd=self.cwd)
        child.started = time.monotonic()
        child.restart_at = None

    def backoff(self, child: Child) -> float:
        return min(MAX_S, BASE_S * 2 ** max(0, child.failures - 1))

    def check(self) -> None:
        """One supervision step: schedule restarts for dead children, start those due."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self._start(child)
                continue
            code = child.proc.poll()
            if code is None:
                if now - child.started >= STABLE_S:
                    child.failures = 0
                continue
            child.failures = child.failures + 1 if now - child.started < STABLE_S else 1
            delay = self.backoff(child)
            child.restart_at = now + delay
            print(f"[renum] {child.name} exited with {code}; restarting in {delay:.0f}s", flush=True)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self._request_stop())
        signal.signal(signal.SIGINT, lambda *_: self._request_stop())
        try:
            while not self.stopping:
                self.check()
                time.sleep(self.poll_s)
        finally:
            self.stop()
        return 0

    def _request_stop(self) -> None:
        self.stopping = True

    def stop(self) -> None:
        for child in self.children:
            if child.proc and child.proc.poll() is None:
                child.proc.terminate()
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.proc.kill()
