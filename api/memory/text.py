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
_PT_LETTERS = re.compile(r"[ãõçâêôáéíóúà]", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


def turn_text(role: str, content: str, speaker: str | None = None) -> str:
    """'Caroline: ...' (the speaker, or Customer/Assistant): a turn as it is embedded."""
    name = speaker or ROLE_LABELS.get(role, role)
    return f"{name}: {content.strip()}"


def fts_config(text: str) -> str:
    """'portuguese', 'english' or 'simple' (undecided): the text-search config of a memory."""
    words = [w.lower() for w in _WORD.findall(text)]
    pt = sum(w in _PT for w in words) + 2 * len(_PT_LETTERS.findall(text))
    en = sum(w in _EN for w in words)
    if pt == en:
        return "simple"
    return "portuguese" if pt > en else "english"


def normalize_value(value: str) -> str:
    """Comparable form of a fact value: 'São Paulo.' == 'sao paulo'."""
    folded = unicodedata.normalize("NFKD", value.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", folded).split())
