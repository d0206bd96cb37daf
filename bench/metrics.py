"""Retrieval metrics at the document level, and latency percentiles."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def doc_ranking(chunk_doc_ids: Iterable[str]) -> list[str]:
    """Collapse a ranked chunk list to documents: a document ranks at its best chunk (max over chunks)."""
    return list(dict.fromkeys(chunk_doc_ids))


def ndcg_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    """nDCG@k with graded gains (BEIR/pytrec_eval definition: gain = rel, discount = log2(rank + 1))."""
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 2) for rank, rel in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    wanted = {doc for doc, rel in relevant.items() if rel > 0}
    return len(wanted.intersection(ranked[:k])) / len(wanted) if wanted else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), q in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    return {"p50": round(percentile(ms, 50), 2), "p95": round(percentile(ms, 95), 2),
            "mean": round(sum(ms) / len(ms), 2) if ms else float("nan")}


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def bootstrap_ci(values: Sequence[float], *, rounds: int = 2000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, resampling questions with replacement."""
    import random
    if not values:
        return float("nan"), float("nan")
    rng, n = random.Random(seed), len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds))
    tail = (1 - level) / 2
    return means[int(tail * rounds)], means[min(rounds - 1, int((1 - tail) * rounds))]


def with_ci(values: Sequence[float], digits: int = 3) -> dict[str, float]:
    """{"mean", "lo", "hi"}: the mean and its 95% bootstrap interval."""
    lo, hi = bootstrap_ci(values)
    return {"mean": round(mean(values), digits), "lo": round(lo, digits), "hi": round(hi, digits)}


def paired_diff(a: Sequence[float], b: Sequence[float], digits: int = 3) -> dict[str, float]:
    """Mean of b - a over the same questions, with its 95% bootstrap interval: the change is
    inside the noise when the interval contains 0."""
    return with_ci([y - x for x, y in zip(a, b, strict=True)], digits)


def first_rank(units: Sequence[Iterable[str]], wanted: Iterable[str]) -> int | None:
    """1-based rank of the first unit holding any wanted id, None when none does."""
    wanted = set(wanted)
    return next((rank for rank, unit in enumerate(units, start=1) if wanted.intersection(unit)), None)
