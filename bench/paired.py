"""Two help-center answer runs of `bench.answers` compared question by question.

    python -m bench.paired BEFORE.json AFTER.json [--mode kb] [--threshold T]

Both runs must hold the same questions (same --language, --limit/--ids). Prints, for the questions the
two runs share: gold contained in each and the paired difference (after - before, 95 % bootstrap
interval over questions), the questions whose gold answer is "no"/"não" and those whose gold is
"yes"/"sim", and, for observe runs (`--answer-check observe`), what the answer check does at the
model's shipped knowledge-excerpt threshold (grounding.THRESHOLDS; --threshold for another kind, e.g.
0.7 for --returning runs): right answers kept, and unanswerable questions still answered (invented).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.answer_metrics import bootstrap_diff_ci
from bench.answers import _with_threshold

NO = {"no", "não", "nao"}
YES = {"yes", "sim"}


def _rows(path: Path, mode: str) -> tuple[dict, dict]:
    data = json.loads(path.read_text())
    hc = data["helpcenter"] | {"model": data["model"]}
    return hc, {r["id"]: r for r in hc["rows"] if r["mode"] == mode and not r.get("social")}


def _gold_kind(row: dict) -> str | None:
    gold = {g.casefold() for g in (row["gold"] if isinstance(row["gold"], list) else [row["gold"]])}
    return "no" if gold & NO else "yes" if gold & YES else None


def compare(before: Path, after: Path, mode: str = "kb", threshold: float | None = None) -> dict:
    hc_a, a = _rows(before, mode)
    hc_b, b = _rows(after, mode)
    ids = sorted(set(a) & set(b))
    answerable = [i for i in ids if a[i]["answerable"]]
    unanswerable = [i for i in ids if not a[i]["answerable"]]
    ca = [float(a[i]["contained"]) for i in answerable]
    cb = [float(b[i]["contained"]) for i in answerable]
    mean, low, high = bootstrap_diff_ci(cb, ca)
    out: dict = {"language": hc_a["language"], "answerable": len(answerable), "unanswerable": len(unanswerable),
                 "contained": {"before": sum(ca), "after": sum(cb)},
                 "after_minus_before": {"mean": round(mean, 3), "ci95": [round(low, 3), round(high, 3)]},
                 "gained": [i for i in answerable if b[i]["contained"] and not a[i]["contained"]],
                 "lost": [i for i in answerable if a[i]["contained"] and not b[i]["contained"]]}
    for kind in ("no", "yes"):
        sel = [i for i in answerable if _gold_kind(a[i]) == kind]
        out[f"gold_{kind}"] = {"questions": len(sel), "before": sum(bool(a[i]["contained"]) for i in sel),
                               "after": sum(bool(b[i]["contained"]) for i in sel)}
    if threshold is None:
        from api.chat import grounding
        threshold = grounding.THRESHOLDS.get(hc_a["model"])
    observed = any((r.get("answer_check") or {}).get("margin") is not None for r in [*a.values(), *b.values()])
    if observed and threshold is not None:
        for name, rows in (("before", a), ("after", b)):
            applied = {r["id"]: r for r in _with_threshold([rows[i] for i in ids], threshold)}
            out[f"check_{name}"] = {
                "threshold": threshold,
                "right_kept": sum(bool(applied[i]["contained"]) for i in answerable),
                "invented": sum(not applied[i]["refused"] for i in unanswerable)}
    for name, rows in (("before", a), ("after", b)):
        out[f"invented_without_check_{name}"] = sum(not rows[i]["refused"] for i in unanswerable)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--mode", default="kb")
    parser.add_argument("--threshold", type=float, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(compare(args.before, args.after, args.mode, args.threshold), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
