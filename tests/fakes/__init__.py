"""Test doubles at the system's outer seams (hosted LLM over HTTP)."""
from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, fake_openai_server, reply_for

__all__ = ["FakeOpenAIServer", "fake_openai", "fake_openai_server", "reply_for"]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A running fake OpenAI server; use `.base_url` and inspect `.requests`."""
    server = FakeOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()
