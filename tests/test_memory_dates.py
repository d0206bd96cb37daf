"""Periods named in a customer's message (api/memory/dates.py), English and Portuguese."""
from datetime import UTC, datetime

import pytest

from api.memory.dates import mentioned_periods, time_intent

NOW = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)


def days(text: str) -> list[tuple[str, str]]:
    return [(a.date().isoformat(), b.date().isoformat()) for a, b in mentioned_periods(text, NOW)]


@pytest.mark.parametrize("text, expected", [
    ("What did I order on May 3rd, 2023?", [("2023-05-03", "2023-05-04")]),
    ("the 3rd of June 2024", [("2024-06-03", "2024-06-04")]),
    ("What did Gina find on 1 February, 2023?", [("2023-02-01", "2023-02-02")]),
    ("o que eu comprei em 3 de maio de 2024?", [("2024-05-03", "2024-05-04")]),
    ("fatura de março de 2025", [("2025-03-01", "2025-04-01")]),
    ("How many times did she go to the beach in 2023?", [("2023-01-01", "2024-01-01")]),
    ("pedido 2024-02-29", [("2024-02-29", "2024-03-01")]),
    ("ontem", [("2026-11-25", "2026-11-26")]),
    ("last week", [("2026-11-16", "2026-11-23")]),
    ("no mês passado", [("2026-10-01", "2026-11-01")]),
    ("this year", [("2026-01-01", "2027-01-01")]),
])
def test_dates_and_periods(text, expected):
    assert days(text) == expected


def test_a_month_without_a_year_means_that_month_in_recent_years():
    periods = days("what did we talk about in July?")
    assert periods[0] == ("2026-07-01", "2026-08-01")
    assert periods[1] == ("2025-07-01", "2025-08-01")
    assert len(periods) == 11  # this year and the ten before
    assert days("camping in May")[0] == ("2026-05-01", "2026-06-01")
    assert days("o que comprei em marco?")[0] == ("2026-03-01", "2026-04-01")


@pytest.mark.parametrize("text", [
    "You may go ahead", "I march on", "vamos ao mar azul", "dez reais", "sign out", "two days ago",
    "nota de dez reais", "chego em dez minutos", "nadar em mar aberto", "in out of stock", "jan and I",
    "foi um marco na minha vida",
    "order 12/05/2023",  # day/month or month/day: ambiguous, ignored
    "on 2023-02-30", "my number is 2023 4567",
])
def test_words_that_look_like_dates_are_not_periods(text):
    assert days(text) == []


def test_several_periods_in_order_without_duplicates():
    assert days("between March 3, 2024 and April 2024, or March 3, 2024") == [
        ("2024-03-03", "2024-03-04"), ("2024-04-01", "2024-05-01")]


def test_days_start_at_midnight_in_the_agents_time_zone():
    from zoneinfo import ZoneInfo
    sao_paulo = ZoneInfo("America/Sao_Paulo")
    late_evening = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)  # 25 Nov, 22:30 in São Paulo
    [(start, end)] = mentioned_periods("ontem", late_evening, tz=sao_paulo)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (datetime(2026, 11, 24, 3, tzinfo=UTC),
                                                            datetime(2026, 11, 25, 3, tzinfo=UTC))
    [(start, _)] = mentioned_periods("em 3 de maio de 2024", late_evening, tz=sao_paulo)
    assert start.astimezone(UTC) == datetime(2024, 5, 3, 3, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    # "before"/"antes de" is the time before the period, not the period: the month of a change
    # must not be favoured when the customer asks about the value before it.
    ("onde eu morava antes de julho de 2026?", [("1970-01-01", "2026-07-01")]),
    ("what was my plan before 3 May 2025?", [("1970-01-01", "2025-05-03")]),
    ("o que eu pedi até março de 2026", [("1970-01-01", "2026-04-01")]),
    ("everything since June 2025", [("2025-06-01", "9999-01-01")]),
    ("depois de agosto de 2026", [("2026-08-01", "9999-01-01")]),
    ("em julho de 2026", [("2026-07-01", "2026-08-01")]),
])
def test_before_until_and_after_open_the_period(text, expected):
    assert days(text) == expected


@pytest.mark.parametrize("text, intent", [
    ("qual é o meu endereço de entrega?", "current"),
    ("como eu pago os pedidos?", "current"),
    ("what is my delivery address?", "current"),
    ("How old is Caroline?", "event"),  # not about the customer
    ("What is Caroline's identity?", "event"),
    ("qual era meu endereço antes?", "previous"),
    ("qual plano eu tinha antes?", "previous"),
    ("what was my old phone number?", "previous"),
    ("how did I pay before?", "previous"),
    ("When did Caroline go to the support group?", "event"),
    ("quais produtos eu já comprei com vocês?", "event"),
    # Impersonal questions to an agent are about the customer's own account; naming someone or
    # a third-person pronoun is not.
    ("pra qual e-mail vão as notas fiscais?", "current"),
    ("which e-mail do the invoices go to?", "current"),
    ("qual era o e-mail das notas antes?", "previous"),
    ("What does Melanie do?", "event"),
    ("Where does she live?", "event"),
    ("onde ela mora?", "event"),
])
def test_time_intent(text, intent):
    assert time_intent(text) == intent
