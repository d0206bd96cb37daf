"""Periods a message talks about ("in March", "on 3 May 2023", "em março de 2024", "last week").

Memory retrieval boosts memories from the periods a customer names: "what did I order in
March?" should prefer March's conversations even when April's mention the same product.
English and Portuguese; returns half-open ranges [start, end) of aware datetimes, days starting
at midnight in the agent's time zone `tz` (UTC by default). A month or day without a
year means that month in each of the last `years_back` years (the customer's history decides
which one matches). Numeric dates other than ISO (2023-05-03) are ambiguous (03/05 is March
in the US and May in Brazil) and are ignored.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

MONTHS = {name: number for number, names in enumerate((
    ("january", "jan", "janeiro"), ("february", "feb", "fevereiro", "fev"), ("march", "mar", "março", "marco"),
    ("april", "apr", "abril", "abr"), ("may", "maio", "mai"), ("june", "jun", "junho"),
    ("july", "jul", "julho"), ("august", "aug", "agosto", "ago"), ("september", "sep", "sept", "setembro", "set"),
    ("october", "oct", "outubro", "out"), ("november", "nov", "novembro"), ("december", "dec", "dezembro", "dez"),
), start=1) for name in names}
# Abbreviations ("mar" = sea, "dez" = ten, "set", "out", "ago") count only next to a day or a
# year ("3 dez", "set. 2024"); month names that are also everyday words ("may", "march",
# "marco" = landmark) count alone only after a preposition ("in May", "since March", "em marco").
_ABBREVIATIONS = frozenset(name for name in MONTHS if len(name) <= 4 and name not in ("june", "july", "maio", "may"))
_WORDS = frozenset({"may", "march", "marco"})
_PREPOSITION = re.compile(r"\b(in|during|since|until|by|before|after|early|late|mid|em|desde|durante|até|ate)\s+$",
                          re.IGNORECASE)
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY = r"(\d{1,2})(?:st|nd|rd|th|º|°)?"
_YEAR = r"((?:19|20)\d\d)"
_DATE = re.compile(
    rf"(?:\b{_DAY}\s+(?:of\s+|de\s+)?)?\b({_MONTH})\b\.?(?:\s+{_DAY}\b)?(?:,?\s+(?:de\s+|of\s+)?{_YEAR}\b)?"
    rf"|\b{_YEAR}-(\d\d)-(\d\d)\b|\b(?:in|em|of|de|since|desde|during|durante)\s+{_YEAR}\b",
    re.IGNORECASE)
_RELATIVE = [
    (re.compile(r"\b(today|hoje)\b", re.I), lambda d: (d, _day_after(d))),
    (re.compile(r"\b(yesterday|ontem)\b", re.I), lambda d: (_days(d, -1), d)),
    (re.compile(r"\b(last week|semana passada)\b", re.I),
     lambda d: (_days(d, -d.weekday() - 7), _days(d, -d.weekday()))),
    (re.compile(r"\b(this week|esta semana|essa semana|nesta semana|nessa semana)\b", re.I),
     lambda d: (_days(d, -d.weekday()), _day_after(d))),
    (re.compile(r"\b(last month|m[eê]s passado)\b", re.I),
     lambda d: _month(*_previous_month(d.year, d.month), d.tzinfo)),
    (re.compile(r"\b(this month|este m[eê]s|esse m[eê]s|neste m[eê]s|nesse m[eê]s)\b", re.I),
     lambda d: _month(d.year, d.month, d.tzinfo)),
    (re.compile(r"\b(last year|ano passado)\b", re.I), lambda d: _year(d.year - 1, d.tzinfo)),
    (re.compile(r"\b(this year|este ano|esse ano|neste ano|nesse ano)\b", re.I), lambda d: _year(d.year, d.tzinfo)),
]


# A period after "before"/"antes de" is the time before it, and after "until"/"até" the time up to
# its end: "onde eu morava antes de julho?" must not favour July (the month of the move). "after",
# "since", "desde", "a partir de" open the period towards the present. Such open-ended ranges get
# no slack in the retrieval statement.
_BEFORE = re.compile(r"\b(before|antes\s+d[eoa]s?|prior\s+to)\s+(?:the\s+|o\s+|a\s+)?$", re.IGNORECASE)
_UNTIL = re.compile(r"\b(until|till|up\s+to|through|at[eé](?:\s+o|\s+a)?|by)\s+$", re.IGNORECASE)
_AFTER = re.compile(r"\b(after|since|desde|depois\s+d[eoa]s?|a\s+partir\s+d[eoa]s?)\s+(?:the\s+|o\s+|a\s+)?$",
                    re.IGNORECASE)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


def _open_ended(prefix: str, period: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    start, end = period
    if _BEFORE.search(prefix):
        return EPOCH, start
    if _UNTIL.search(prefix):
        return EPOCH, end
    if _AFTER.search(prefix):
        return start, FOREVER
    return period


def mentioned_periods(text: str, now: datetime | None = None, years_back: int = 10,
                      tz: tzinfo = UTC) -> list[tuple[datetime, datetime]]:
    """The [start, end) ranges the text names, in order of appearance, without duplicates."""
    today = (now or datetime.now(UTC)).astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    found: list[tuple[int, tuple[datetime, datetime]]] = []
    for m in _DATE.finditer(text):
        prefix = text[:m.start()]
        found += [(m.start(), _open_ended(prefix, r)) for r in _absolute(m, today.year, years_back, tz)]
    for pattern, period in _RELATIVE:
        found += [(m.start(), period(today)) for m in pattern.finditer(text)]
    return list(dict.fromkeys(r for _, r in sorted(found, key=lambda x: x[0])))


def _absolute(m: re.Match, this_year: int, years_back: int, tz: tzinfo) -> list[tuple[datetime, datetime]]:
    day_before, month_name, day_after, year, iso_y, iso_m, iso_d, year_alone = m.groups()
    if iso_y:
        start = _safe_date(int(iso_y), int(iso_m), int(iso_d), tz)
        return [(start, _day_after(start))] if start else []
    if year_alone:
        return [_year(int(year_alone), tz)]
    month = MONTHS[month_name.lower()]
    day = day_before or day_after
    name = month_name.lower()
    if not (day or year) and (name in _ABBREVIATIONS
                              or name in _WORDS and not _PREPOSITION.search(m.string[:m.start()])):
        return []
    years = [int(year)] if year else range(this_year, this_year - years_back - 1, -1)
    out = []
    for y in years:
        if day:
            start = _safe_date(y, month, int(day), tz)
            if start:
                out.append((start, _day_after(start)))
        else:
            out.append(_month(y, month, tz))
    return out


def _safe_date(year: int, month: int, day: int, tz: tzinfo) -> datetime | None:
    try:
        return datetime(year, month, day, tzinfo=tz)
    except ValueError:
        return None


def _days(midnight: datetime, n: int) -> datetime:
    """Local midnight n days away (calendar arithmetic, so a DST change does not shift it)."""
    day = midnight.date() + timedelta(days=n)
    return datetime(day.year, day.month, day.day, tzinfo=midnight.tzinfo)


def _day_after(midnight: datetime) -> datetime:
    return _days(midnight, 1)


def _month(year: int, month: int, tz: tzinfo) -> tuple[datetime, datetime]:
    end = datetime(year + 1, 1, 1, tzinfo=tz) if month == 12 else datetime(year, month + 1, 1, tzinfo=tz)
    return datetime(year, month, 1, tzinfo=tz), end


def _previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _year(year: int, tz: tzinfo) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


# What a question asks about in time, for the recency step of memory retrieval:
# - "previous": a value that has since changed ("qual era meu endereço antes?", "my old phone",
#   "how did I pay before?"): older matching excerpts first;
# - "event": something that happened ("when did I order...?", "o que eu comprei?"): no preference,
#   an old event is as good an answer as a new one;
# - "current": everything else in the first person ("qual é meu endereço?", "how do I pay?"): newer first,
#   since a customer's newer statement replaces an older one on the same subject.
_PREVIOUS = re.compile(
    r"\b(antes|anterior(?:es|mente)?|antig[oa]s?|antigamente|costumava|ex-\w+|velh[oa]|era|eram|tinha|usava|"
    r"pagava|morava|before|previous(?:ly)?|former(?:ly)?|earlier|originally|used\s+to|"
    r"(?:my|the|our|his|her|their)\s+old)\b", re.IGNORECASE)
_EVENT = re.compile(
    r"\b(when|did|was|were|went|had|has|ago|bought|ordered|purchased|"
    r"quando|foi|fui|fiz|fez|comprei|pedi|aconteceu|já|ja)\b",
    re.IGNORECASE)


# The customer asking about their own data ("meu endereço", "como eu pago", "my plan"): questions
# about other people ("What is Caroline's job?", LoCoMo's third-person questions) get no recency;
# on LoCoMo, recency for them cost recall@10 -0.016 (95% CI -0.027..-0.005).
_FIRST_PERSON = re.compile(r"\b(eu|meu|minha|meus|minhas|me|mim|comigo|nosso|nossa|i|my|me|mine|our|we)\b",
                           re.IGNORECASE)


# Someone other than the customer: a third-person pronoun, or a capitalised word after the first
# (a name: "What is Caroline's job?", "Did Melanie paint...?"). A question in neither person
# ("pra qual e-mail vão as notas fiscais?", "which e-mail do the invoices go to?") asks an agent
# about the customer's own account, like a first-person one.
_THIRD_PERSON = re.compile(r"\b(he|she|him|his|her|hers|they|them|their|ele|ela|eles|elas|dele|dela|deles|delas)\b",
                           re.IGNORECASE)
_NAME_AFTER_FIRST_WORD = re.compile(r"(?<=\s)[A-ZÀ-Ý][\wÀ-ÿ'’-]*")


def _about_the_customer(text: str) -> bool:
    if _FIRST_PERSON.search(text):
        return True
    return not (_THIRD_PERSON.search(text) or _NAME_AFTER_FIRST_WORD.search(text.strip()))


def time_intent(text: str) -> str:
    """"previous", "event" or "current" (see above); by words, in English and Portuguese. Only
    questions about the customer (first person, or naming no one else) are "previous" or
    "current"; others are "event"."""
    if not _about_the_customer(text):
        return "event"
    if _PREVIOUS.search(text):
        return "previous"
    if _EVENT.search(text):
        return "event"
    return "current"
