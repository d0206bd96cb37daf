"""infra/services.py: the embedded Postgres's page cache follows the machine (or the setting)."""
from __future__ import annotations

import pytest

from infra import services


def test_shared_buffers_is_a_quarter_of_memory_within_bounds(monkeypatch):
    for memory_mb, expected in ((1024, "256MB"), (4096, "1024MB"), (24_105, "2048MB"), (65_536, "2048MB")):
        monkeypatch.setattr(services, "_memory_mb", lambda memory_mb=memory_mb: memory_mb)
        assert services.shared_buffers() == expected


def test_shared_buffers_can_be_set_and_is_validated(monkeypatch):
    from api.core.config import Settings, get_settings
    monkeypatch.setenv("RENUM_PG_SHARED_BUFFERS", "512MB")
    get_settings.cache_clear()
    try:
        assert services.shared_buffers() == "512MB"
    finally:
        monkeypatch.delenv("RENUM_PG_SHARED_BUFFERS")
        get_settings.cache_clear()
    with pytest.raises(ValueError, match="pg_shared_buffers"):  # it goes on the postgres command line
        Settings(pg_shared_buffers="512MB -c fsync=on")


def test_memory_is_read_from_this_machine():
    assert services._memory_mb() > 0
