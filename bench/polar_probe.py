"""Experiment: the local model's yes/no leaning on questions answered yes or no.

    python -m bench.polar_probe <bench.answers arguments> --out FILE

Measured once (BENCHMARKS.md, "The 'Yes' answers"): no margin told the questions whose answer is
no from the others well enough to correct the first word of an answer, so nothing uses it.

Runs bench.answers (same arguments) and, for every message the answer check judges, also records:
- first: log P(yes word) - log P(no word) of the answer's own first token, and the mass of both;
- one margin per probe question (PROBES), asked after the prompt like the answer check's.
The margins are added to the rows of the results file (row["polar"]).
"""
from __future__ import annotations

import json
import re
import sys

import numpy as np

PROBES = {
    "is_yes": "Segundo os trechos acima, a resposta para a pergunta do cliente é sim? Responda só sim ou não.",
    "is_no": "Segundo os trechos acima, a resposta para a pergunta do cliente é não? Responda só sim ou não.",
    "allowed": ("Segundo os trechos acima, o que o cliente pergunta é permitido, oferecido ou verdadeiro? "
                "Responda só sim ou não."),
}
SEEN: dict[str, dict] = {}


def _first(engine, messages) -> dict:
    """The answer's own first token (the engine's yes/no reading, one token evaluated fresh)."""
    with engine.lock:
        tokens = engine.llm.tokenize(engine._format(messages).encode(), add_bos=False, special=True)
        logp = engine.next_logp(tokens, fresh=1)
        y, n = engine.yes_no_logp(logp)
        top = int(np.argmax(logp))
        return {"first": round(y - n, 3), "first_mass": round(float(np.exp(y) + np.exp(n)), 3),
                "first_top": engine.llm.detokenize([top]).decode(errors="replace")}


def install() -> None:
    from api.chat import grounding
    original = grounding._ask

    def _ask(messages, agent_settings, kind, language):
        checked = original(messages, agent_settings, kind, language)
        from api.llm.llama_engine import get_engine
        engine = get_engine()
        content = messages[-1]["content"]
        question = re.split(r"(?:Pergunta|Question):", content)[-1].strip()
        got = _first(engine, messages)
        for name, probe in PROBES.items():
            got[name] = round(engine.yes_no(messages, probe, timeout_s=600), 3)
        SEEN[question] = got
        return checked

    grounding._ask = _ask


def main(argv: list[str]) -> int:
    from bench import answers
    install()
    out = None
    if "--out" in argv:
        out = argv[argv.index("--out") + 1]
    code = answers.main(argv)
    if out:
        data = json.loads(open(out).read())
        for row in data["helpcenter"]["rows"]:
            row["polar"] = SEEN.get(row["question"].strip())
        open(out, "w").write(json.dumps(data, indent=2, ensure_ascii=False))
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
