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
_US_ADDRESS = (r"\b\d{1,6}\s+(?:[^\W\d][\w'-]*\s+){1,3}(?:(?:street|avenue|road|lane|boulevard|drive|court|place|"
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
                          r"\b(?:ship|send|mail)\s+(?:[\w']+\s+){1,3}to\s*$", re.IGNORECASE)


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
    r"\b(?:ship|send|deliver|mail)\w*\s+(?:[\w']+\s+){0,4}?to\s+" + _KIN_EN + "|"
    + _KIN_EN + r"(?:\s+[A-Z][\w-]*)?(?:'s)?\s+(?:place|house|home|address|apartment|apt|office)\b|"
    r"\b(?:her|his|their)\s+(?:place|house|home|address|apartment|apt|office)\b",
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


def with_contact_facts(facts: list[ExtractedFact], customer_text: str) -> list[ExtractedFact]:
    """The model's facts, with the contact details found by pattern in place of the model's own
    for those keys (the customer's exact words; the model may have copied an older value)."""
    by_pattern = {f.key: f for f in contact_facts(customer_text)}
    return [f for f in facts if f.key not in by_pattern] + list(by_pattern.values())
