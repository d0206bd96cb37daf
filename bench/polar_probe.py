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
    from llama_cpp import Llama
    llm = engine.llm
    with engine.lock:
        text = engine._format(messages)
        tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
        common = Llama.longest_token_prefix(llm.input_ids[: llm.n_tokens], tokens)
        llm.n_tokens = max(0, min(common, len(tokens) - 1))
        llm.eval(tokens[llm.n_tokens:])
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
        logp = logits - np.logaddexp.reduce(logits)
        yes = engine._first_tokens(("sim", "yes"))
        no = engine._first_tokens(("não", "nao", "no"))
        y, n = float(np.logaddexp.reduce(logp[yes])), float(np.logaddexp.reduce(logp[no]))
        top = int(np.argmax(logits))
        return {"first": round(y - n, 3), "first_mass": round(float(np.exp(y) + np.exp(n)), 3),
                "first_top": llm.detokenize([top]).decode(errors="replace")}


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
