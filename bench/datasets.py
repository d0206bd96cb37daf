"""Convert the retrieval evaluation sets (SciFact, FaQuAD, Pirá) to BEIR layout, and load them back.

Layout per set: <out>/<name>/corpus.jsonl {"_id","title","text"}, queries.jsonl {"_id","text"},
qrels/test.tsv ("query-id\tcorpus-id\tscore"). Only queries with at least one qrel are written.

Usage: python -m bench.datasets --out bench/data [--src DIR] [--datasets ...] [--max-queries N]
       [--max-docs N] [--all-splits]   -> {name: {"docs", "queries", "qrels"}} as JSON
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import io
import json
import random
import re
import sys
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench import DATASETS_DIR

Corpus = dict[str, dict[str, str]]  # doc id -> {"title", "text"}
Queries = dict[str, str]
Qrels = dict[str, dict[str, int]]  # query id -> {doc id: score}

QRELS_HEADER = "query-id\tcorpus-id\tscore"
# SciFact abstracts are numpy reprs of string arrays: "['s1.'\n 's2.']" (no commas, mixed quotes).
_PY_STRING_RE = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*\"""")

csv.field_size_limit(1 << 30)  # Pirá abstracts and SciFact rows exceed the 128 KiB default


@dataclass(slots=True)
class BeirSet:
    corpus: Corpus = field(default_factory=dict)
    queries: Queries = field(default_factory=dict)
    qrels: Qrels = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "docs": len(self.corpus),
            "queries": len(self.queries),
            "qrels": sum(len(v) for v in self.qrels.values()),
        }

    def add(self, qid: str, question: str, doc_ids: Iterable[str]) -> None:
        """Record a query and its relevant docs, ignoring ids absent from the corpus."""
        rel = {d: 1 for d in doc_ids if d in self.corpus}
        if rel:
            self.queries[qid] = question
            self.qrels.setdefault(qid, {}).update(rel)


def text_doc_id(text: str) -> str:
    """Stable id from whitespace- and case-normalized text, so duplicates collapse across splits."""
    return "d" + hashlib.sha1(" ".join(text.split()).casefold().encode()).hexdigest()[:16]


def _csv_rows(raw: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(raw, newline="")))


def convert_scifact(src: Path, *, all_splits: bool = False) -> BeirSet:
    """scifact.zip (CSV export of the hub splits): the validation claims are BEIR's test queries."""
    out = BeirSet()
    with zipfile.ZipFile(src / "scifact.zip") as zf:

        def read(name: str) -> list[dict[str, str]]:
            return _csv_rows(zf.read(name).decode("utf-8"))

        for row in read("corpus_train.csv"):
            sentences = [ast.literal_eval(s) for s in _PY_STRING_RE.findall(row["abstract"])]
            out.corpus[row["doc_id"]] = {"title": row["title"], "text": " ".join(sentences)}
        for split in ("validation", "train") if all_splits else ("validation",):
            # One row per (claim, evidence); cited_doc_ids is a numpy int array repr "[ 1 2]".
            for row in read(f"claims_{split}.csv"):
                out.add(row["id"], row["claim"], row["cited_doc_ids"].strip("[]").split())
    return out


def convert_faquad(src: Path, *, all_splits: bool = False) -> BeirSet:
    """SQuAD-format FaQuAD: corpus = unique paragraphs, qrel = the paragraph holding the answer."""
    out = BeirSet()
    for name in ("dev.json", "train.json") if all_splits else ("dev.json",):
        data = json.loads((src / name).read_text(encoding="utf-8"))["data"]
        for article in data:
            for paragraph in article["paragraphs"]:
                doc_id = text_doc_id(paragraph["context"])
                out.corpus.setdefault(
                    doc_id, {"title": article["title"], "text": paragraph["context"]}
                )
                for qa in paragraph["qas"]:
                    out.add(qa["id"], qa["question"], [doc_id])
    return out


