"""Scoring answers: normalization, gold containment, token F1 (LoCoMo/SQuAD style), "I don't
know" detection, and bootstrap confidence intervals. Pure functions, for bench/answers.py."""
from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

# Portuguese and English stop words dropped before token F1 (the LoCoMo evaluation drops English
# articles; customer answers are mostly Portuguese, so its articles and prepositions go too).
_STOP = set("a an the and or of to in on at is are was were be".split()) | set(
    "o os as um uma uns umas de do da dos das e ou em no na nos nas ao aos que por para pra pro".split())
# "I don't know" in the ways small models say it (normalized text: no accents, lower case).
_REFUSAL = re.compile(
    r"\b(nao (sei|sabe|sabemos)\b|nao (tenho|tem|temos) (essa |esta |a )?informac|nao (tenho|encontrei|ha|consta|possuo) (informac|dados|essa)|"
    r"nao (esta|estao) (nos|no|nas) (trechos|excertos|documentos|informac)|nao (consigo|posso) (responder|informar|confirmar)|"
    r"sem informac|nao foi (mencionad|informad)|nao (e|foi) possivel (responder|informar)|"
    r"i (do not|don t|dont) know|not (mentioned|provided|specified|stated)|no information|"
    r"(do not|don t|dont) have (that|this|the|enough|any) information|cannot answer|"
    r"(cannot|can t|could not|couldn t|did not|didn t) find)")


def normalize(text: str) -> str:
    """Lower case, accents and punctuation removed, numbers kept ("R$ 14,90" -> "r 14 90")."""
    folded = unicodedata.normalize("NFKD", (text or "").lower())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9%]+", " ", plain.replace("%", " % ")).split())


def tokens(text: str) -> list[str]:
    return [t for t in normalize(text).split() if t not in _STOP]


def contains(answer: str, gold: str) -> bool:
    """Whether the gold answer appears in the reply as whole words (after normalization)."""
    g = normalize(gold)
    return bool(g) and re.search(rf"(^| ){re.escape(g)}($| )", normalize(answer)) is not None


def token_f1(answer: str, gold: str) -> float:
    pred, ref = tokens(answer), tokens(gold)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def says_unknown(answer: str) -> bool:
    return _REFUSAL.search(normalize(answer)) is not None


def score(answer: str, golds: Sequence[str]) -> dict:
    """contained: any gold in the reply and the reply is not a refusal (a "não sei" must not pass
    for a "não"); f1: best token F1 over the golds."""
    refused = says_unknown(answer)
    return {"contained": (not refused) and any(contains(answer, g) for g in golds),
            "f1": max((token_f1(answer, g) for g in golds), default=0.0), "refused": refused}


def bootstrap_ci(values: Sequence[float], *, samples: int = 2000, level: float = 0.95,
                 seed: int = 13) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap over questions."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    tail = (1 - level) / 2
    return sum(values) / n, means[int(tail * samples)], means[min(samples - 1, int((1 - tail) * samples))]


def bootstrap_diff_ci(a: Sequence[float], b: Sequence[float], *, samples: int = 2000, level: float = 0.95,
                      seed: int = 13) -> tuple[float, float, float]:
    """(mean of a - b, low, high) for paired per-question scores (same questions, two settings)."""
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    return bootstrap_ci(diffs, samples=samples, level=level, seed=seed)


def summary(values: Sequence[float], digits: int = 3) -> dict:
    mean, low, high = bootstrap_ci(values)
    return {"mean": round(mean, digits), "ci95": [round(low, digits), round(high, digits)], "n": len(values)}
