"""Messages that ask nothing: greetings, thanks, acknowledgements, farewells.

"oi", "obrigado!", "blz", "Thanks a lot!" are most of a WhatsApp conversation's first and last
messages. Searched like questions, they brought three unrelated knowledge excerpts into the prompt:
the local model then answered "perfeito 👍" with "Entrega expressa no mesmo dia." and "blz" with the
privacy policy, and the answer check (api/chat/grounding.py), asked whether the excerpts answer the
message, said no for 8 of 40 such messages at the shipped threshold, so "oi" and "boa noite" got
"Não encontrei essa informação aqui" and a channel handed the conversation to a person
(BENCHMARKS.md, "Messages that ask nothing"). A message made only of such words gets no knowledge
excerpts and no remembered turns (a returning customer's "blz" was answered with a line of an old
conversation): nothing to cite, nothing for the check to judge.

Deliberately narrow: a message is small talk only when *every* word is in the vocabulary below
(or is laughter), it has no digits (an order number, a date, a price is information) and it is
short. "Boa noite, vocês abrem amanhã?" has "abrem" and "amanha": a question, searched as always.
Words that make a question of the others are left out even where they could be small talk ("how"
in "how are you" and "how much", "como" in "como vai" and "como assim?").
"""
from __future__ import annotations

import re

from api.memory.text import normalize_value

MAX_WORDS = 12

# Portuguese and English, without accents (matching is on normalized words; repeated letters are
# collapsed on both sides, so "oii", "obrigadoo" and "valeuuu" match). Function words are here only
# so that they do not disqualify a phrase made of the rest ("muito obrigada pela ajuda").
_WORDS = """
oi ola oie opa eai ae salve alo bom boa dia dias tarde noite tudo bem td bm vai voce vc vcs voces
beleza blz tranquilo tranquila suave joia firmeza certinho certo entendi entendido entendo compreendi
obrigado obrigada obrigadao obg obgd brigado brigada brigadao valeu vlw agradeco agradecido agradecida
grato grata muito muita muitissimo mto mt pela pelo por ajuda atencao atendimento ajudou resolveu
resolvido ok okay okey oks ta tah ah ahh ata hm hmm uhum aham sim claro pode ser isso mesmo exatamente
combinado perfeito perfeita otimo otima show legal massa top bacana maravilha excelente demais incrivel
adorei amei gostei parabens sao e eh o a os as um uma que de do da no na era so nada mais nao precisa
preciso tchau ate logo breve mais falou flw abraco abracos abs bjs beijo beijos fui entao vou vamos
esperar aguardar aguardo aguardando fico tentar ver fazer ne neh tambem
hi hello hey hiya there good morning afternoon evening night day thanks thank you thx ty tks much so
lot great ok got it sure cool perfect fine nice awesome alright understood yes yeah yep no nope nothing
else all for help helps helped that thats s i ill will wait try bye goodbye see later cheers have
are doing am well kind appreciate appreciated really very the
"""
_LAUGH = re.compile(r"(k|(ha)+h?|(he)+h?|(hi)+h?|(rs)+|lol)")


def _collapse(word: str) -> str:
    return re.sub(r"(.)\1+", r"\1", word)


_VOCABULARY = frozenset(_collapse(w) for w in _WORDS.split())


def _words(message: str) -> list[str] | None:
    """The message's words, normalized; None when it holds a digit."""
    text = normalize_value(message)
    if any(ch.isdigit() for ch in text):
        return None
    return [_collapse(w) for w in re.findall(r"[^\W\d_]+", text)]


def asks_nothing(message: str) -> bool:
    """Whether the message is only a greeting, thanks, an acknowledgement or a farewell (or only
    emoji and punctuation): no knowledge excerpt can answer it."""
    words = _words(message)
    if words is None or len(words) > MAX_WORDS:
        return False
    return all(w in _VOCABULARY or _LAUGH.fullmatch(w) for w in words)
