"""Memory: short-term turns in Redis, turn indexing, facts, summaries, retention, erasure, retrieval.

Real Postgres, Redis and Celery worker; the hosted LLM is the fake OpenAI server
(tests/support/memory.py) so fact JSON and summaries are deterministic.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from api.memory import service as memory
from api.memory import short_term
from api.memory.facts import parse_facts
from api.memory.text import fts_config
from tests.conftest import wait_for
from tests.support.memory import (
    FAKE_LLM,
    add_turns,
    create_agent,
    create_contact,
    create_conversation,
    facts_reply,
    in_org,
    memories,
    run,
)
from api.core import tasks
from api.core.tasks import enqueue
from api.memory import indexing
from api.memory import jobs as memory_jobs



@pytest.fixture
def setup(client, new_tenant, admin_conn):
    """An organization with one agent (fake hosted model) and one contact."""
    def make(**agent_fields):
        tenant = new_tenant()
        agent = create_agent(client, tenant, **agent_fields)
        contact = create_contact(client, tenant)
        return tenant, agent, contact
    return make


# --- short-term memory (Redis) ----------------------------------------------------------------

def test_short_term_caps_turns_and_falls_back_on_miss(redis_client, stack):
    async def go():
        redis = Redis.from_url(stack["REDIS_URL"].rsplit("/", 1)[0] + "/2")  # redis_client's database
        org, conv = uuid.uuid4(), uuid.uuid4()
        assert await short_term.recent_turns(redis, org, conv, 10) is None  # miss -> caller reads Postgres
        assert not await short_term.push_turn(redis, org, conv, "user", "oi", uuid.uuid4())  # no half list
        assert await short_term.recent_turns(redis, org, conv, 10) is None
        for i in range(7):
            assert await short_term.push_turn(redis, org, conv, "user", f"m{i}", f"id{i}", new_conversation=i == 0,
                                              max_turns=5, ttl_s=60)
        await short_term.push_turn(redis, org, conv, "user", "m6", "id6", max_turns=5)  # retried push
        turns = await short_term.recent_turns(redis, org, conv, 10)
        assert [t["content"] for t in turns] == ["m3", "m4", "m5", "m6"]  # capped at 5, duplicate dropped
        assert [t["content"] for t in await short_term.recent_turns(redis, org, conv, 2)] == ["m6"]
        await short_term.fill(redis, org, conv, [{"role": "user", "content": "a", "id": "1"},
                                                 {"role": "assistant", "content": "b", "id": "2"}], ttl_s=1)
        assert [t["role"] for t in await short_term.recent_turns(redis, org, conv, 10)] == ["user", "assistant"]
        assert 0 < await redis.ttl(short_term.key(org, conv)) <= 1
        await redis.aclose()
    run(go())
    wait_for(lambda: not redis_client.keys("stm:*"), timeout=5, message="short-term list to expire")


# --- parsing and text helpers -------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    '[{"key": "city", "value": "São Paulo", "confidence": 0.9}]',
    'Sure! ```json\n[{"key": "City", "value": "São Paulo", "confidence": 0.9},]\n```',
    "[{'key': 'city', 'value': 'São Paulo', 'confidence': 0.9}]",
    '{"facts": [{"key": "city", "value": "São Paulo", "confidence": "0.9"}]}',
    'Facts: {"key": "city", "value": "São Paulo", "confidence": 0.9} and {"key": "x", "value": "unknown"}',
])
def test_parse_facts_accepts_what_small_models_write(raw):
    facts = parse_facts(raw)
    assert [(f.key, f.value, f.confidence) for f in facts] == [("city", "São Paulo", 0.9)]


@pytest.mark.parametrize("raw", ["", "[]", "no facts here", "[1, 2]", '[{"value": "x"}]', "[{broken"])
def test_parse_facts_returns_nothing_for_unusable_output(raw):
    assert parse_facts(raw) == []


@pytest.mark.parametrize("value,customer,kept", [
    ("41", "é o número que eu calço: 41", True),
    ("Preta", "prefiro a cor preto", True),  # accents, case and a shared stem
    ("marcos.lima@exemplo.com", "agora é marcos.lima@exemplo.com", True),
    ("Rua dos Bobos, 123", "quero trocar o tamanho", False),  # invented for a key the prompt showed
    ("não especificado", "quero trocar o tamanho", False),
    ("America/Sao_Paulo", "moro em Santos", False),
    ("", "qualquer coisa", False),
])
def test_only_facts_the_customer_wrote_are_grounded(value, customer, kept):
    from api.memory.facts import grounded
    from api.memory.models import ExtractedFact
    assert grounded(ExtractedFact(key="k", value=value, confidence=1.0), customer) is kept


def test_fts_language_detection():
    assert fts_config("Eu moro em São Paulo e não gosto de frio") == "portuguese"
    assert fts_config("I live in Boston and I like the cold") == "english"
    assert fts_config("ok") == "simple"


# --- worker tasks -------------------------------------------------------------------------------

def test_turns_are_indexed_once_even_when_redelivered(setup, admin_conn, celery_worker):
    tenant, agent, contact = setup()
    conv = create_conversation(admin_conn, agent, contact)
    ids = add_turns(admin_conn, conv, [("user", "Quero trocar meu plano"), ("assistant", "Claro, qual plano?"),
                                       ("system", "not a turn")])
    for _ in range(3):  # the same task delivered three times (redelivery after a lost worker)
        enqueue(tasks.MEMORY_INDEX_TURNS, tenant.org_id, conv)
    wait_for(lambda: len(memories(admin_conn, contact["id"], "turn")) == 2, message="turns indexed")
    assert memory_jobs.index_turns(tenant.org_id, conv) == 0  # direct call: nothing left to do
    rows = memories(admin_conn, contact["id"], "turn")
    assert sorted(r["metadata"]["message_id"] for r in rows) == sorted(ids[:2])
    assert [r["content"] for r in rows] == ["Quero trocar meu plano", "Claro, qual plano?"]
    assert all(r["embedding_dim"] == 384 for r in rows)
    assert rows[0]["fts_config"] == "portuguese"
    add_turns(admin_conn, conv, [("user", "O plano família")])
    # A delivery still queued (a loaded worker) may index the new turn first: either way it is
    # indexed exactly once.
    assert memory_jobs.index_turns(tenant.org_id, conv) in (0, 1)
    wait_for(lambda: len(memories(admin_conn, contact["id"], "turn")) == 3, message="new turn indexed")
    rows = memories(admin_conn, contact["id"], "turn")
    assert len({r["metadata"]["message_id"] for r in rows}) == 3


def test_an_exchange_is_embedded_as_one_text_without_dates():
    turn = lambda role, content: {"role": role, "content": f" {content} ", "metadata": {},  # noqa: E731
                                  "created_at": datetime(2026, 3, 1, tzinfo=UTC)}
    before = {**turn("assistant", "Posso ajudar?"), "metadata": {"speaker": "Bia"}}
    texts = indexing.embedding_texts([turn("user", "Meu pedido 123 atrasou"), turn("assistant", "Vou verificar"),
                                      turn("user", "Obrigado")], before)
    # The message and its reply share the exchange's text; a message with no reply yet is read
    # after the turn before it. No date: retrieval reads it from created_at.
    assert texts == ["Customer: Meu pedido 123 atrasou\nAssistant: Vou verificar"] * 2 + [
        "Assistant: Vou verificar\nCustomer: Obrigado"]
    assert indexing.embedding_texts([turn("assistant", "Oi!"), turn("assistant", "Tudo bem?")], None) == [
        "Assistant: Oi!", "Assistant: Oi!\nAssistant: Tudo bem?"]


def test_both_turns_of_an_exchange_share_one_vector(setup, admin_conn):
    tenant, agent, contact = setup()
    conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv, [("user", "Meu pedido 123 atrasou"), ("assistant", "Vou verificar o pedido"),
                                 ("user", "Obrigado")])
    assert memory_jobs.index_turns(tenant.org_id, conv) == 3
    distances = admin_conn.execute(
        "select m.seq, m.embedding <=> first.embedding from public.memories m, "
        "(select embedding from public.memories where conversation_id = %s and kind = 'turn' order by seq limit 1) first "
        "where m.conversation_id = %s and m.kind = 'turn' order by m.seq", [conv, conv]).fetchall()
    assert distances[0][1] == distances[1][1] == 0
    assert distances[2][1] > 0.01


def test_changed_fact_supersedes_instead_of_duplicating(setup, admin_conn, celery_worker):
    tenant, agent, contact = setup()
    conv1 = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv1, [("user", "Oi, eu moro em São Paulo"), ("assistant", "Que legal!")])
    FAKE_LLM.script("Oi, eu moro em São Paulo", facts_reply(("city", "São Paulo", 0.9)))
    enqueue(tasks.MEMORY_EXTRACT_FACTS, tenant.org_id, conv1)
    wait_for(lambda: memories(admin_conn, contact["id"], "fact"), message="first fact")

    conv2 = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv2, [("user", "Me mudei para o Rio de Janeiro"), ("assistant", "Anotado!")])
    FAKE_LLM.script("Me mudei para o Rio de Janeiro", facts_reply(("City", "Rio de Janeiro", 1.0)))
    enqueue(tasks.MEMORY_EXTRACT_FACTS, tenant.org_id, conv2)
    wait_for(lambda: len(memories(admin_conn, contact["id"], "fact")) == 2, message="superseding fact")
    old, new = memories(admin_conn, contact["id"], "fact")
    assert (old["key"], old["metadata"]["value"], new["key"], new["metadata"]["value"]) == \
        ("city", "São Paulo", "city", "Rio de Janeiro")
    assert old["valid_to"] is not None
    assert old["superseded_by"] == new["id"]
    assert new["valid_to"] is None

    assert memory_jobs.extract_facts(tenant.org_id, conv2) == 1  # same value again: refresh only
    assert len(memories(admin_conn, contact["id"], "fact")) == 2

    current = run(in_org(tenant.org_id, memory.current_facts, uuid.UUID(contact["id"])))
    assert [(f["key"], f["value"]) for f in current] == [("city", "Rio de Janeiro")]


def test_facts_the_customer_did_not_write_are_not_stored(setup, admin_conn):
    tenant, agent, contact = setup()
    conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv, [("user", "Calço 38 e moro em Sion"), ("assistant", "Temos no 38, em Belo Horizonte.")])
    FAKE_LLM.script("Calço 38 e moro em Sion", facts_reply(("shoe_size", "38", 1.0), ("city", "Belo Horizonte", 0.9),
                                                         ("phone", "123-456-7890", 0.5)))
    assert memory_jobs.extract_facts(tenant.org_id, conv) == 1  # the city only the assistant said, the invented phone: dropped
    assert [(f["key"], f["metadata"]["value"]) for f in memories(admin_conn, contact["id"], "fact")] == [("shoe_size", "38")]


def test_contact_details_are_found_in_the_customers_words_when_the_model_misses_them(setup, admin_conn):
    """The model answers [] (as the packaged 1.5B does for some conversations), yet the address the
    customer typed becomes a fact, and the next conversation's new address supersedes it: exactly
    one current address. E-mail, phone and CEP the same way; the model's own name for a contact
    detail ("endereco") is the fixed key, and a store's address in a question is not the customer's."""
    tenant, agent, contact = setup()
    first = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, first, [("user", "Meu endereço de entrega é Rua das Acácias, 45, bairro Sion. "
                                           "Meu email é ana.souza@example.com"),
                                  ("assistant", "Anotado!"),
                                  ("user", "A loja da Rua Pernambuco, 1120 abre sábado?")])
    FAKE_LLM.script("Rua das Acácias, 45", facts_reply())
    assert memory_jobs.extract_facts(tenant.org_id, first) == 2
    second = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, second, [("user", "Oi de novo! Mudei de casa. Agora é Rua Grão Mogol, 300, bairro Carmo. "
                                            "Meu zap é (31) 98877-1020, CEP 30310-000"),
                                   ("assistant", "Atualizado!")])
    FAKE_LLM.script("Rua Grão Mogol, 300", facts_reply(("Endereço", "Rua Grão Mogol", 0.6)))
    assert memory_jobs.extract_facts(tenant.org_id, second) == 3
    current = run(in_org(tenant.org_id, memory.current_facts, uuid.UUID(contact["id"])))
    assert sorted((f["key"], f["value"]) for f in current) == [
        ("address", "Rua Grão Mogol, 300, bairro Carmo"), ("email", "ana.souza@example.com"),
        ("phone", "(31) 98877-1020"), ("postal_code", "30310-000")]
    [address] = [f for f in current if f["key"] == "address"]
    assert address["previous_value"] == "Rua das Acácias, 45, bairro Sion"


def test_a_corrected_house_number_fixes_the_address_on_file(setup, admin_conn):
    """The customer writes only the number that was wrong ("o numero do meu endereço ta errado ai no
    cadastro, é 1168") and the model returns nothing: the address on file gets the right number and
    supersedes the wrong one; a phone corrected by its last digits the same way."""
    tenant, agent, contact = setup()
    first = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, first, [("user", "entrega na Rua Sergipe, 1186, Funcionarios. meu cel é 31 99702-3354"),
                                  ("assistant", "Anotado!")])
    FAKE_LLM.script("Rua Sergipe, 1186", facts_reply())
    assert memory_jobs.extract_facts(tenant.org_id, first) == 2
    second = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, second, [("user", "oi, o numero do meu endereço ta errado ai no cadastro, é 1168"),
                                   ("assistant", "Corrigido!"),
                                   ("user", "e o cel na vdd termina em 45, nao 54")])
    FAKE_LLM.script("ta errado ai no cadastro", facts_reply(("address", "1168", 0.8)))
    assert memory_jobs.extract_facts(tenant.org_id, second) == 2
    current = run(in_org(tenant.org_id, memory.current_facts, uuid.UUID(contact["id"])))
    assert sorted((f["key"], f["value"], f["previous_value"]) for f in current) == [
        ("address", "Rua Sergipe, 1168, Funcionarios", "Rua Sergipe, 1186, Funcionarios"),
        ("phone", "31 99702-3345", "31 99702-3354")]


@pytest.mark.no_stack
@pytest.mark.parametrize("said,facts,known,expected", [
    # The part that was wrong, in the same conversation.
    ("Rua Alvarenga Peixoto, 1740, apto 201\nopa errei, o numero é 1470 e nao 1740",
     {"address": "Rua Alvarenga Peixoto, 1740, apto 201"}, {}, {"address": "Rua Alvarenga Peixoto, 1470, apto 201"}),
    ("address 88 Harrison Ave, Apt 14D\nours is 14B not 14D", {"address": "88 Harrison Ave, Apt 14D"}, {},
     {"address": "88 Harrison Ave, Apt 14B"}),
    ("deliver to 310 Linden St pls\nsorry, typo: it's Linden Ave, not Linden St", {"address": "310 Linden St"}, {},
     {"address": "310 Linden Ave"}),
    ("617-555-0154\noh shoot, it actually ends in 45, not 54", {"phone": "617-555-0154"}, {},
     {"phone": "617-555-0145"}),
    # Only the fix, in a later conversation: applied to the address on file.
    ("hi, the house number on my account is wrong\nlet me check the lease\nok it's 3381", {},
     {"address": "3318 Bryant Ave S"}, {"address": "3381 Bryant Ave S"}),
    ("a portaria devolveu meu pedido pq o apto ta errado no cadastro. é apto 41, nao 14, bloco B", {},
     {"address": "Rua Padre Rolim, 415, apto 14"}, {"address": "Rua Padre Rolim, 415, apto 41"}),
    ("the street on my account is spelled wrong, it's Thomson, no p. Thomson Rd", {},
     {"address": "54 Thompson Rd"}, {"address": "54 Thomson Rd"}),
    # Digits swapped, a unit given again, the street type, the phone's last digits, a name's spelling.
    ("Rua Itupava, 1180\nMarcelo. ah foi mal, troquei os numeros, é 1108", {"address": "Rua Itupava, 1180"}, {},
     {"address": "Rua Itupava, 1108"}),
    ("Rua Brigadeiro Franco, 3320, apto 91\nopa, o apto é 19. digitei invertido",
     {"address": "Rua Brigadeiro Franco, 3320, apto 91"}, {}, {"address": "Rua Brigadeiro Franco, 3320, apto 19"}),
    ("pick up from 455 W Briar Pl, Apt 4C?\noh and wrong unit, it's 4G", {"address": "455 W Briar Pl, Apt 4C"}, {},
     {"address": "455 W Briar Pl, Apt 4G"}),
    ("sou a Leticia, Rua Sete de Setembro, 2740\ncorrigindo: é Avenida Sete de Setembro, nao rua",
     {"address": "Rua Sete de Setembro, 2740"}, {}, {"address": "Avenida Sete de Setembro, 2740"}),
    ("41 98844-6203\nna real o final é 6230, to com cel novo", {"phone": "41 98844-6203"}, {},
     {"phone": "41 98844-6230"}),
    ("number is 847-555-0139\noh and the last 2 digits are 93 not 39", {"phone": "847-555-0139"}, {},
     {"phone": "847-555-0193"}),
    ("the address you guys have for me is wrong\nit should be 3941", {}, {"address": "3914 N Lincoln Ave"},
     {"address": "3941 N Lincoln Ave"}),
    ("hi, it's Katherine Doyle\nit's Kathryn actually, no e", {"name": "Katherine Doyle"}, {},
     {"name": "Kathryn Doyle"}),
    ("Rua Bom Jesus, 1560, casa 3. ops, é casa 2 nao 3", {"address": "Rua Bom Jesus, 1560, casa 3"}, {},
     {"address": "Rua Bom Jesus, 1560, casa 2"}),
    # Not a correction of the address: nothing changes. The model already wrote the fixed unit: the address as
    # first typed ("apto 68", "unit 6") is not a new statement of it.
    ("Rua Padre Anchieta, 2050, apto 68\nopa nao é 68, é 88", {"address": "Rua Padre Anchieta, 2050, apto 88"}, {},
     {"address": "Rua Padre Anchieta, 2050, apto 88"}),
    ("2205 N Williams Ave, unit 6, Portland OR\nugh wrong unit, 5 not 6", {"address": "2205 N Williams Ave, unit 5"},
     {}, {"address": "2205 N Williams Ave, unit 5"}),
    ("meu cel 41 99261-7748\npode cobrar no meu cartao final 9012, foi mal", {"phone": "41 99261-7748"}, {},
     {"phone": "41 99261-7748"}),
    ("o pedido 48213 nao chegou\nnao moça, é 48213. e sao 2 pacotes nao 3", {}, {"address": "Rua B, 3"}, {}),
    ("o numero do pedido ta errado, é 4521", {}, {"address": "Rua Sergipe, 1186"}, {}),
    ("quero 3 nao 2, e entrega hoje nao amanha", {"address": "Rua Bahia, 300"}, {}, {"address": "Rua Bahia, 300"}),
    ("Rua Bahia, 300\nsou a Mariana, o cadastro ta errado", {"address": "Rua Mariano Procópio, 300"}, {},
     {"address": "Rua Mariano Procópio, 300"}),
])
def test_a_correction_changes_only_the_part_the_customer_fixed(said: str, facts: dict, known: dict,
                                                               expected: dict) -> None:
    from api.memory.facts import with_corrections
    from api.memory.models import ExtractedFact
    given = [ExtractedFact(key=k, value=v, confidence=0.9) for k, v in facts.items()]
    assert {f.key: f.value for f in with_corrections(given, said, known)} == expected


@pytest.mark.no_stack
def test_an_address_given_again_as_the_right_one_is_the_customers() -> None:
    from api.memory.facts import contact_facts
    assert {f.key: f.value for f in contact_facts("o endereço ta errado. o certo é Rua Santa Rita Durao, 1205")} == \
        {"address": "Rua Santa Rita Durao, 1205"}
    assert {f.key: f.value for f in contact_facts("wrong one, ours is 4410 Wexford Ct")} == \
        {"address": "4410 Wexford Ct"}
    assert {f.key: f.value for f in contact_facts("hi! new customer, address is 415 Greenwood Ave, Apt 3C")} == \
        {"address": "415 Greenwood Ave, Apt 3C"}
    assert contact_facts("o endereço da loja é Rua Pernambuco, 1120?") == []
    assert contact_facts("wait no, i meant 68 Linden Ct, 88 is his old place") == \
        [contact_facts("i meant 68 Linden Ct")[0]]


@pytest.mark.no_stack
@pytest.mark.parametrize("key,value,kept", [
    ("phone", "Funcionarios", False), ("phone", "31 99702-3354", True), ("phone", "617-555-0154", True),
    ("email", "joana.silva", False), ("email", "joana@example.com", True),
    ("postal_code", "Savassi", False), ("postal_code", "SW1A 1AA", True), ("name", "Funcionarios", True),
])
def test_a_contact_detail_that_does_not_look_like_one_is_dropped(key: str, value: str, kept: bool) -> None:
    from api.memory.facts import plausible
    from api.memory.models import ExtractedFact
    assert plausible(ExtractedFact(key=key, value=value, confidence=0.9)) is kept


def test_a_changed_fact_outdates_the_turns_that_stated_the_old_value(setup, admin_conn, celery_worker):
    tenant, agent, contact = setup()
    old_conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, old_conv, [("user", "Meu endereço de entrega é Rua das Acácias, 120"),
                                     ("assistant", "Anotado!")], at=datetime(2026, 1, 5, 10, tzinfo=UTC))
    FAKE_LLM.script("Rua das Acácias, 120", facts_reply(("address", "Rua das Acácias, 120", 0.9)))
    memory_jobs.index_turns(tenant.org_id, old_conv)
    memory_jobs.extract_facts(tenant.org_id, old_conv)
    new_conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, new_conv, [("user", "Me mudei! Agora o endereço de entrega é Rua Augusta, 1500"),
                                     ("assistant", "Atualizado!")], at=datetime(2026, 4, 6, 10, tzinfo=UTC))
    FAKE_LLM.script("Rua Augusta, 1500", facts_reply(("address", "Rua Augusta, 1500", 0.9)))
    memory_jobs.index_turns(tenant.org_id, new_conv)
    memory_jobs.extract_facts(tenant.org_id, new_conv)

    old_fact, new_fact = memories(admin_conn, contact["id"], "fact")
    turns = {r["content"]: r for r in memories(admin_conn, contact["id"], "turn")}
    # The turn with the old value points at the fact that replaced it; the others do not.
    assert turns["Meu endereço de entrega é Rua das Acácias, 120"]["superseded_by"] == new_fact["id"]
    assert turns["Me mudei! Agora o endereço de entrega é Rua Augusta, 1500"]["superseded_by"] is None
    assert turns["Anotado!"]["superseded_by"] is None
    # Still retrievable (valid_to is for facts): present questions rank the new address first,
    # questions about the previous one the old address.
    contact_id = uuid.UUID(contact["id"])

    def first(question):  # the conversation of the best excerpt
        return str(run(in_org(tenant.org_id, memory.retrieve, contact_id, question, 5))[0].conversation_id)

    for question in ("qual é o meu endereço de entrega?", "what is my delivery address?"):
        assert first(question) == new_conv
    for question in ("qual era meu endereço de entrega antes?", "what was my delivery address before?",
                     "qual era meu endereço de entrega antes de abril?"):
        assert first(question) == old_conv
    # The prompt's fact line says what is current and what it replaced, until when.
    current = run(in_org(tenant.org_id, memory.current_facts, contact_id))
    assert [(f["key"], f["value"], f["previous_value"]) for f in current] == \
        [("address", "Rua Augusta, 1500", "Rua das Acácias, 120")]
    assert old_fact["superseded_by"] == new_fact["id"]
    from api.chat.context import _fact_text
    assert _fact_text(current[0]) == (
        f"address: Rua Augusta, 1500 (current; earlier: Rua das Acácias, 120 until "
        f"{current[0]['previous_until']:%Y-%m-%d})")


def test_resummarizing_replaces_the_conversation_summary(setup, admin_conn, celery_worker):
    tenant, agent, contact = setup()
    conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv, [("user", "Preciso de um orçamento para 40 cadeiras"), ("assistant", "Envio hoje.")])
    FAKE_LLM.script("40 cadeiras", "Cliente pediu orçamento de 40 cadeiras.")
    enqueue(tasks.MEMORY_SUMMARIZE, tenant.org_id, conv)
    wait_for(lambda: memories(admin_conn, contact["id"], "summary"), message="summary")
    add_turns(admin_conn, conv, [("user", "Na verdade são 50 cadeiras")])
    FAKE_LLM.script("50 cadeiras", "Cliente pediu orçamento de 50 cadeiras (antes 40).")
    assert memory_jobs.summarize(tenant.org_id, conv) is True
    rows = memories(admin_conn, contact["id"], "summary")
    assert [r["content"] for r in rows] == ["Cliente pediu orçamento de 50 cadeiras (antes 40)."]
    summaries = run(in_org(tenant.org_id, memory.session_summaries, uuid.UUID(contact["id"]), 5))
    assert [s["conversation_id"] for s in summaries] == [uuid.UUID(conv)]
    assert admin_conn.execute("select summarized_at from public.conversations where id = %s",
                              [conv]).fetchone()[0] is not None


def test_after_turn_indexes_now_and_consolidates_when_idle(setup, admin_conn, redis_client, celery_worker):
    tenant, agent, contact = setup(settings={"memory_idle_s": 1, "memory_every_n_turns": 50})
    conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv, [("user", "Meu time é o Palmeiras"), ("assistant", "Boa!")])
    FAKE_LLM.script("Meu time é o Palmeiras", facts_reply(("favorite_team", "Palmeiras", 0.9)))
    enqueue(tasks.MEMORY_AFTER_TURN, tenant.org_id, conv)
    wait_for(lambda: len(memories(admin_conn, contact["id"], "turn")) == 2, message="turns indexed")
    wait_for(lambda: memories(admin_conn, contact["id"], "fact"), timeout=30, message="idle consolidation")
    assert memories(admin_conn, contact["id"], "fact")[0]["key"] == "favorite_team"
    wait_for(lambda: memories(admin_conn, contact["id"], "summary"), timeout=30, message="idle summary")


def test_debounce_runs_one_consolidation_per_burst(redis_client):
    from api.memory import scheduling
    client = redis_client
    org, conv = str(uuid.uuid4()), str(uuid.uuid4())
    first = scheduling.record_turn(client, org, conv, every_n_turns=3, idle_s=60)
    second = scheduling.record_turn(client, org, conv, every_n_turns=3, idle_s=60)
    assert not first.consolidate_now
    assert not second.consolidate_now
    assert not scheduling.claim_idle(client, org, conv, first.token)  # superseded by the newer turn
    assert scheduling.record_turn(client, org, conv, every_n_turns=3, idle_s=60).consolidate_now  # 3rd turn
    assert not scheduling.claim_idle(client, org, conv, second.token)  # consolidated already
    fourth = scheduling.record_turn(client, org, conv, every_n_turns=3, idle_s=60)
    assert scheduling.claim_idle(client, org, conv, fourth.token)
    assert not scheduling.claim_idle(client, org, conv, fourth.token)  # exactly once
    client.close()


def test_retention_deletes_only_what_is_older_than_the_agents_period(setup, admin_conn, celery_worker):
    tenant, agent, contact = setup(retention_days=30)
    _, keep_agent, keep_contact = setup()  # no retention: never touched
    conv, keep_conv = create_conversation(admin_conn, agent, contact), create_conversation(admin_conn, keep_agent,
                                                                                           keep_contact)
    old = datetime.now(UTC) - timedelta(days=40)
    add_turns(admin_conn, conv, [("user", "mensagem antiga"), ("assistant", "resposta antiga")], at=old)
    add_turns(admin_conn, conv, [("user", "mensagem nova")])
    add_turns(admin_conn, keep_conv, [("user", "antiga mas sem retenção")], at=old)
    memory_jobs.index_turns(tenant.org_id, conv)
    memory_jobs.index_turns(keep_agent["organization_id"], keep_conv)
    enqueue(tasks.MEMORY_RETENTION)
    wait_for(lambda: len(memories(admin_conn, contact["id"])) == 1, message="old memories erased")
    left = admin_conn.execute("select content from public.conversation_history where conversation_id = %s",
                              [conv]).fetchall()
    assert left == [("mensagem nova",)]
    assert len(memories(admin_conn, keep_contact["id"])) == 1
    assert admin_conn.execute("select count(*) from public.conversation_history where conversation_id = %s",
                              [keep_conv]).fetchone()[0] == 1


# --- retrieval ----------------------------------------------------------------------------------

def test_retrieve_finds_relevant_memories_in_either_language(setup, admin_conn):
    tenant, agent, contact = setup()
    past, now = create_conversation(admin_conn, agent, contact), create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, past, [("user", "Meu cachorro se chama Thor e adora correr"),
                                 ("assistant", "Que nome legal!"),
                                 ("user", "By the way, I am allergic to peanuts"),
                                 ("user", "Prefiro ser atendido pela manhã")])
    add_turns(admin_conn, now, [("user", "Quero comprar ração para cachorro")])
    memory_jobs.index_turns(tenant.org_id, past)
    memory_jobs.index_turns(tenant.org_id, now)
    contact_id = uuid.UUID(contact["id"])

    hits = run(in_org(tenant.org_id, memory.retrieve, contact_id, "Como se chama o meu cachorro?", 3))
    assert "Thor" in hits[0].content
    assert hits[0].kind == "turn"
    # Turns come back as excerpts: the four turns of the past conversation are one unit (in
    # order, the match included), the current conversation's turn another.
    assert [h.rank for h in hits] == [1, 2]
    assert hits[0].score >= hits[1].score
    assert hits[0].metadata["role"] == "user"
    assert hits[0].conversation_id == uuid.UUID(past)
    assert [t.content[:10] for t in hits[0].excerpt] == ["Meu cachor", "Que nome l", "By the way", "Prefiro se"]
    assert [t.seq for t in hits[0].excerpt] == [0, 1, 2, 3]
    assert hits[0].excerpt[1].role == "assistant"
    single = run(in_org(tenant.org_id, memory.retrieve, contact_id, "Como se chama o meu cachorro?", 3,
                        config=memory.RetrievalConfig(excerpt_turns=1)))
    assert [h.rank for h in single] == [1, 2, 3]
    assert single[0].score >= single[1].score >= single[2].score
    assert "Thor" in single[0].content
    assert [t.content for t in single[0].excerpt] == [single[0].content]

    hits = run(in_org(tenant.org_id, memory.retrieve, contact_id, "does the customer have a peanut allergy?", 1))
    assert "peanuts" in hits[0].content

    hits = run(in_org(tenant.org_id, memory.retrieve, contact_id, "cachorro", 10,
                      exclude_conversation_id=uuid.UUID(past)))
    assert [h.conversation_id for h in hits] == [uuid.UUID(now)]
    assert run(in_org(tenant.org_id, memory.retrieve, contact_id, "cachorro", 10, kinds=("fact",))) == []
    # Z-score fusion (scores counted from each list's lowest candidate): the same answers, no negative scores.
    zscore = memory.RetrievalConfig(fusion="zscore", excerpt_turns=1)
    for question, expected in (("Como se chama o meu cachorro?", "Thor"),
                               ("does the customer have a peanut allergy?", "peanuts")):
        hits = run(in_org(tenant.org_id, memory.retrieve, contact_id, question, 3, config=zscore))
        assert expected in hits[0].content and all(h.score >= 0 for h in hits)


def test_hyphenated_and_joined_forms_meet_on_the_text_side(setup, admin_conn):
    # "e-mail" / "email", "wi-fi" / "wifi": the stored turn and the message are normalized alike
    # (private.search_normalize), so the text side matches either way round.
    tenant, agent, contact = setup()
    conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv, [("user", "Troquei de email: agora é ana@empresa.com.br"),
                                 ("user", "A senha do wi-fi da loja não funciona")])
    memory_jobs.index_turns(tenant.org_id, conv)
    rows = admin_conn.execute(
        "select fts @@ to_tsquery(fts_config, 'email'), fts @@ to_tsquery(fts_config, 'wifi') "
        "from public.memories where conversation_id = %s order by seq", [conv]).fetchall()
    assert [tuple(r) for r in rows] == [(True, False), (False, True)]
    contact_id = uuid.UUID(contact["id"])
    for question, expected in (("pra qual e-mail vão as notas?", "email"), ("qual a senha do wifi?", "wi-fi")):
        config = memory.RetrievalConfig(excerpt_turns=1)
        hits = run(in_org(tenant.org_id, memory.retrieve, contact_id, question, 1, config=config))
        assert expected in hits[0].content


def test_a_matching_turn_lends_score_to_its_neighbours(setup, admin_conn):
    tenant, agent, contact = setup()
    conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv, [("user", "Bom dia"),
                                 ("user", "Minha bicicleta elétrica quebrou o pedal ontem"),
                                 ("assistant", "Sinto muito, vamos resolver"),
                                 ("user", "Obrigado")])
    memory_jobs.index_turns(tenant.org_id, conv)
    contact_id = uuid.UUID(contact["id"])

    def blocks(smooth):
        config = memory.RetrievalConfig(excerpt_turns=2, smooth=smooth)
        hits = run(in_org(tenant.org_id, memory.retrieve, contact_id, "bicicleta elétrica pedal", 10, config=config))
        return {tuple(t.seq for t in h.excerpt): h for h in hits}

    plain, smoothed = blocks(0.0), blocks(0.5)
    # Two-turn excerpts [0, 1] and [2, 3]; the match (seq 1) stays the best turn of its excerpt
    # and, smoothed, lends half its score to seq 2, so the excerpt after it scores higher.
    assert set(plain) == set(smoothed) == {(0, 1), (2, 3)}
    assert "bicicleta" in smoothed[(0, 1)].content
    assert smoothed[(0, 1)].rank == 1
    assert smoothed[(2, 3)].score > plain[(2, 3)].score
    # A neighbour that does not exist (after the last turn) makes no empty excerpt.
    assert all(h.excerpt for h in smoothed.values())


def test_memories_from_a_named_period_come_first(setup, admin_conn):
    tenant, agent, contact = setup()
    march, june = create_conversation(admin_conn, agent, contact), create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, march, [("user", "Comprei um tênis de corrida azul")],
              at=datetime(2024, 3, 12, 10, tzinfo=UTC))
    add_turns(admin_conn, june, [("user", "Comprei um tênis de corrida vermelho")],
              at=datetime(2024, 6, 20, 10, tzinfo=UTC))
    memory_jobs.index_turns(tenant.org_id, march)
    memory_jobs.index_turns(tenant.org_id, june)
    contact_id = uuid.UUID(contact["id"])

    def first(question, **kw):
        return run(in_org(tenant.org_id, memory.retrieve, contact_id, question, 2, **kw))[0].conversation_id

    assert first("Qual tênis de corrida eu comprei em março de 2024?") == uuid.UUID(march)
    assert first("Which running shoes did I buy in June 2024?") == uuid.UUID(june)
    # Relative periods are anchored at `now`; one week of slack after the period.
    assert first("o tênis de corrida que comprei semana passada",
                 now=datetime(2024, 6, 24, 9, tzinfo=UTC)) == uuid.UUID(june)
    assert first("o tênis de corrida que comprei semana passada",
                 now=datetime(2024, 3, 20, 9, tzinfo=UTC)) == uuid.UUID(march)


def test_the_session_a_question_is_about_lends_its_excerpts_weight(setup, admin_conn):
    # A question about several sessions ("what do I do outdoors?") is phrased nothing like the
    # lines that answer it; the conversation's summary is. Excerpts of the conversations whose
    # summaries are nearest the message are scaled by 1 + session_boost x (1 ... 1/top).
    tenant, agent, contact = setup()
    outdoors, shop = create_conversation(admin_conn, agent, contact), create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, outdoors, [("user", "No sábado levei as crianças pra acampar na serra"),
                                     ("assistant", "Que delícia! Choveu?"),
                                     ("user", "Não, e ainda nadamos na cachoeira")])
    add_turns(admin_conn, shop, [("user", "Quais atividades vocês oferecem na loja para quem faz trilha?"),
                                 ("assistant", "Temos oficinas às quintas.")])
    for conv, said, reply in (
            (outdoors, "acampar na serra", "A cliente contou das atividades ao ar livre: acampar e nadar com os filhos."),
            (shop, "oficinas às quintas", "A cliente perguntou sobre as oficinas da loja.")):
        memory_jobs.index_turns(tenant.org_id, conv)
        FAKE_LLM.script(said, reply)
        assert memory_jobs.summarize(tenant.org_id, conv) is True
    contact_id = uuid.UUID(contact["id"])
    question = "Quais atividades ao ar livre eu faço com meus filhos?"

    def ranked(boost: float):
        config = memory.RetrievalConfig(session_boost=boost, session_top=1)
        hits = run(in_org(tenant.org_id, memory.retrieve, contact_id, question, 5, kinds=("turn",), config=config))
        return {h.conversation_id: h for h in hits}

    plain, boosted = ranked(0.0), ranked(2.0)
    assert set(plain) == set(boosted) == {uuid.UUID(outdoors), uuid.UUID(shop)}
    # Only the nearest summary's conversation is boosted (top 1), by exactly 1 + 2.
    assert boosted[uuid.UUID(outdoors)].score == pytest.approx(3 * plain[uuid.UUID(outdoors)].score)
    assert boosted[uuid.UUID(shop)].score == pytest.approx(plain[uuid.UUID(shop)].score)
    assert boosted[uuid.UUID(outdoors)].rank == 1
    # The ongoing conversation's summary does not steer (its turns are excluded anyway): the
    # nearest other summary does.
    def alone(boost: float):
        config = memory.RetrievalConfig(session_boost=boost, session_top=1)
        return run(in_org(tenant.org_id, memory.retrieve, contact_id, question, 5, kinds=("turn",), config=config,
                          exclude_conversation_id=uuid.UUID(outdoors)))

    (before,), (after,) = alone(0.0), alone(2.0)
    assert before.conversation_id == after.conversation_id == uuid.UUID(shop)
    assert after.score == pytest.approx(3 * before.score)


# --- erasure ------------------------------------------------------------------------------------

def test_erasing_a_contact_removes_history_memories_citations_and_redis_keys(setup, client, admin_conn, stack):
    import redis as sync_redis

    from api.embeddings.cache import CachedEmbedder
    from api.embeddings.service import get_embedder
    from api.memory import scheduling
    tenant, agent, contact = setup()
    other = create_contact(client, tenant, name="Other")
    conv, other_conv = create_conversation(admin_conn, agent, contact), create_conversation(admin_conn, agent, other)
    ids = add_turns(admin_conn, conv, [("user", "Meu CPF termina em 1234"), ("assistant", "Obrigado")])
    add_turns(admin_conn, other_conv, [("user", "Olá")])
    memory_jobs.index_turns(tenant.org_id, conv)
    memory_jobs.index_turns(tenant.org_id, other_conv)
    memory_id = memories(admin_conn, contact["id"], "turn")[0]["id"]
    admin_conn.execute("insert into public.citations (organization_id, message_id, memory_id, score, rank) "
                       "values (%s, %s, %s, 0.9, 1)", [tenant.org_id, ids[1], memory_id])

    app_redis = sync_redis.Redis.from_url(stack["REDIS_URL"])  # the API's Redis database
    cache_key = CachedEmbedder(get_embedder(), app_redis).cache_key("Meu CPF termina em 1234", "query")
    app_redis.set(cache_key, b"\0" * 1536)

    async def push(conversation_id):
        redis = Redis.from_url(stack["REDIS_URL"])
        await short_term.push_turn(redis, tenant.org_id, conversation_id, "user", "x", uuid.uuid4(),
                                   new_conversation=True)
        await redis.aclose()
    for c in (conv, other_conv):
        run(push(c))
        scheduling.record_turn(app_redis, tenant.org_id, c, every_n_turns=10, idle_s=60)
    mine = [k for k in app_redis.keys(f"*{conv}*")] + [cache_key.encode()]
    assert len(mine) == 4  # stm, memq, memn + the cached vector

    resp = client.delete(f"/v1/contacts/{contact['id']}", headers=tenant.headers)
    assert resp.status_code == 204, resp.text
    count = lambda q, p: admin_conn.execute(q, p).fetchone()[0]
    assert count("select count(*) from public.conversations where contact_id = %s", [contact["id"]]) == 0
    assert count("select count(*) from public.conversation_history where contact_id = %s", [contact["id"]]) == 0
    assert count("select count(*) from public.memories where contact_id = %s", [contact["id"]]) == 0
    assert count("select count(*) from public.citations where message_id = any(%s::uuid[])", [ids]) == 0
    wait_for(lambda: app_redis.exists(*mine) == 0, timeout=5, message="Redis keys erased")
    assert len(app_redis.keys(f"*{other_conv}*")) == 3  # the other contact keeps theirs
    assert len(memories(admin_conn, other["id"])) == 1
    app_redis.close()


def test_summary_with_the_local_model(setup, admin_conn):
    """The packaged SmolLM2 through llama.cpp: content is not deterministic, the row is."""
    tenant, agent, contact = setup(model="renum-local")
    conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv, [("user", "I want to book a table for four on Friday at 8 pm."),
                                 ("assistant", "Booked: Friday 8 pm, four people.")])
    assert memory_jobs.summarize(tenant.org_id, conv) is True
    (row,) = memories(admin_conn, contact["id"], "summary")
    assert row["content"].strip()
    assert row["metadata"]["model"] == "renum-local"
    assert row["embedding_dim"] == 384


@pytest.mark.no_stack
@pytest.mark.parametrize("said,expected", [
    ("Please ship it to 9 Oak Hill Road, Unit 12, Denver. my cell is (303) 555-0199",
     {"address": "9 Oak Hill Road, Unit 12, Denver", "phone": "(303) 555-0199"}),
    ("I moved last month, it's 1400 W Alameda Parkway, Lakewood and i love it",
     {"address": "1400 W Alameda Parkway, Lakewood"}),
    ("send it to my sister's place: 77 Pine St., St. Paul", {"address": "77 Pine St., St. Paul"}),
    ("call me at +1 720.555.0123 or 720-555-0124", {"phone": "720-555-0124"}),
    ("we relocated last week. please mail all my future orders to 18 Harbor Road, Astoria",
     {"address": "18 Harbor Road, Astoria"}),
    ("new address is 640 Maple Court #3, Ames", {"address": "640 Maple Court #3, Ames"}),
    # The sentence's full stop is not part of the address; an abbreviation's is.
    ("so from now on please send my orders to 47 Juniper Lane.", {"address": "47 Juniper Lane"}),
    # "send … to" counts right before the address only.
    ("can you send the catalog to my office? never mind, the store at 12 Elm Street is closer", {}),
    # "mixer." is not an abbreviated "R." (Rua) starting an address.
    ("I'd like a stand mixer. Please ship it to 2209 Linden Street, Apt 4, Minneapolis.",
     {"address": "2209 Linden Street, Apt 4, Minneapolis"}),
    ("Meu endereço é R. Grão Mogol, 300, Carmo", {"address": "R. Grão Mogol, 300, Carmo"}),
    # Not the customer's address: no cue before it.
    ("does the store at 300 Main Street open on sunday?", {}),
    ("order 2 more street bikes pls, deliver them friday", {}),
    ("Meu endereço de entrega é Rua das Acácias, 45, bairro Sion, Belo Horizonte. Cel (31) 98877-1020",
     {"address": "Rua das Acácias, 45, bairro Sion, Belo Horizonte", "phone": "(31) 98877-1020"}),
])
def test_us_and_brazilian_contact_details_are_found_by_pattern(said: str, expected: dict) -> None:
    from api.memory.facts import contact_facts
    assert {f.key: f.value for f in contact_facts(said)} == expected


@pytest.mark.no_stack
@pytest.mark.parametrize("said,address,theirs", [
    # Sent to someone else: the address is not the customer's.
    ("queria mandar um kit de presente pra minha mae, da pra entregar?\né Rua das Flores, 12, Petrópolis",
     "Rua das Flores, 12, Petrópolis", False),
    ("entrega na casa da minha vó: Rua Y, 3", "Rua Y, 3", False),
    ("can you ship it to my brother at 55 Elm St?", "55 Elm St", False),
    ("pls ship it to my sister Joy's place so he doesn't find it: 812 Grand Ave", "812 Grand Ave", False),
    ("can you ship it to her place?\n14 Birch Road, Burlington", "14 Birch Road, Burlington", False),
    ("I want to send a one-time box to my friend Tom, he just had surgery. 42 Birch Lane, Evanston",
     "42 Birch Lane, Evanston", False),
    ("um kit pro cachorro da minha sobrinha, endereço dela é Rua Itapecerica, 350", "Rua Itapecerica, 350", False),
    # "ela mora na …" is where the sister lives, not the customer ("moro" would be theirs).
    ("quero mandar uma cesta pra minha irma, ela mora na Rua Sao Sebastiao 77, Colombo",
     "Rua Sao Sebastiao 77, Colombo", False),
    # Bought for someone, or said to be theirs: the customer's.
    ("fralda geriatrica pro meu pai\nmanda pra Rua Azarias Leite, 1-45", "Rua Azarias Leite, 1-45", True),
    ("a bike for my son's birthday\n2217 Leavenworth St", "2217 Leavenworth St", True),
    ("mandei um presente pra minha mãe ontem\nmeu endereço é Rua Nova, 10", "Rua Nova, 10", True),
    ("that's my sister's place, we stayed with her. ours is 4417 Aurora Ave N", "4417 Aurora Ave N", True),
    ("é Rua X, 45, apto 3", "Rua X, 45, apto 3", True),
])
def test_an_address_sent_to_someone_else_is_not_the_customers(said: str, address: str, theirs: bool) -> None:
    from api.memory.facts import for_someone_else
    assert for_someone_else(address, said) is not theirs


@pytest.mark.no_stack
def test_a_gifts_address_and_the_city_written_with_it_are_dropped_and_the_rest_kept() -> None:
    from api.memory.facts import without_others_addresses
    from api.memory.models import ExtractedFact
    said = "oi, moro em Volta Redonda e queria mandar um kit pra minha mae\né Rua das Acácias, 77, Petrópolis\nThiago"
    facts = [ExtractedFact(key="address", value="Rua das Acácias, 77", confidence=1.0),
             ExtractedFact(key="city", value="Petropolis", confidence=1.0),
             ExtractedFact(key="destination", value="Rua das Acácias, 77", confidence=1.0),
             ExtractedFact(key="name", value="Thiago", confidence=1.0)]
    assert [(f.key, f.value) for f in without_others_addresses(facts, said)] == \
        [("destination", "Rua das Acácias, 77"), ("name", "Thiago")]
