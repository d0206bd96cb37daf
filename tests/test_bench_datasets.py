"""Benchmark dataset converters and loaders; reads ../shared/datasets, needs no services."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if (
    str(REPO) not in sys.path
):  # plain `pytest` (not `python -m pytest`) without an installed package
    sys.path.insert(0, str(REPO))

from bench import DATASETS_DIR  # noqa: E402
from bench import datasets as beir  # noqa: E402
from bench.dialogs_data import load_abcd, load_sgd  # noqa: E402
from bench.locomo_data import load_locomo, normalize_evidence, summarize  # noqa: E402


def _require(folder: str) -> Path:
    path = DATASETS_DIR / folder
    if not path.is_dir():
        pytest.skip(f"dataset folder missing: {path}")
    return path


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", list(beir.CONVERTERS))
def test_cli_writes_valid_beir_subsample(name, tmp_path, capsys):
    _require(beir.CONVERTERS[name][0])
    assert beir.main(["--out", str(tmp_path), "--datasets", name, "--max-queries", "20"]) == 0
    counts = json.loads(capsys.readouterr().out)[name]
    root = tmp_path / name

    docs = _read_jsonl(root / "corpus.jsonl")
    queries = _read_jsonl(root / "queries.jsonl")
    assert all(set(d) == {"_id", "title", "text"} and d["text"].strip() for d in docs)
    assert all(set(q) == {"_id", "text"} and q["text"].strip() for q in queries)
    doc_ids, query_ids = {d["_id"] for d in docs}, {q["_id"] for q in queries}
    assert len(doc_ids) == len(docs)
    assert len(query_ids) == len(queries) == 20

    lines = (root / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "query-id\tcorpus-id\tscore"
    pairs = [line.split("\t") for line in lines[1:]]
    assert all(q in query_ids and d in doc_ids and int(s) > 0 for q, d, s in pairs)
    assert {q for q, _, _ in pairs} == query_ids  # every query is judged

    corpus, loaded_queries, qrels = beir.load_beir(root)
    assert counts == {
        "docs": len(corpus),
        "queries": len(loaded_queries),
        "qrels": len(pairs),
        "path": str(root),
    }
    assert sum(len(v) for v in qrels.values()) == len(pairs)


def test_scifact_matches_beir_test_split():
    src = _require("scifact")
    assert beir.convert_scifact(src).counts() == {"docs": 5183, "queries": 300, "qrels": 339}


def test_subsample_keeps_judged_docs_over_max_docs():
    ds = beir.BeirSet(corpus={f"d{i}": {"title": "", "text": f"t{i}"} for i in range(50)})
    for i in range(10):
        ds.add(f"q{i}", f"question {i}", [f"d{i}", f"d{i + 10}"])
    small = beir.subsample(ds, max_queries=3, max_docs=4, seed=1)
    assert len(small.queries) == 3
    judged = {d for rel in small.qrels.values() for d in rel}
    assert len(judged) == 6
    assert judged <= set(small.corpus)
    assert len(small.corpus) == 6
    roomy = beir.subsample(ds, max_queries=3, max_docs=20, seed=1)
    assert len(roomy.corpus) == 20
    assert judged <= set(roomy.corpus)


def test_normalize_evidence_handles_malformed_ids():
    assert normalize_evidence("D1:3") == ["D1:3"]
    assert normalize_evidence("D8:6; D9:17") == ["D8:6", "D9:17"]
    assert normalize_evidence("D9:1 D4:4 D4:6") == ["D9:1", "D4:4", "D4:6"]
    assert normalize_evidence("D:11:26") == ["D11:26"]
    assert normalize_evidence("D30:05") == ["D30:5"]
    assert normalize_evidence("D") == []


def test_locomo_parses_conversations_and_resolves_evidence():
    conversations = load_locomo(_require("locomo") / "locomo10.json")
    assert len(conversations) == 10
    for conv in conversations:
        ids = [t.dia_id for t in conv.turns()]
        assert len(ids) == len(set(ids))
        assert len(conv.speakers) == 2
        assert all(s.started_at is not None and s.turns for s in conv.sessions)
        assert all(q.category in {1, 2, 3, 4, 5} and q.question for q in conv.qa)
    stats = summarize(conversations)
    print(
        f"LoCoMo evidence ids resolving: {stats['evidence_ids_resolved']}/{stats['evidence_ids']}"
    )
    assert stats["qa"] == 1986
    assert stats["qa_with_evidence"] >= 1980
    assert stats["evidence_resolve_fraction"] >= 0.99
    # The data set's observations (bench.memory --observations), each citing its evidence turns.
    observations = [o for conv in conversations for s in conv.sessions for o in s.observations]
    assert len(observations) == 2541
    assert all(text and evidence and all(isinstance(e, str) for e in evidence) for text, evidence in observations)


def test_dialog_loaders():
    abcd = load_abcd(_require("abcd") / "abcd_sample.json")
    assert len(abcd) == 3
    assert all(c.sessions[0].turns and not c.qa for c in abcd)
    sgd = load_sgd(_require("sgd") / "test")
    assert len(sgd) == 182
    assert {t.speaker for c in sgd for t in c.turns()} == {"user", "system"}
