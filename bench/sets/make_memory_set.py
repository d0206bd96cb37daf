"""Write bench/sets/cs_memory.json: customer-service dialogues (Portuguese and English) with facts
that change over months, in LoCoMo's file format, for bench/memory.py --locomo.

    python -m bench.sets.make_memory_set      # deterministic (seeded); rewrites the JSON

Written for this project (no third-party text; free to keep in the repository). Each customer is one
LoCoMo "conversation" of 9 monthly sessions. Every session reuses the same service words ("pedido",
"entrega", "endereço", "pagamento") in filler turns, as real histories do, so word overlap alone
cannot tell the current value from the stale one. Each customer has three attributes that change
once (address, phone, plan, payment method, dose, e-mail): the old value is stated early and
mentioned again later, the new value is stated in a later session.

Each session also lists, as "session_<n>_facts", the facts stated in it ({"key", "value"}): what a
fact extractor should return, so the benchmark can run the real fact pipeline without a model.

Questions (LoCoMo fields plus `kind` and, for changed facts, `stale_evidence`):
- kind "current" (category 4): the value now; `evidence` = turns stating the current value,
  `stale_evidence` = turns stating the old one. The benchmark reports whether the current value's
  excerpt ranks above the stale one.
- kind "previous" (category 2): "qual era meu endereço antes?", "before July": evidence = the old value.
- kind "stable" (category 4): a fact said once that never changes (no-loss check).
- kind "multi" (category 1): needs turns from several sessions (everything bought).
"""
from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

OUT = Path(__file__).with_name("cs_memory.json")
MONTHS_PT = ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September"]

