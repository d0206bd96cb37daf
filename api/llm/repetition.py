"""Small local models sometimes loop: "Aqui está a resposta:\\n\\nAqui está a resposta:\\n\\n…" until
`max_tokens` (the 1.5B did on 2 of 33 help-center questions asked of an agent without a knowledge
base; SmolLM2 on most). A loop costs seconds of CPU per turn and, stored, is fed back as history.

`looping` says whether a text ends in the same segment (at least MIN_CHARS characters) three times
in a row; the engine stops generating there. `collapse` keeps one copy of every such run, for the
answer that is stored and returned. Ordinary answers never repeat a dozen characters three times
in a row, so they are left as they are.
"""
from __future__ import annotations

import re

MIN_CHARS = 12
MAX_CHARS = 200
REPEATS = 3  # the segment and two copies of it
TAIL_CHARS = MAX_CHARS * REPEATS
_RUN = re.compile(r"(.{%d,%d}?)(?:\s*\1){%d,}" % (MIN_CHARS, MAX_CHARS, REPEATS - 1), re.S)
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w")


def looping(text: str) -> bool:
    """Whether `text` ends in one segment repeated REPEATS times, whitespace aside. Checked after
    every generated token, so no regex over the tail: the last REPEATS x L characters repeat a
    segment of length L exactly when they equal themselves shifted by L (at any phase, so a copy
    cut off mid-way counts)."""
    tail = _SPACE.sub(" ", text[-TAIL_CHARS:])
    for length in range(MIN_CHARS, min(MAX_CHARS, len(tail) // REPEATS) + 1):
        window = tail[-REPEATS * length:]
        if window[length:] == window[:-length] and _WORD.search(window[:length]):
            return True
    return False


def collapse(text: str) -> str:
    """`text` with each run of a repeated segment reduced to one copy (and a cut-off copy after the
    last run dropped: generation stopped mid-way through it), trimmed."""
    out, at = [], 0
    for match in _RUN.finditer(text):
        if not _WORD.search(match.group(1)):  # rules, dashes: not a loop of words
            continue
        out += [text[at:match.start()], match.group(1)]
        at = match.end()
        rest = text[at:].strip()
        if rest and match.group(1).strip().startswith(rest):
            at = len(text)
    return ("".join(out) + text[at:]).strip()