def convert_pira(src: Path, *, lang: str = "en", all_splits: bool = False) -> BeirSet:
    """Pirá: corpus = unique supporting abstracts, qrel = the abstract the question was written on.

    "en" pairs the original English questions with the English abstracts; "pt" pairs the
    human-written Portuguese questions with the machine-translated abstracts. Doc ids hash the
    English abstract in both, so runs on the two languages are comparable doc for doc.
    """
    question_col, text_col = {
        "en": ("question_en_origin", "abstract"),
        "pt": ("question_pt_origin", "abstract_translated_pt"),
    }[lang]
    out = BeirSet()
    for name in ("test.csv", "validation.csv") if all_splits else ("test.csv",):
        for row in _csv_rows((src / name).read_text(encoding="utf-8")):
            doc_id = text_doc_id(row["abstract"])
            out.corpus.setdefault(doc_id, {"title": "", "text": row[text_col]})
            out.add(row["id_qa"], row[question_col], [doc_id])
    return out


# name -> (folder under the datasets dir, converter)
CONVERTERS: dict[str, tuple[str, Callable[..., BeirSet]]] = {
    "scifact": ("scifact", convert_scifact),
    "faquad": ("faquad", convert_faquad),
    "pira": ("pira", partial(convert_pira, lang="en")),
    "pira-pt": ("pira", partial(convert_pira, lang="pt")),
}


def subsample(
    ds: BeirSet, *, max_queries: int | None = None, max_docs: int | None = None, seed: int = 0
) -> BeirSet:
    """Seeded sample of queries; the corpus always keeps every doc judged for a kept query.

    max_docs caps the corpus by dropping unjudged distractors only, so it may be exceeded
    when the kept queries alone judge more docs than that.
    """
    rng = random.Random(seed)
    qids = sorted(q for q in ds.queries if ds.qrels.get(q))
    if max_queries is not None and len(qids) > max_queries:
        qids = sorted(rng.sample(qids, max_queries))
    judged = {d for q in qids for d in ds.qrels[q]}
    keep = set(ds.corpus)
    if max_docs is not None and len(keep) > max_docs:
        others = sorted(keep - judged)
        keep = judged | set(rng.sample(others, min(len(others), max(0, max_docs - len(judged)))))
    return BeirSet(
        corpus={d: doc for d, doc in ds.corpus.items() if d in keep},
        queries={q: ds.queries[q] for q in qids},
        qrels={q: dict(ds.qrels[q]) for q in qids},
    )


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_beir(ds: BeirSet, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / "corpus.jsonl", ({"_id": d, **doc} for d, doc in ds.corpus.items()))
    _write_jsonl(out / "queries.jsonl", ({"_id": q, "text": t} for q, t in ds.queries.items()))
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as f:
        f.write(QRELS_HEADER + "\n")
        for q, rel in ds.qrels.items():
            f.writelines(f"{q}\t{d}\t{s}\n" for d, s in rel.items())
    return out


def load_beir(data_dir: str | Path, split: str = "test") -> tuple[Corpus, Queries, Qrels]:
    """Read a BEIR directory into (corpus, queries, qrels) plain dicts."""
    root = Path(data_dir)
    with (root / "corpus.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    corpus = {str(r["_id"]): {"title": r.get("title") or "", "text": r["text"]} for r in rows}
    with (root / "queries.jsonl").open(encoding="utf-8") as f:
        queries = {str(r["_id"]): r["text"] for r in map(json.loads, f) if r}
    qrels: Qrels = {}
    with (root / "qrels" / f"{split}.tsv").open(encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            if line.strip():
                q, d, score = line.rstrip("\n").split("\t")
                qrels.setdefault(q, {})[d] = int(score)
    return corpus, queries, qrels


def convert(
    name: str, src_root: Path, *, all_splits: bool = False, **sample: int | None
) -> BeirSet:
    folder, converter = CONVERTERS[name]
    return subsample(converter(src_root / folder, all_splits=all_splits), **sample)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/data"))
    parser.add_argument("--src", type=Path, default=DATASETS_DIR, help="shared datasets folder")
    parser.add_argument("--datasets", nargs="+", choices=list(CONVERTERS), default=list(CONVERTERS))
    parser.add_argument("--max-queries", type=int)
    parser.add_argument("--max-docs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--all-splits",
        action="store_true",
        help="add SciFact train / FaQuAD train / Pirá validation queries and docs to the test set",
    )
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    for name in args.datasets:
        src = args.src / CONVERTERS[name][0]
        if not src.is_dir():
            report[name] = {"skipped": f"missing {src}"}
            continue
        ds = convert(
            name,
            args.src,
            all_splits=args.all_splits,
            max_queries=args.max_queries,
            max_docs=args.max_docs,
            seed=args.seed,
        )
        report[name] = {**ds.counts(), "path": str(write_beir(ds, args.out / name))}
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