# attribute -> language -> (old values, new values, state, restate-old, change, current questions,
# previous questions, "before <month>" question)
ATTRS = {
    "address": {
        "pt": (["Rua das Acácias, 120, Pinheiros", "Rua Tabapuã, 88, Itaim", "Avenida Brasil, 455, apto 32"],
               ["Rua Augusta, 1500, apto 71, Consolação", "Rua Harmonia, 310, Vila Madalena", "Alameda Santos, 900"],
               "Meu endereço de entrega é {v}.",
               "Pode mandar pro endereço de sempre, {v}.",
               "Me mudei! Agora o endereço de entrega é {v}, por favor atualiza aí.",
               ["qual é o meu endereço de entrega?", "pra onde vocês vão mandar meu pedido?"],
               ["qual era meu endereço antes?", "onde eu morava antes de me mudar?"],
               "qual era meu endereço de entrega antes de {month}?"),
        "en": (["12 Oak Street, Springfield", "48 Maple Avenue, apt 3B", "7 Birch Lane, Riverside"],
               ["220 Harbor Road, apt 5", "91 Elm Court, Lakeside", "15 Pine Street, Northgate"],
               "My delivery address is {v}.",
               "Please ship it to the usual address, {v}.",
               "I moved! My delivery address is now {v}, please update it.",
               ["what is my delivery address?", "where will you ship my order?"],
               ["what was my address before?", "where did I live before I moved?"],
               "what was my delivery address before {month}?"),
    },
    "phone": {
        "pt": (["(11) 98765-4321", "(21) 99123-4567", "(31) 98888-1122"],
               ["(11) 97654-0099", "(21) 98222-3344", "(31) 99777-5566"],
               "Meu telefone pra contato é {v}.",
               "Se precisar, me liga no {v}, tá?",
               "Troquei de número, o novo é {v}.",
               ["qual é o meu telefone de contato?", "em qual número vocês me ligam?"],
               ["qual era meu número de telefone antigo?", "qual telefone eu tinha antes?"],
               "qual era meu telefone antes de {month}?"),
        "en": (["555-0142", "555-0187", "555-0111"],
               ["555-0199", "555-0123", "555-0176"],
               "My contact phone number is {v}.",
               "If you need me, call me at {v}.",
               "I changed my number, the new one is {v}.",
               ["what is my contact phone number?", "which number do you call me on?"],
               ["what was my old phone number?", "what phone number did I have before?"],
               "what was my phone number before {month}?"),
    },
    "plan": {
        "pt": (["plano de 100mb", "plano de 200mb", "plano de 50mb"],
               ["plano de 500mb", "plano de 1gb", "plano de 300mb"],
               "Eu tenho o {v} de internet.",
               "Com o {v} a internet fica lenta de noite.",
               "Fiz o upgrade, agora estou no {v}.",
               ["qual é o meu plano de internet?", "quantos mega tem o meu plano?"],
               ["qual plano eu tinha antes?", "qual era meu plano de internet antigo?"],
               "qual era meu plano de internet antes de {month}?"),
        "en": (["100mb plan", "200mb plan", "50mb plan"],
               ["500mb plan", "1gb plan", "300mb plan"],
               "I have the {v} for internet.",
               "With the {v} the internet gets slow at night.",
               "I upgraded, I'm on the {v} now.",
               ["what internet plan do I have?", "how fast is my internet plan?"],
               ["which plan did I have before?", "what was my old internet plan?"],
               "what internet plan did I have before {month}?"),
    },
    "payment": {
        "pt": (["dinheiro na entrega", "boleto", "cartão de débito"],
               ["pix", "cartão de crédito em 3 vezes", "débito automático"],
               "Eu pago os pedidos sempre com {v}, não mexo com outra coisa.",
               "Vou pagar com {v} de novo, como sempre.",
               "Mudei a forma de pagamento: agora pago os pedidos com {v}.",
               ["como eu pago os pedidos?", "qual é a minha forma de pagamento?"],
               ["como eu pagava antes?", "qual era minha forma de pagamento antiga?"],
               "como eu pagava os pedidos antes de {month}?"),
        "en": (["cash on delivery", "bank transfer", "debit card"],
               ["credit card", "PayPal", "automatic debit"],
               "I always pay my orders with {v}, nothing else.",
               "I'll pay with {v} again, as always.",
               "I changed my payment method: I pay my orders with {v} now.",
               ["how do I pay for my orders?", "what is my payment method?"],
               ["how did I pay before?", "what was my old payment method?"],
               "how did I pay for my orders before {month}?"),
    },
    "dose": {
        "pt": (["losartana 50mg uma vez ao dia", "metformina 500mg duas vezes ao dia", "sinvastatina 20mg à noite"],
               ["losartana 100mg uma vez ao dia", "metformina 850mg duas vezes ao dia", "sinvastatina 40mg à noite"],
               "Eu tomo {v}, o remédio é de uso contínuo.",
               "Preciso repor o remédio, continuo com {v}.",
               "O médico mudou a receita: agora tomo {v}.",
               ["qual a dose do meu remédio?", "quanto do remédio de uso contínuo eu tomo?"],
               ["qual era a dose antiga do meu remédio?", "quanto eu tomava antes da receita nova?"],
               "qual era a dose do meu remédio antes de {month}?"),
        "en": (["lisinopril 10mg once a day", "metformin 500mg twice a day", "atorvastatin 20mg at night"],
               ["lisinopril 20mg once a day", "metformin 1000mg twice a day", "atorvastatin 40mg at night"],
               "I take {v}, it's a continuous-use medication.",
               "I need a refill, still on {v}.",
               "The doctor changed my prescription: I take {v} now.",
               ["what dose of my medication do I take?", "how much of my continuous-use medication do I take?"],
               ["what was my old medication dose?", "how much did I take before the new prescription?"],
               "what was my medication dose before {month}?"),
    },
    "email": {
        "pt": (["ana.souza@gmail.com", "carlos.lima@hotmail.com", "bia.rocha@yahoo.com.br"],
               ["ana.souza@empresa.com.br", "carlos.lima@gmail.com", "beatriz.rocha@outlook.com"],
               "Meu e-mail é {v}, manda a nota fiscal pra lá.",
               "Manda a nota no e-mail de sempre, {v}.",
               "Troquei de email: agora é {v}, manda as notas pra esse.",
               ["qual é o meu email cadastrado?", "pra qual e-mail vão as notas fiscais?"],
               ["qual era meu e-mail antigo?", "qual email eu usava antes?"],
               "qual era meu e-mail antes de {month}?"),
        "en": (["john.miller@gmail.com", "sarah.k@yahoo.com", "mike.t@hotmail.com"],
               ["john.miller@acme.com", "sarah.king@gmail.com", "mike.turner@outlook.com"],
               "My e-mail is {v}, send the invoice there.",
               "Send the invoice to my usual email, {v}.",
               "I changed my email: it's {v} now, send invoices there.",
               ["what is my email on file?", "which e-mail do the invoices go to?"],
               ["what was my old e-mail?", "which email did I use before?"],
               "what was my email before {month}?"),
    },
}

