"""Scoring of bench/answers.py (pure functions) and the integrity of its hand-written data set."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.answer_metrics import bootstrap_ci, contains, normalize, says_unknown, score, token_f1

DATA = Path(__file__).resolve().parents[1] / "bench" / "data_answers"


def test_normalize_keeps_numbers_and_drops_accents_and_currency():
    assert normalize("R$ 14,90 — até 2 dias ÚTEIS!") == "r 14 90 ate 2 dias uteis"
    assert contains("O frete fica R$14,90 [1].", "14,90")
    assert contains("Em até 2 dias úteis.", "2 dias uteis")
    assert not contains("Em até 12 dias úteis.", "2 dias uteis")  # whole words only
    assert not contains("R$ 114,90", "14,90")


def test_token_f1_is_the_squad_locomo_definition():
    assert token_f1("7 May 2023", "7 May 2023") == 1.0
    assert round(token_f1("She went on 7 May", "7 May 2023"), 3) == round(2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3), 3)
    assert token_f1("nothing alike", "7 May 2023") == 0.0


def test_a_refusal_never_counts_as_a_no():
    assert says_unknown("Desculpe, não sei responder isso.")
    assert says_unknown("I don't know that, sorry.")
    assert says_unknown("Sorry, but I don't have any information about student discounts.")
    assert says_unknown("Não tenho essa informação nos trechos.")
    assert says_unknown("Não tem essa informação.")
    assert not says_unknown("Não, a loja de Contagem fecha aos domingos.")
    assert score("Não, fecha aos domingos.", ["nao"])["contained"]
    assert not score("Não sei informar.", ["nao"])["contained"]


def test_bootstrap_interval_brackets_the_mean():
    mean, low, high = bootstrap_ci([1.0] * 80 + [0.0] * 20)
    assert mean == 0.8
    assert low < 0.8 < high
    assert 0.65 < low
    assert high < 0.95


@pytest.mark.parametrize("language,least", [("pt", (50, 80)), ("en", (50, 80)), ("entune", (45, 70))])
def test_help_center_set_is_the_size_the_issue_asks_and_consistent(language, least):
    passages = {p["id"]: p for p in json.loads((DATA / f"passages_{language}.json").read_text())["passages"]}
    questions = json.loads((DATA / f"questions_{language}.json").read_text())["questions"]
    answerable = [q for q in questions if q["passage"]]
    assert len(passages) >= least[0]
    assert len(answerable) >= least[1]
    assert all(not q["gold"] for q in questions if not q["passage"])
    assert len({q["id"] for q in questions}) == len(questions)
    for q in answerable:
        assert q["passage"] in passages, q["id"]
        assert q["gold"], q["id"]
        # Every gold answer is literally supported by its passage (or is a yes/no).
        text = passages[q["passage"]]["text"] + " " + passages[q["passage"]]["title"]
        assert any(contains(text, g) for g in q["gold"]) or set(q["gold"]) & {"nao", "sim", "no", "yes"}, q["id"]


@pytest.mark.parametrize("path", sorted(DATA.glob("fact_dialogues_*.json")), ids=lambda p: p.stem)
def test_fact_dialogues_are_well_formed(path):
    spec = json.loads(path.read_text())
    assert len(spec["dialogues"]) >= 5
    for d in spec["dialogues"]:
        assert {t["role"] for t in d["turns"]} <= {"user", "assistant"}
        said = " ".join(t["content"] for t in d["turns"] if t["role"] == "user")
        if "fixes" in path.name:
            # Corrections: the right value is assembled from the fix ("Rua Itupava, 1108" from "é 1108
            # e não 1180"), so only some of its words were written together ("Tuesday": "tuesdays").
            assert all(any(contains(said, w) or normalize(w)[:6] in normalize(said) for w in v.replace(",", " ").split())
                       for v in d["expected"]), d["id"]
        else:
            assert all(contains(said, v) for v in d["expected"]), d["id"]
    pairs = spec["supersession"] if isinstance(spec["supersession"], list) else [spec["supersession"]]
    for sup in pairs:
        first = " ".join(t["content"] for t in sup["first"] if t["role"] == "user")
        second = " ".join(t["content"] for t in sup["second"] if t["role"] == "user")
        # "new" == "old" where the customer's own address must not change (an order sent to someone else)
        assert contains(first, sup["old"]) and contains(first + " " + second, sup["new"])
        if sup.get("city_new"):
            assert contains(first, sup["city_old"]) and contains(first + " " + second, sup["city_new"])
