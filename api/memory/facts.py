"""Parse the fact list a (possibly tiny) model wrote for prompts/extract_facts.j2.

Small local models wrap JSON in prose or code fences, use single quotes, leave trailing
commas, return one object instead of a list, or {"facts": [...]}. We accept all of those
and drop anything that is not a usable {key, value, confidence}; unparseable output means
"no facts", logged, never an exception that would make the task retry forever.
"""
from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from difflib import SequenceMatcher
from typing import Any

from api.memory.models import ExtractedFact
from api.memory.text import normalize_value

log = logging.getLogger(__name__)
MAX_FACTS = 20
MAX_VALUE_CHARS = 500
DEFAULT_CONFIDENCE = 0.7
_EMPTY_VALUES = {"", "none", "null", "unknown", "n/a", "na", "-", "desconhecido", "nenhum"}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


# Names models give the contact details that have a fixed key here (contact_facts, below), so a
# new address supersedes the old one whatever the model called either.
KEY_ALIASES = {
    "endereco": "address", "endereco_de_entrega": "address", "endereco_entrega": "address",
    "delivery_address": "address", "shipping_address": "address", "home_address": "address",
    "street_address": "address", "customer_address": "address",
    "telefone": "phone", "celular": "phone", "phone_number": "phone", "mobile": "phone",
    "mobile_phone": "phone", "contact_phone": "phone", "numero_de_telefone": "phone",
    "e_mail": "email", "email_address": "email", "contact_email": "email",
    "cep": "postal_code", "zip": "postal_code", "zip_code": "postal_code", "postcode": "postal_code",
}


def normalize_key(key: str) -> str:
    """'Preferred Contact-Time' -> 'preferred_contact_time'; accents dropped, 64 chars max;
    known names of contact details -> their fixed key ('Endereço' -> 'address')."""
    folded = unicodedata.normalize("NFKD", key.strip().lower())
    ascii_key = "".join(c for c in folded if not unicodedata.combining(c))
    normalized = re.sub(r"[^a-z0-9]+", "_", ascii_key).strip("_")[:64]
    return KEY_ALIASES.get(normalized, normalized)


def _loads(text: str) -> Any:
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    # Python-style dicts ('key': 'city') from models imitating repr().
    fixed = _TRAILING_COMMA.sub(r"\1", re.sub(r"'([^'\\]*)'", r'"\1"', text))
    try:
        return json.loads(fixed)
    except json.JSONDecodeError:
        return None


def _candidates(raw: str) -> list[Any]:
    text = raw.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    start, end = text.find("["), text.rfind("]")
    if start >= 0 and end > start:
        parsed = _loads(text[start:end + 1])
        if isinstance(parsed, list):
            return parsed
    parsed = _loads(text)
    if isinstance(parsed, dict):
        inner = next((v for v in parsed.values() if isinstance(v, list)), None)
        return inner if inner is not None else [parsed]
    if isinstance(parsed, list):
        return parsed
    # Last resort: every flat {...} object in the text (a list broken somewhere in between).
    return [obj for m in _OBJECT.finditer(text) if isinstance(obj := _loads(m.group(0)), dict)]


def _fact(item: Any) -> ExtractedFact | None:
    if not isinstance(item, dict):
        return None
    key = normalize_key(str(item.get("key") or item.get("name") or ""))
    value = item.get("value")
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    value = "" if value is None or isinstance(value, dict) else str(value).strip()
    if not key or value.casefold() in _EMPTY_VALUES:
        return None
    try:
        confidence = float(item.get("confidence", DEFAULT_CONFIDENCE))
    except (TypeError, ValueError):
        confidence = DEFAULT_CONFIDENCE
    if math.isnan(confidence):
        confidence = DEFAULT_CONFIDENCE
    return ExtractedFact(key=key, value=value[:MAX_VALUE_CHARS], confidence=min(max(confidence, 0.0), 1.0))


def parse_facts(raw: str) -> list[ExtractedFact]:
    """Facts from model output, one per key (the most confident), at most MAX_FACTS."""
    by_key: dict[str, ExtractedFact] = {}
    for item in _candidates(raw or ""):
        fact = _fact(item)
        if fact and (fact.key not in by_key or fact.confidence > by_key[fact.key].confidence):
            by_key[fact.key] = fact
    if raw and raw.strip() and not by_key and raw.strip() not in ("[]", "{}"):
        log.info("fact extraction output had no usable facts: %.200r", raw)
    return list(by_key.values())[:MAX_FACTS]


