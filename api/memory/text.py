"""How memories are written as text: turn lines with their speaker, and their FTS language."""
from __future__ import annotations

import re
import unicodedata

ROLE_LABELS = {"user": "Customer", "assistant": "Assistant"}
# Frequent function words; enough to tell Portuguese from English in a chat line.
_PT = frozenset("de que não nao é e para com uma um os as do da dos das em no na eu você voce meu minha "
                "por mais está esta estou tem ter foi sou seu sua isso obrigado obrigada oi olá ola "
                "quero preciso como quando onde também tambem muito já ja mas se ao pra".split())
_EN = frozenset("the and is are to of you i my it that in for with what was were this have has "
                "do did not be me your we they on at from about hi hello thanks want need how when "
                "where also very already but if can will".split())
# Chat messages are short and often hold no function word ("maple crossing sunday hours?", "whats ur
# phone number pls", "meus pontos do Clube expiram?"): for telling which language to reply in, these
# count too (bench/data_answers questions: 11 of 166 English messages were taken for Portuguese, and
# 6 of 152 Portuguese ones undecided, without them; tests/test_answer_check.py). Memories keep
# the lists above for their FTS configuration, which the retrieval benchmarks measured.
_PT_CHAT = frozenset("meus minhas ou pode quanto quantos qual quais loja frete prazo domingo sábado sabado abre "
                     "vcs vc pq tb tbm obg blz".split())
_EN_CHAT = frozenset("u ur r pls plz thx whats who which why would could should does any our there hours "
                     "number price open sunday saturday order refund ship shipping store".split())
_PT_LETTERS = re.compile(r"[ãõçâêôáéíóúà]", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


def turn_text(role: str, content: str, speaker: str | None = None) -> str:
    """'Caroline: ...' (the speaker, or Customer/Assistant): a turn as it is embedded."""
    name = speaker or ROLE_LABELS.get(role, role)
    return f"{name}: {content.strip()}"


def language(text: str, *, chat: bool = False) -> str | None:
    """'pt', 'en' or None (undecided) by function words and Portuguese letters; `chat` also counts
    the words of short chat messages (_PT_CHAT, _EN_CHAT)."""
    words = [w.lower() for w in _WORD.findall(text)]
    pt_words, en_words = (_PT | _PT_CHAT, _EN | _EN_CHAT) if chat else (_PT, _EN)
    pt = sum(w in pt_words for w in words) + 2 * len(_PT_LETTERS.findall(text))
    en = sum(w in en_words for w in words)
    if pt == en:
        return None
    return "pt" if pt > en else "en"


def fts_config(text: str) -> str:
    """'portuguese', 'english' or 'simple' (undecided): the text-search config of a memory."""
    return {"pt": "portuguese", "en": "english", None: "simple"}[language(text)]


def normalize_value(value: str) -> str:
    """Comparable form of a fact value: 'São Paulo.' == 'sao paulo'."""
    folded = unicodedata.normalize("NFKD", value.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", folded).split())
