"""What serving the local model from its own process costs: the same prompts in-process and through
api/llm/server.py, alternated, plus token counting over HTTP and the memory one copy takes.

    python -m bench.model_server [--model qwen1.5b] [--repeats 5] [--max-tokens 40]

Starts the server (RENUM_LOCAL_MODEL, one llama.cpp thread like the in-process engine) on a free
port, loads the in-process engine in this process, then for each repeat and prompt asks both
(order alternating) with a different question each time after the same system prompt, as a new
customer question would be: first token and full answer, ms. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.metrics import latency_summary

ROOT = Path(__file__).resolve().parents[1]
SYSTEM = ("Você é Léo, atendente virtual da Passo Leve. Responda curto, em uma ou duas frases, no idioma do "
          "cliente. Use só os trechos da base de conhecimento; se isso não responde, diga que não sabe.")
EXCERPTS = ("[1] Trocas: Você pode trocar um produto comprado no site em até 30 dias corridos depois do "
            "recebimento, sem custo, pela página Meus pedidos. [2] Frete: Para o estado de São Paulo o frete "
            "custa R$ 19,90 e o prazo é de 3 a 6 dias úteis; acima de R$ 249 o frete é grátis. [3] Pix: pagando "
            "no Pix você tem 5% de desconto e o QR code vale por 30 minutos.")
QUESTIONS = ["Até quando posso trocar um tênis que comprei no site?", "Qual o frete pra Campinas?",
             "Tem desconto no Pix?", "Quanto tempo vale o QR code?", "O frete é grátis acima de quanto?",
             "Posso trocar sem pagar nada?", "Qual o prazo de entrega em SP?", "Como faço a troca?"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _private_mb(pid: int) -> dict:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) // 1024
    return {k: fields.get(k) for k in ("Rss", "Anonymous", "Private_Dirty", "Private_Clean")}


def _timed(generate) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    for _ in generate():
        first = first or time.perf_counter()
    done = time.perf_counter()
    return ((first or done) - started) * 1000, (done - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("RENUM_LOCAL_MODEL", "qwen1.5b"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=40)
    args = parser.parse_args(argv)
    os.environ.update(RENUM_LOCAL_MODEL=args.model, RENUM_LOCAL_MODEL_THREADS="1", LITELLM_LOCAL_MODEL_COST_MAP="True")
    os.environ.pop("RENUM_LOCAL_MODEL_URL", None)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "api.llm.server", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        from api.llm.llama_engine import Run, get_engine
        from api.llm.remote_engine import RemoteEngine
        local = get_engine()
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("model server did not start")
            time.sleep(0.3)
        remote = RemoteEngine(url)
        engines = {"in_process": local, "server": remote}
        params = {"max_tokens": args.max_tokens, "temperature": 0.0}
        times: dict[str, dict[str, list[float]]] = {m: {"first_token_ms": [], "total_ms": []} for m in engines}
        same = 0
        for i in range(args.repeats * len(QUESTIONS)):
            question = QUESTIONS[i % len(QUESTIONS)] + (" " + "?" * (i // len(QUESTIONS)))
            messages = [{"role": "system", "content": SYSTEM},
                        {"role": "user", "content": f"Trechos:\n{EXCERPTS}\n\nPergunta: {question}"}]
            order = list(engines) if i % 2 == 0 else list(reversed(engines))
            texts = {}
            for mode in order:
                pieces: list[str] = []

                def gen(engine=engines[mode], pieces=pieces):
                    for delta in engine.generate(messages, params, Run("bench", 300)):
                        pieces.append(delta)
                        yield delta
                first, total = _timed(gen)
                times[mode]["first_token_ms"].append(first)
                times[mode]["total_ms"].append(total)
                texts[mode] = "".join(pieces)
            same += texts["in_process"] == texts["server"]
        count_ms = []
        for text in QUESTIONS:
            started = time.perf_counter()
            remote.count(text + " (contagem)")
            count_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        for text in QUESTIONS:
            remote.count(text + " (contagem)")
        cached_us = (time.perf_counter() - started) * 1e6 / len(QUESTIONS)
        result = {"model": args.model, "prompts": len(times["server"]["total_ms"]), "max_tokens": args.max_tokens,
                  "identical_answers": same,
                  "modes": {m: {k: latency_summary(v) for k, v in t.items()} for m, t in times.items()},
                  "count_http_ms": latency_summary(count_ms), "count_cached_us": round(cached_us, 1),
                  "server_memory_mb": _private_mb(server.pid), "in_process_memory_mb": _private_mb(os.getpid()),
                  "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}
        print(json.dumps(result, indent=2))
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