_WORD = re.compile(r"[0-9a-z]+(?:[.@:,/-][0-9a-z]+)*")
# Words that say nothing on their own: a value must share a meaningful word with what the customer wrote.
_FILLER = {"the", "and", "for", "with", "que", "com", "para", "pra", "por", "dos", "das", "nao", "not", "sim", "yes"}


def _words(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    words = set()
    for token in _WORD.findall(plain):
        words.add(token)
        words.update(w for w in re.split(r"[.@:,/-]", token) if w)
    return {w for w in words if (len(w) >= 3 or any(c.isdigit() for c in w)) and w not in _FILLER}


def grounded(fact: ExtractedFact, customer_text: str) -> bool:
    """Whether the customer actually wrote the fact's value: at least half of its meaningful words
    (accents and case folded; a shared 4-letter stem counts, so "preto"/"preta" match) appear in
    the customer's own turns. Small models fill keys they were shown with invented or placeholder
    values ("Rua dos Bobos, 123", "não especificado", a time zone nobody mentioned); those go."""
    value, said = _words(fact.value), _words(customer_text)
    if not value:
        return False
    stems = {w[:4] for w in said if len(w) >= 4 and not w.isdigit()}
    found = sum(1 for w in value if w in said or (len(w) >= 4 and not w.isdigit() and w[:4] in stems))
    return found * 2 >= len(value)


# A contact detail must look like one: the model files a neighbourhood under "phone" ("phone: Funcionarios").
_SHAPES = {"phone": lambda v: sum(c.isdigit() for c in v) >= 7, "email": lambda v: "@" in v,
           "postal_code": lambda v: any(c.isdigit() for c in v)}


def plausible(fact: ExtractedFact) -> bool:
    """Whether a phone, e-mail or postal code value has that shape (other keys: always)."""
    shape = _SHAPES.get(fact.key)
    return shape is None or shape(fact.value)


def fact_text(fact: ExtractedFact) -> str:
    """What a fact memory says (and what is embedded): 'preferred contact time: mornings'."""
    return f"{fact.key.replace('_', ' ')}: {fact.value}"


# Contact details customers type in a regular shape, found by pattern in their own words whatever
# the model returned: the packaged 1.5B model returns [] for some conversations that state an
# address (BENCHMARKS.md), and then a changed address is never superseded. The last one the
# customer wrote wins ("morava na Rua A, agora é Rua B"); one fact per key.
# \b: "mixer. Please ship it to …" is not "R. Please …" (an abbreviated Rua).
_STREET = (r"\b(?:rua|r\.|avenida|av\.?|travessa|tv\.|alameda|al\.|pra[cç]a|estrada|rodovia|rod\.|"
           r"street|st\.|avenue|ave\.|road|rd\.)")
# A US address puts the number first: "2209 Linden Street, Apt 4, Minneapolis", "812 Grand Ave, St. Paul"
# (the English fact dialogues got no address fact at all without it: BENCHMARKS.md, "English fact extraction").
# Only an abbreviation takes a full stop: "77 Pine St., St. Paul", but "…send my orders to 47 Ferngrove
# Lane." ends the sentence there.
_US_ADDRESS = (r"\b\d{1,6}\s+(?:(?!(?:is|was|his|her|my|our|the|a|an|at|in|on|old|new|to|of|and|or)\b)"
               r"[^\W\d][\w'-]*\s+){1,3}(?:(?:street|avenue|road|lane|boulevard|drive|court|place|"
               r"way|parkway|circle|terrace|highway)\b|(?:st|ave|rd|ln|blvd|dr|ct|pl|pkwy|cir|hwy)\b\.?)"
               r"(?:,?\s*(?:apt|apartment|unit|suite|ste|#)\.?\s*#?\w+)?"
               r"(?:,\s*(?-i:(?:St\.\s*)?[A-Z][\w'-]*(?:\s[A-Z][\w'-]*){0,2}))?")  # a capitalized city
CONTACT_PATTERNS = {
    # "Rua das Acácias, 45, bairro Sion, Belo Horizonte": the street, its number, the rest of the clause.
    "address": re.compile(_STREET + r"\s+(?:[^\W\d]|\d{1,2}\s+de\s+)[^\n,.;!?]{1,60}?,?\s*(?:n[º°o.]?\s*)?\d{1,5}\b"
                          r"[^\n.;!?]{0,80}|" + _US_ADDRESS, re.IGNORECASE),
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    # Brazilian numbers with a separator or a country/area code: (31) 98877-1020, +55 31 98877 1020.
    # US numbers with separators: 651-555-0147, (651) 555-0147, +1 651.555.0147.
    "phone": re.compile(r"(?:\+55\s?)?\(?\b\d{2}\)?\s?9?\d{4}[-\s]\d{4}\b|\+55\s?\d{10,11}\b|"
                        r"(?:\+1[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[-.\s]\d{4}\b"),
    "postal_code": re.compile(r"\b\d{5}-\d{3}\b"),
}
CONTACT_CONFIDENCE = 0.95
# An address is the customer's only when they say so just before it ("meu endereço é", "moro na",
# "entrega na", "mudei para"): "a loja da Rua Pernambuco, 1120 abre sábado?" is not their address.
_MY_HOME_PT = r"(?:meu|minha|nosso|nossa)\s+(?:nov[oa]\s+)?(?:endere[cç]o|casa|apartamento|apto)"
_OWN_ADDRESS = re.compile(_MY_HOME_PT + r"|"
                          r"\bmor[oa]\b|\bmoramos\b|\bmudei\b|\bmudamos\b|\bentreg|\benvi[ae]|\bmand[ae]|"
                          r"my (?:new )?(?:address|home|place|apartment|apt)|i live|\bmoved\b|\brelocated\b|deliver|"
                          r"new (?:address|place|home) is|ship (?:it )?to|\bsend (?:it |them )?(?:over )?to\b|"
                          # "send my orders to 47 Ferngrove Lane": right before the address only ("send the
                          # catalog to my office? the store at 12 Elm Street…" is not theirs)
                          r"\b(?:ship|send|mail)\s+(?:[\w']+\s+){1,3}to\s*$|"
                          # a correction that gives the whole address again: "o certo é Rua …", "ours is 4410 …"
                          r"\bo\s+cert[oa]\s+[ée]\b|\bcorrigindo\b|\bna\s+(?:verdade|real)\b|\bn[aã]o\s+(?:rua|avenida|av)\b|"
                          r"\b(?:ours|mine)\s+is\b|\bshould\s+be\b|\bi\s+meant\b|\bcorrection\b|"
                          # "address is 415 Greenwood Ave", "endereço: Rua X, 12" (not "o endereço da loja é")
                          r"\baddress(?:\s+is|\s*:)|\bendere[cç]o(?:\s+[ée]|\s*:)|"
                          r"\b(?:i'?m|we'?re|i\s+am|we\s+are)\s+at\b|\b(?:t[oô]|estou|fico)\s+n[ao]\b", re.IGNORECASE)


def contact_facts(customer_text: str) -> list[ExtractedFact]:
    """Address, e-mail, phone and CEP as the customer last wrote them."""
    found = []
    text = customer_text or ""
    for key, pattern in CONTACT_PATTERNS.items():
        matches = [m.group(0).strip(" ,") for m in pattern.finditer(text)
                   if key != "address" or _OWN_ADDRESS.search(_clause_before(text, m.start()))]
        if matches:
            found.append(ExtractedFact(key=key, value=matches[-1][:MAX_VALUE_CHARS], confidence=CONTACT_CONFIDENCE))
    return found


def _clause_before(text: str, start: int) -> str:
    """The words before `start` in the same message line, at most 80 characters ("Mudei de casa.
    Agora é Rua B" keeps its cue from the sentence before)."""
    return text[max(0, start - 80):start].split("\n")[-1]


# Someone else's address: a gift or an order for a relative ("queria mandar um kit pra minha mae" … "é Rua
# das Acácias, 77, Petrópolis"; "can you ship it to her place?" … "14 Birch Hollow Rd"). The model takes it
# for the customer's, and it would then supersede their own (BENCHMARKS.md, "Someone else's address").
_RELATIVES_PT = (r"m[aã]e|pai|v[oóô]|av[oóô]|irm[aã]o?|tia|tio|prim[ao]|sobrinh[ao]|filh[ao]|amig[ao]|namorad[ao]|"
                 r"esposa|marido|sogr[ao]|chefe|colega|afilhad[ao]|madrinha|padrinho|cunhad[ao]|entead[ao]|"
                 r"net[ao]|vizinh[ao]")
_RELATIVES_EN = (r"mom|mother|mum|dad|father|grandma|grandmother|grandpa|grandfather|nana|sister|brother|aunt|"
                 r"uncle|niece|nephew|cousin|daughter|son|friend|boss|coworker|co-worker|colleague|wife|husband|"
                 r"girlfriend|boyfriend|partner|in-laws?|neighbou?r|grandson|granddaughter|kids?")
# Sent to them, not bought for them: "mandar um kit de presente pra minha mae", "casa da minha vó", "ship it
# to my niece", "her place", "my sister's place"; but not "fralda geriátrica pro meu pai" or "a bike for my
# son's birthday" (the customer's own address often follows those).
_KIN = r"(?:minha|meu|nossa|nosso|sua|seu)\s+(?:" + _RELATIVES_PT + r")\b"
_KIN_EN = r"(?:my|our)\s+(?:" + _RELATIVES_EN + r")\b"
_SOMEONE_ELSE = re.compile(
    r"\b(?:mand|envi|entreg|despach)\w*\s+(?:[\w']+\s+){0,5}?(?:pra|para|pro|p/)\s+(?:a\s+|o\s+)?" + _KIN + "|"
    r"\b(?:casa|endere[cç]o|apartamento|apto|trabalho|escrit[oó]rio)\s+d[ao]\s+" + _KIN + "|"
    r"\b(?:ship|send|deliver|mail)\w*\s+(?:[\w'-]+\s+){0,4}?to\s+" + _KIN_EN + "|"
    + _KIN_EN + r"(?:\s+[A-Z][\w-]*)?(?:'s)?\s+(?:place|house|home|address|apartment|apt|office)\b|"
    r"\b(?:her|his|their)\s+(?:place|house|home|address|apartment|apt|office)\b|"
    r"\b(?:casa|endere[cç]o|apartamento|apto)\s+(?:dela|dele|delas|deles)\b",
    re.IGNORECASE)
# …unless the customer says, in the line before the address, that it is theirs.
_MINE = re.compile(r"\b" + _MY_HOME_PT + r"\b|"
                   r"\bmoro\b|\bmoramos\b|\bmudei\b|\bmudamos\b|"
                   r"\bmy\s+(?:new\s+|own\s+)?(?:address|home|place|apartment|apt)\b|\b(?:i|we)\s+live\b|\bmoved\b|"
                   r"\brelocated\b|\b(?:ours|mine)\s+is\b", re.IGNORECASE)
_PLACE_KEYS = ("city", "postal_code")


def _address_start(value: str, text: str) -> int:
    """Where the customer wrote this address: the value itself, else its first word of 4+ letters
    (the street's name: the model may have reformatted the rest); -1 when not found."""
    lowered = text.lower()  # not casefold(): "ß" -> "ss" would shift the offsets into `text`
    found = lowered.find(value.lower().strip())
    if found >= 0:
        return found
    for word in re.findall(r"[^\W\d_]{4,}", value):
        if word.lower() not in ("rua", "avenida", "street", "avenue", "road", "lane", "drive"):
            hit = re.search(rf"\b{re.escape(word.lower())}\b", lowered)
            if hit:
                return hit.start()
    return -1


def _given_for_someone_else(address: str, customer_text: str) -> int:
    """Where the customer wrote an address they gave for someone else (a relative or friend named in
    the same line before it or in the line before that, and nothing in its own line before it saying
    it is theirs); -1 when it is theirs or not found."""
    start = _address_start(address, customer_text)
    if start < 0:
        return -1
    before = customer_text[:start].split("\n")
    own_line, previous = before[-1], (before[-2] if len(before) > 1 else "")
    someone_else = _SOMEONE_ELSE.search(previous + "\n" + own_line) and not _MINE.search(own_line)
    return start if someone_else else -1


def for_someone_else(address: str, customer_text: str) -> bool:
    """Whether the customer gave this address for someone else (see _given_for_someone_else)."""
    return _given_for_someone_else(address, customer_text or "") >= 0


def without_others_addresses(facts: list[ExtractedFact], customer_text: str) -> list[ExtractedFact]:
    """Drop an address given for someone else, and a city or postal code written with it (in the
    address or in the rest of its line: "é Rua das Acácias, 77, Petrópolis")."""
    text = customer_text or ""
    starts = {f.value: start for f in facts
              if f.key == "address" and (start := _given_for_someone_else(f.value, text)) >= 0}
    if not starts:
        return facts
    written = [text[start:].partition("\n")[0] for start in starts.values()]  # the rest of the address's line
    spans = [f" {normalize_value(span)} " for span in [*starts, *written]]
    return [f for f in facts if not (f.key == "address" and f.value in starts)
            and not (f.key in _PLACE_KEYS and any(f" {normalize_value(f.value)} " in span for span in spans))]


# Corrections: the customer fixes part of their own address, phone or name and writes only the part that changes
# ("o numero é 1470 e nao 1740", "ours is 14B not 14D", "it's Linden Ave, not Linden St", "the house number
# on my account is wrong, it's 2761", "é Sousa com S, nao Souza com Z", "termina em 45, nao 54"). The address
# pattern takes the last full address, the wrong one, and the model cannot write a value the customer never
# typed whole; so the fix is applied here to this conversation's address, or to the one on file when the
# conversation gives none. An address given for someone else and corrected is still dropped afterwards.
_NEGATION = re.compile(r"\b(?:e\s+)?(?:n[aã]o|not|instead\s+of|em\s+vez\s+de|no\s+lugar\s+de)\s+", re.IGNORECASE)
_TOKENS = re.compile(r"[^\W_][\w-]*")
_STREET_TYPES = {"rua", "r", "avenida", "av", "travessa", "tv", "alameda", "al", "estrada", "rodovia", "street", "st",
                 "avenue", "ave", "road", "rd", "lane", "ln", "drive", "dr", "court", "ct", "place", "pl",
                 "boulevard", "blvd", "way", "terrace", "circle"}
_NOT_THE_ADDRESS = re.compile(r"\b(?:pedido|order|cart[aã]o|card|telefone|phone|cel(?:ular)?|whats\w*|cpf|protocolo|"
                              r"nota|invoice)\b", re.IGNORECASE)
# "the house number on my account is wrong", "o numero do meu endereço ta errado": said of the address
_NUMBER_WRONG = re.compile(r"\b(?:n[uú]mero|number|endere[cç]o|address)\b[^\n]{0,60}?\b(?:errad|wrong|incorrect|trocad|invertid)|"
                           r"\b(?:errei|errad\w*|erro|wrong|mistake|typo)\b[^\n]{0,60}?\b(?:n[uú]mero|number)\b",
                           re.IGNORECASE)
_ADDRESS_WORDS = re.compile(r"\b(?:endere[cç]o|address|casa|house|rua|street|cadastro|account|on\s+file|pr[eé]dio)\b",
                            re.IGNORECASE)
_NEW_NUMBER = re.compile(r"(?:\b[ée]|\beh|\bis|\bit'?s|\bit\s+is|\bser|\bsão|\bshould\s+be|\bdeveria\s+ser|:)\s+"
                         r"(?:o\s+|the\s+)?(?:n[uú]mero\s+|number\s+)?(\d{1,5}[a-z]?)\b(?!\s*(?:-|\d))", re.IGNORECASE)
# The unit: "apto 91", "ap 1304", "Apt 4C", "unit 6", "casa 2".
_UNIT = (r"\b(?:apto?|ap|apartamento|apartment|apt|unit|suite|flat|casa)\b\.?")
_UNIT_IN_ADDRESS = re.compile(_UNIT + r"\s*#?\s*(\d{1,4}[a-z]?|[a-z]\d{0,3})\b", re.IGNORECASE)
# "o apto é 19", "wrong unit, it's 4G", "é casa 2": a unit said to be one (the bare "apto 68" of the address
# as first written is not).
_IS = r"(?:[ée]|is|it'?s|should\s+be)\s+"
_UNIT_STATED = re.compile(_UNIT + r"\s*,?\s*" + _IS + r"(?:o\s+|the\s+)?#?(\d{1,4}[a-z]?)\b|"
                          r"\b" + _IS + r"(?:o\s+|a\s+|the\s+)?" + _UNIT + r"\s*#?(\d{1,4}[a-z]?)\b", re.IGNORECASE)
# A line about spelling: "ta escrito errado", "spelled wrong", "com S", "no p", "typo", "digitei errado".
_SPELLING = re.compile(r"escrit[oa]\s+errad|\bescreve|grafia|spell|autocorrect|corretor|"
                       r"\b(?:com|sem)\s+(?-i:[a-zA-Z])\b|\b(?:with|no)\s+(?:an?\s+)?(?-i:[a-zA-Z])\b|typo|digitei",
                       re.IGNORECASE)
_PHONE_FIX = re.compile(r"\b(?:termina\w*|final|ends?|ending|last\s+(?:\w+\s+)?digits?)\s+"
                        r"(?:[ée]\s+|em\s+|in\s+|with\s+|com\s+|are\s+|is\s+)?(\d{2,4})\b"
                        r"(?:\s*,?\s*(?:e\s+)?(?:n[aã]o|not)\s+(?:em\s+|in\s+)?(\d{2,4})\b)?", re.IGNORECASE)
# Without the wrong digits, a line that says it corrects: "na real o final é 6230" (not "cartao final 9012").
_FIXING = re.compile(r"\bna\s+(?:real|verdade|vdd)\b|actually|errad|errei|wrong|corrig|troquei|confund|\bmix|typo|"
                     r"sorry|my\s+bad|foi\s+mal|\bopa\b|oops", re.IGNORECASE)
_NOT_THE_PHONE = re.compile(r"cart[aã]o|card|pedido|order|cpf|pix|cep|zip", re.IGNORECASE)


def _swappable(new: str, old: str) -> bool:
    """Whether `new` can stand for `old` in an address: both numbers/codes ("1470"/"1740", "14B"/"14D"),
    both street types ("Ave"/"St"), or spellings of one name ("Linden Ave"/"Linden St")."""
    a, b = new.casefold(), old.casefold()
    if a == b:
        return False
    if any(c.isdigit() for c in a) and any(c.isdigit() for c in b):
        return len(b) >= 2
    if a in _STREET_TYPES and b in _STREET_TYPES:
        return True
    return not any(c.isdigit() for c in a + b) and SequenceMatcher(None, a, b).ratio() >= 0.6


def _replace_word(value: str, old: str, new: str) -> str | None:
    hit = re.search(rf"(?<![\w-]){re.escape(old)}(?![\w-])", value, re.IGNORECASE)
    return value[:hit.start()] + new + value[hit.end():] if hit else None


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the line holding text[start:end] starts and ends (one message per line)."""
    line_end = text.find("\n", end)
    return text.rfind("\n", 0, start) + 1, line_end if line_end >= 0 else len(text)


def _spliced(value: str, part: re.Match, new: str) -> str:
    """`value` with the first group of `part` (a match in `value`) replaced by `new`."""
    return value[:part.start(1)] + new + value[part.end(1):]


def _swapped(value: str, text: str) -> str:
    """"X e não Y" / "X not Y" where Y is part of the address: Y becomes X (two words first)."""
    for negation in _NEGATION.finditer(text):
        line_start, line_end = _line_bounds(text, negation.start(), negation.end())
        before = _TOKENS.findall(text[line_start:negation.start()])
        after = _TOKENS.findall(text[negation.end():line_end])
        for k in (2, 1):
            if len(before) < k or len(after) < k:
                continue
            new, old = " ".join(before[-k:]), " ".join(after[:k])
            if _swappable(new, old) and (fixed := _replace_word(value, old, new)) is not None:
                value = fixed
                break
        else:  # "é Avenida Sete de Setembro, nao rua": the street type said a few words before
            old = after[0].casefold() if after else ""
            new = next((w for w in reversed(before[-6:]) if w.casefold() in _STREET_TYPES), None)
            if old in _STREET_TYPES and new and new.casefold() != old:
                value = _replace_word(value, after[0], new) or value
    return value


def _permuted(value: str, text: str) -> str:
    """"troquei os numeros, é 1108", "o apto é 19. digitei invertido": a number given after the address with
    the same digits as its house number or unit, in another order, is the right one."""
    for said in _NEW_NUMBER.finditer(text):
        number = said.group(1)
        for part in (_house_number(value), _UNIT_IN_ADDRESS.search(value)):
            if part and part.group(1) != number and sorted(part.group(1).casefold()) == sorted(number.casefold()):
                value = _spliced(value, part, number)
                break
    return value


def _reunited(value: str, text: str) -> str:
    """"wrong unit, it's 4G", "o apto é 203": a unit stated after the address replaces the address's unit."""
    unit = _UNIT_IN_ADDRESS.search(value)
    # the address's own unit, written in the text too, is not a correction of it
    stated = [n for m in _UNIT_STATED.finditer(text)
              if unit and (n := m.group(1) or m.group(2)).casefold() != unit.group(1).casefold()]
    if unit and stated:
        value = _spliced(value, unit, stated[-1])
    return value


def _house_number(value: str) -> re.Match | None:
    """The house number: first in a US address ("2716 Fairmount Ave"), after the street in a Brazilian one."""
    return re.match(r"\s*(\d{1,6})\b", value) or re.search(r",\s*(?:n[º°o.]?\s*)?(\d{1,5})\b", value)


def _renumbered(value: str, text: str) -> str:
    """"The house number on my account is wrong … it's 2761": the number after that, in that line or a later one."""
    for cue in _NUMBER_WRONG.finditer(text):
        line = text[slice(*_line_bounds(text, cue.start(), cue.end()))]
        if not _ADDRESS_WORDS.search(line) or _NOT_THE_ADDRESS.search(line):
            continue
        # in this line or the next two ("pera q vou olhar na conta de luz" … "achei, é 1397")
        window = text[:cue.start()] + "\n".join(text[cue.start():].split("\n")[:3])
        number, house = _NEW_NUMBER.search(window, cue.start()), _house_number(value)
        if number and house:
            value = _spliced(value, house, number.group(1))
    return value


def _respelled(value: str, text: str, similar: float = 0.8) -> str:
    """"ta escrito errado … é Sousa com S": a capitalized word of a correcting line that is a near spelling of
    a word of the address (or name) replaces it."""
    words = re.findall(r"[^\W\d_]{4,}", value)
    for line in text.split("\n"):
        if not _SPELLING.search(line):
            continue
        for candidate in re.findall(r"\b[A-ZÀ-Ý][^\W\d_]{3,}", line):
            for word in words:
                ratio = SequenceMatcher(None, candidate.casefold(), word.casefold()).ratio()
                if candidate.casefold() != word.casefold() and ratio >= similar and candidate not in words:
                    value = _replace_word(value, word, candidate) or value
    return value


def _is_fragment(value: str) -> bool:
    """A model's "address" that is only the changed part ("1168", "apto 41"): no street name in it."""
    return not [w for w in re.findall(r"[^\W\d_]{3,}", value) if w.casefold() not in ("apto", "apt", "bloco", "unit")]


def with_corrections(facts: list[ExtractedFact], customer_text: str, known: dict[str, str]) -> list[ExtractedFact]:
    """This conversation's address, phone and name (else the ones on file) with the customer's corrections
    applied, each as a contact fact in place of the model's."""
    text = customer_text or ""
    out = list(facts)
    for key, correct in (("address", _address_fixed), ("phone", _rephoned),
                         # "it's Kathryn actually, no e" for "Katherine": names are respelled more freely
                         ("name", lambda v, t: _respelled(v, t, similar=0.7))):
        fact = next((f for f in out if f.key == key and not (key == "address" and _is_fragment(f.value))), None)
        base = fact.value if fact else known.get(key)
        if not base:
            continue
        start = _address_start(base, text) if fact else -1
        fixed = correct(base, text[start:] if start >= 0 else text)
        if fixed != base:
            out = [f for f in out if f.key != key] + [ExtractedFact(key=key, value=fixed, confidence=CONTACT_CONFIDENCE)]
    return out


def _address_fixed(value: str, text: str) -> str:
    return _respelled(_permuted(_renumbered(_swapped(_reunited(value, text), text), text), text), text)


def _rephoned(value: str, text: str) -> str:
    """"na vdd termina em 45, nao 54", "na real o final é 6230": the last digits of the phone."""
    for fix in _PHONE_FIX.finditer(text):
        new, old = fix.group(1), fix.group(2)
        line = text[_line_bounds(text, fix.start(), fix.end())[0]:fix.end()]  # up to the digits only
        if old is None and (not _FIXING.search(line) or _NOT_THE_PHONE.search(line)):
            continue
        digits = value.rstrip()
        if (old is None or (len(new) == len(old) and digits.endswith(old))) and not digits.endswith(new) \
                and sum(c.isdigit() for c in digits) >= 8:
            value = digits[:-len(new)] + new
    return value


def with_contact_facts(facts: list[ExtractedFact], customer_text: str) -> list[ExtractedFact]:
    """The model's facts, with the contact details found by pattern in place of the model's own
    for those keys (the customer's exact words; the model may have copied an older value)."""
    by_pattern = {f.key: f for f in contact_facts(customer_text)}
    return [f for f in facts if f.key not in by_pattern] + list(by_pattern.values())