STABLE = {
    "pt": [("O nome do meu cachorro é {v}, ele late quando chega entrega.", ["Thor", "Paçoca", "Bolinha"],
            "qual é o nome do meu cachorro?"),
           ("Sou alérgico a {v}, anota aí.", ["dipirona", "amendoim", "lactose"], "eu tenho alergia a quê?"),
           ("Eu trabalho como {v}.", ["enfermeira", "motorista de aplicativo", "professora"],
            "qual é a minha profissão?")],
    "en": [("My dog's name is {v}, he barks at every delivery.", ["Rex", "Biscuit", "Luna"], "what is my dog's name?"),
           ("I'm allergic to {v}, please note it.", ["penicillin", "peanuts", "lactose"], "what am I allergic to?"),
           ("I work as a {v}.", ["nurse", "truck driver", "teacher"], "what is my job?")],
}
PURCHASES = {
    "pt": (["fone de ouvido bluetooth", "cafeteira elétrica", "tênis de corrida", "mochila de notebook",
            "luminária de mesa", "garrafa térmica"],
           "Quero comprar um {v}.", "quais produtos eu já comprei com vocês?"),
    "en": (["bluetooth headphones", "electric coffee maker", "running shoes", "laptop backpack", "desk lamp",
            "thermal bottle"],
           "I'd like to buy a {v}.", "which products have I bought from you?"),
}
# Service talk that every session repeats (the words of the questions, without the values).
FILLER = {
    "pt": [("Oi, tudo bem? Quero ver uma coisa do meu pedido.",
            "Olá! Claro, posso ajudar com pedido, entrega ou pagamento."),
           ("Vocês ainda entregam no meu endereço?",
            "Sim, entregamos. Vou confirmar o endereço de entrega cadastrado."),
           ("Como funciona o pagamento dos pedidos?", "Você pode pagar na entrega ou pelo app, como preferir."),
           ("Meu plano de internet está caindo de novo.", "Vou verificar o plano e a conexão da sua linha."),
           ("Recebi o e-mail de confirmação, obrigado.",
            "Que bom! O e-mail de confirmação sai sempre depois do pagamento."),
           ("Meu telefone não recebeu o código.", "Vou reenviar o código pro telefone cadastrado."),
           ("O remédio chegou certinho.", "Ótimo! Qualquer dúvida sobre a dose, fale com seu médico."),
           ("Qual o prazo de entrega do pedido?", "O prazo de entrega é de 3 a 5 dias úteis.")],
    "en": [("Hi, I want to check something about my order.",
            "Hello! Sure, I can help with orders, delivery or payment."),
           ("Do you still deliver to my address?", "Yes, we do. I'll confirm the delivery address on file."),
           ("How does payment for orders work?", "You can pay on delivery or in the app, whatever you prefer."),
           ("My internet plan keeps dropping again.", "I'll check the plan and the connection on your line."),
           ("I got the confirmation e-mail, thanks.", "Great! The confirmation email always goes out after payment."),
           ("My phone didn't get the code.", "I'll resend the code to the phone number on file."),
           ("The medication arrived fine.", "Great! For any question about the dose, talk to your doctor."),
           ("What's the delivery time for the order?", "Delivery takes 3 to 5 business days.")],
}
AGENT_ACK = {"pt": ["Anotado, obrigado!", "Certo, atualizei no cadastro.", "Perfeito, está registrado."],
             "en": ["Noted, thanks!", "Sure, I updated your record.", "Perfect, it's on file."]}
CUSTOMERS = [("pt", "Ana", ["address", "payment", "email"]), ("pt", "Carlos", ["plan", "phone", "address"]),
             ("pt", "Beatriz", ["dose", "payment", "phone"]), ("en", "John", ["address", "payment", "plan"]),
             ("en", "Sarah", ["dose", "email", "phone"]), ("en", "Mike", ["plan", "address", "payment"])]
SESSIONS = 9


def _date(session: int) -> str:
    at = datetime(2026, session + 1, 3 + session, 10 + session % 5, 15)
    return at.strftime("%-I:%M %p on %-d %B, %Y").replace("AM", "am").replace("PM", "pm")


def _value(plan: list[tuple], tag: str) -> str:
    attr, age = tag.split(":")
    row = next(p for p in plan if p[0] == attr)
    return row[1] if age == "old" else row[2]


