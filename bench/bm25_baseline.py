"""The "stemmed BM25" baseline of the retrieval benchmark: classic BM25 (k1 0.9, b 0.4, Anserini's
BEIR defaults) over whole documents ("title text"), words stemmed by Postgres's plain snowball
configuration of the KB language (no accent folding, no hyphen/code normalization), scored in
Python. It stands for what a standard lexical retriever gets on each set, to compare the KB text
side with (bench/retrieval.py)."""
from __future__ import annotations

import math
from collections import Counter, defaultdict

_TF = """
select d.i, l.lexeme, coalesce(array_length(l.positions, 1), 1) as tf
  from unnest(%s::text[]) with ordinality as d(body, i)
 cross join lateral unnest(to_tsvector(%s::regconfig, d.body)) as l
"""


def _bags(conn, texts: list[str], language: str) -> list[Counter]:
    bags = [Counter() for _ in texts]
    for i, lexeme, tf in conn.execute(_TF, [texts, language]).fetchall():
        bags[i - 1][lexeme] += tf
    return bags


def rank(conn, corpus: dict[str, dict[str, str]], queries: dict[str, str], language: str, *,
         k1: float = 0.9, b: float = 0.4, depth: int = 100) -> dict[str, list[str]]:
    """query id -> the top `depth` document ids by BM25."""
    ids = list(corpus)
    docs = _bags(conn, [f"{corpus[d].get('title', '')} {corpus[d]['text']}" for d in ids], language)
    lengths = [sum(bag.values()) for bag in docs]
    avg = sum(lengths) / max(1, len(lengths))
    postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, bag in enumerate(docs):
        for lexeme, tf in bag.items():
            postings[lexeme].append((i, tf))
    n = len(ids)
    qids = list(queries)
    ranked = {}
    for qid, bag in zip(qids, _bags(conn, [queries[q] for q in qids], language), strict=True):
        scores: dict[int, float] = defaultdict(float)
        for lexeme in bag:
            plist = postings.get(lexeme, [])
            idf = math.log(1 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
            for i, tf in plist:
                scores[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[i] / avg))
        ranked[qid] = [ids[i] for i, _ in sorted(scores.items(), key=lambda x: (-x[1], ids[x[0]]))[:depth]]
    return ranked
