"""api/chat/small_talk.py: which messages ask nothing (and so get no knowledge excerpts)."""
from __future__ import annotations

import pytest

from api.chat.small_talk import asks_nothing


@pytest.mark.parametrize("message", [
    "oi", "Oiii", "Olá, boa tarde!", "bom dia, tudo bem?", "oii, td bem?", "obrigado!", "Obrigadaaa!!",
    "valeu, ajudou muito", "muito obrigada pela ajuda!", "show, brigadão", "obg", "ok", "blz", "ah tá",
    "entendi, vou fazer isso então", "beleza, vou esperar então", "combinado", "tá bom", "hmm ok",
    "perfeito 👍", "👍", "🙏🙏", "kkkkk", "hahaha", "rsrs", "vocês são demais kkkk", "que bom, adorei o atendimento",
    "não, era só isso mesmo", "não preciso de mais nada, obrigado", "tchau, boa noite", "até mais!",
    "Hi there", "Hello!", "Thanks a lot!", "Thank you, that helps.", "Got it, thanks!", "Great, that's all. Bye!",
    "No, thank you.", "Awesome, thanks for the help, I really appreciate it.",
])
def test_greetings_thanks_acknowledgements_and_farewells_ask_nothing(message):
    assert asks_nothing(message)


@pytest.mark.parametrize("message", [
    # questions and requests, however short or polite
    "Vocês vendem meias?", "Boa noite, vocês abrem amanhã?", "ok, e o frete?", "quero trocar", "pix?",
    "obrigado! e o prazo de entrega?", "como assim?", "Fine, how much?", "how are you open on sundays?",
    "tem desconto?", "Qual o whats de vcs?", "Do you ship to Portugal?",
    # details the customer gives: information, not small talk
    "o número do pedido é 48213", "pedido 90317", "é o 77120", "meu nome é Carla Souza", "meu CEP é 30130-000",
    # long messages are never small talk, whatever their words
    " ".join(["obrigado"] * 13),
])
def test_questions_requests_and_details_are_searched(message):
    assert not asks_nothing(message)