def build(seed: int = 14) -> list[dict]:
    rng = random.Random(seed)
    samples = []
    for index, (lang, name, attrs) in enumerate(CUSTOMERS):
        sessions: list[list[tuple[str, str, str | None]]] = [[] for _ in range(SESSIONS)]  # (speaker, text, tag)
        plan = []
        # Old value stated in session 0-1 and restated later; new value stated in session 3-7.
        for a, attr in enumerate(attrs):
            old_v, new_v = ATTRS[attr][lang][0][index % 3], ATTRS[attr][lang][1][index % 3]
            state_at, change_at = a % 2, 3 + a + rng.randrange(3)
            restate_at = rng.randrange(state_at + 1, change_at)
            plan.append((attr, old_v, new_v, state_at, restate_at, change_at))
            templates = ATTRS[attr][lang]
            sessions[state_at].append(("customer", templates[2].format(v=old_v), f"{attr}:old"))
            sessions[restate_at].append(("customer", templates[3].format(v=old_v), f"{attr}:old"))
            sessions[change_at].append(("customer", templates[4].format(v=new_v), f"{attr}:new"))
        stable = []
        for s, (template, values, question) in enumerate(STABLE[lang]):
            at = rng.randrange(SESSIONS)
            sessions[at].append(("customer", template.format(v=values[index % 3]), f"stable:{s}"))
            stable.append((s, values[index % 3], question))
        items, buy_template, buy_question = PURCHASES[lang]
        bought = rng.sample(items, 3)
        for item, at in zip(bought, rng.sample(range(SESSIONS), 3), strict=True):
            sessions[at].append(("customer", buy_template.format(v=item), "buy"))

        conversation = {"speaker_a": name, "speaker_b": "Atendente" if lang == "pt" else "Agent"}
        tags: dict[str, list[str]] = {}
        for number, lines in enumerate(sessions, start=1):
            turns, filler = [], rng.sample(FILLER[lang], 3)
            # Filler, then the facts of the session (each acknowledged), interleaved.
            script = [("customer", filler[0][0], None), ("agent", filler[0][1], None)]
            for speaker, text, tag in lines:
                script += [("customer", text, tag), ("agent", rng.choice(AGENT_ACK[lang]), None)]
            for customer, agent in filler[1:]:
                script += [("customer", customer, None), ("agent", agent, None)]
            for t, (speaker, text, tag) in enumerate(script, start=1):
                dia = f"D{number}:{t}"
                turns.append({"speaker": name if speaker == "customer" else conversation["speaker_b"],
                              "dia_id": dia, "text": text})
                if tag:
                    tags.setdefault(tag, []).append(dia)
            conversation[f"session_{number}_date_time"] = _date(number - 1)
            conversation[f"session_{number}"] = turns
            # What a fact extractor should get from the session (bench/memory.py --facts).
            conversation[f"session_{number}_facts"] = [
                {"key": tag.split(":")[0], "value": value} for _, _, tag in lines if tag and ":" in tag
                and not tag.startswith("stable") for value in [_value(plan, tag)]]

        qa = []
        months = MONTHS_PT if lang == "pt" else MONTHS_EN
        for attr, old_v, new_v, _state_at, _restate_at, change_at in plan:
            templates = ATTRS[attr][lang]
            current, stale = tags[f"{attr}:new"], tags[f"{attr}:old"]
            for question in templates[5]:
                qa.append({"question": question, "answer": new_v, "evidence": current, "stale_evidence": stale,
                           "category": 4, "kind": "current"})
            for question in templates[6]:
                qa.append({"question": question, "answer": old_v, "evidence": stale, "category": 2,
                           "kind": "previous"})
            # Session n is month n; "before <the month of the change>".
            qa.append({"question": templates[7].format(month=months[change_at]), "answer": old_v, "evidence": stale,
                       "category": 2, "kind": "previous"})
        for s, value, question in stable:
            qa.append({"question": question, "answer": value, "evidence": tags[f"stable:{s}"], "category": 4,
                       "kind": "stable"})
        qa.append({"question": buy_question, "answer": ", ".join(bought), "evidence": tags["buy"], "category": 1,
                   "kind": "multi"})
        samples.append({"sample_id": f"cs-{lang}-{name.lower()}", "conversation": conversation, "qa": qa,
                        "language": lang})
    return samples


def main() -> int:
    OUT.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
