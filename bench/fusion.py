"""Fusion functions for hybrid search, compared offline on the candidate lists of real runs.

    .venv/bin/python -m bench.retrieval --dataset <set> --quality-only --dump-lists .renum/fusion/<set>.json
    .venv/bin/python -m bench.fusion .renum/fusion/*.json

`bench/retrieval.py --dump-lists` stores, per query, the vector list (cosine similarity) and the text
list (BM25) exactly as the search SQL builds them (50 chunks each). Here each fusion function ranks
the union of the two lists, collapses chunks to documents (a document ranks at its best chunk) and is
scored by nDCG@10, with 95% bootstrap intervals and the paired difference against the better of the
two lists on that set (the issue's bar: hybrid >= max(vector, text) + 0.01). `zscore` is what
`api/search/repository.py` does by default (the same formula, in SQL; `tests/test_search.py` checks the
SQL against it); `rrf 1/1` (k = 10) is the `fusion="rrf"` option and the default before.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from bench.metrics import doc_ranking, ndcg_at_k, paired_diff, with_ci

# One candidate: (document, chunk, score); a list is best first.
Candidate = tuple[str, str, float]
Fusion = Callable[[list[Candidate], list[Candidate]], list[str]]  # -> chunk ids, best first

RRF_K = 10


def _ranks(items: list[Candidate]) -> dict[str, int]:
    return {chunk: rank for rank, (_, chunk, _) in enumerate(items, start=1)}


def _order(scores: dict[str, float], vr: dict[str, int], tr: dict[str, int]) -> list[str]:
    # Ties as in the SQL: the better of the two ranks, then the id.
    big = 10**9
    return sorted(scores, key=lambda c: (-scores[c], min(vr.get(c, big), tr.get(c, big)), c))


def rrf(w_vec: float = 1.0, w_text: float = 1.0, k: int = RRF_K) -> Fusion:
    def fuse(vec: list[Candidate], txt: list[Candidate]) -> list[str]:
        vr, tr = _ranks(vec), _ranks(txt)
        scores = {c: w_vec / (k + r) for c, r in vr.items()}
        for c, r in tr.items():
            scores[c] = scores.get(c, 0.0) + w_text / (k + r)
        return _order(scores, vr, tr)
    return fuse


def confidence(items: list[Candidate], depth: int = 10) -> float:
    """How much a list's first candidate stands out from the rest of its top `depth`, on the list's own
    scale: (s1 - mean(s2..s_depth)) / (s1 - s_depth). 1 when the first is far ahead of a flat rest, near 0
    when the top is a plateau of near-equal scores (near-duplicate passages, a common word)."""
    scores = [s for _, _, s in items[:depth] if s is not None]
    if len(scores) < 3 or scores[0] - scores[-1] <= 1e-12:
        return 0.0
    rest = scores[1:]
    return (scores[0] - sum(rest) / len(rest)) / (scores[0] - scores[-1])


def rrf_by_confidence(k: int = RRF_K, floor: float = 0.25, depth: int = 10) -> Fusion:
    """RRF whose two weights follow each list's confidence (above): w = floor + confidence, so a list
    whose top is a plateau counts less than one whose first candidate stands out."""
    def fuse(vec: list[Candidate], txt: list[Candidate]) -> list[str]:
        w_vec, w_text = floor + confidence(vec, depth), floor + confidence(txt, depth)
        return rrf(w_vec, w_text, k)(vec, txt)
    return fuse


def _minmax(items: list[Candidate]) -> dict[str, float]:
    scores = [s for _, _, s in items]
    if not scores:
        return {}
    lo, hi = min(scores), max(scores)
    return {c: (s - lo) / (hi - lo) if hi > lo else 1.0 for _, c, s in items}


def convex(alpha: float = 0.5) -> Fusion:
    """alpha * minmax(cosine) + (1 - alpha) * minmax(BM25) over each list's candidates; absent = 0."""
    def fuse(vec: list[Candidate], txt: list[Candidate]) -> list[str]:
        nv, nt = _minmax(vec), _minmax(txt)
        scores = {c: alpha * nv.get(c, 0.0) + (1 - alpha) * nt.get(c, 0.0) for c in {*nv, *nt}}
        return _order(scores, _ranks(vec), _ranks(txt))
    return fuse


def _z(items: list[Candidate]) -> dict[str, float]:
    scores = [s for _, _, s in items]
    if not scores:
        return {}
    mean = sum(scores) / len(scores)
    sd = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
    return {c: (s - mean) / sd if sd else 0.0 for _, c, s in items}


def zscore(w_vec: float = 1.0, w_text: float = 1.0) -> Fusion:
    """w_vec * z(cosine) + w_text * z(BM25), z over each list's candidates; absent = that list's lowest z."""
    def fuse(vec: list[Candidate], txt: list[Candidate]) -> list[str]:
        zv, zt = _z(vec), _z(txt)
        low_v, low_t = min(zv.values(), default=0.0), min(zt.values(), default=0.0)
        scores = {c: w_vec * zv.get(c, low_v) + w_text * zt.get(c, low_t) for c in {*zv, *zt}}
        return _order(scores, _ranks(vec), _ranks(txt))
    return fuse


def single(which: str) -> Fusion:
    def fuse(vec: list[Candidate], txt: list[Candidate]) -> list[str]:
        return [c for _, c, _ in (vec if which == "vector" else txt)]
    return fuse


FUSIONS: dict[str, Fusion] = {
    "vector": single("vector"), "text": single("text"),
    "zscore": zscore(), "rrf 1/1": rrf(), "rrf text 0.5": rrf(1.0, 0.5), "rrf k 5": rrf(k=5),
    "minmax 0.5": convex(0.5), "minmax 0.6": convex(0.6),
    "rrf by confidence": rrf_by_confidence(), "rrf by confidence floor 0.5": rrf_by_confidence(floor=0.5),
}


def evaluate(dump: dict, fusions: dict[str, Fusion]) -> dict[str, list[float]]:
    """nDCG@10 per query for each fusion."""
    out: dict[str, list[float]] = {name: [] for name in fusions}
    for qid, modes in dump["lists"].items():
        vec = [tuple(c) for c in modes.get("vector", [])]
        txt = [tuple(c) for c in modes.get("text", [])]
        doc_of = {chunk: doc for doc, chunk, _ in (*vec, *txt)}
        for name, fuse in fusions.items():
            ranked = doc_ranking(doc_of[c] for c in fuse(vec, txt))
            out[name].append(ndcg_at_k(ranked, dump["qrels"][qid], 10))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dumps", type=Path, nargs="+", help="files written by bench.retrieval --dump-lists")
    args = parser.parse_args(argv)
    report = {}
    for path in args.dumps:
        dump = json.loads(path.read_text())
        per_query = evaluate(dump, FUSIONS)
        mean = {name: sum(v) / len(v) for name, v in per_query.items()}
        best_single = max(("vector", "text"), key=mean.get)
        report[dump["dataset"]] = {
            "queries": len(dump["lists"]), "best_single": best_single,
            "ndcg@10": {name: with_ci(v) for name, v in per_query.items()},
            f"paired vs {best_single}": {name: paired_diff(per_query[best_single], v)
                                         for name, v in per_query.items() if name not in ("vector", "text")},
        }
        print(f"{dump['dataset']}: " + ", ".join(f"{n} {mean[n]:.3f}" for n in FUSIONS), file=sys.stderr)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
