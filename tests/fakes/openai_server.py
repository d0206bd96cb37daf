"""The fake OpenAI-compatible model server lives with the benchmarks (bench/fake_model.py) so
bench/ never imports tests/; tests keep importing it from here."""
from bench.fake_model import FakeOpenAIServer, fake_openai_server, reply_for

__all__ = ["FakeOpenAIServer", "fake_openai_server", "reply_for"]
