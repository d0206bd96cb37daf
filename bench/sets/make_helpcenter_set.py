"""Write bench/sets/helpcenter-pt/ (BEIR layout): a Portuguese help center of an internet provider
and shop, with near-duplicate passages and colloquial queries, for bench/retrieval.py.

    python -m bench.sets.make_helpcenter_set

Written for this project (free to keep in the repository). What it stresses:
- near duplicates that differ only in a number or a code (plans of 100/300/500 MB and 1 GB, modem
  errors E-104/E-107/E-201, "alterar e-mail" / "alterar senha" / "alterar telefone");
- hyphen and compound variants between query and passage ("email" / "e-mail", "wifi" / "Wi-Fi",
  "pre pago" / "pré-pago", "autoatendimento" / "auto-atendimento", "E104" / "E-104");
- numbers glued to units ("300mb" vs "300 MB", "1gb"), abbreviations and missing accents.
Each query has one relevant passage (score 1).
"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("helpcenter-pt")

PLAN = ("Plano Fibra {n} MB", "O plano Fibra de {n} MB custa R$ {price} por mês, com Wi-Fi 6 incluso, instalação "
        "grátis e franquia ilimitada. A velocidade de upload do plano de {n} MB é de {up} MB. Fidelidade de 12 "
        "meses; sem fidelidade o valor sobe R$ 10.")
PLANS = [("100", "79,90", "50"), ("300", "99,90", "150"), ("500", "129,90", "250")]
ERROR = ("Erro {code} no modem", "Se o modem mostra o código de erro {code}, {cause}. Desligue o modem da tomada por "
         "30 segundos e ligue de novo. Se o erro {code} continuar, abra um chamado no auto-atendimento.")
ERRORS = [("E-104", "o cabo de fibra está desconectado ou dobrado"),
          ("E-107", "a autenticação da linha falhou"),
          ("E-201", "o sinal óptico está fraco")]
ACCOUNT = ("Como alterar {what} da conta", "Para alterar {what} da sua conta, entre no app, toque em Perfil > Dados "
           "da conta > {field} e confirme com o código enviado por SMS. A alteração de {what} vale na hora.")
ACCOUNTS = [("o e-mail", "E-mail"), ("a senha", "Senha"), ("o telefone", "Telefone")]

DOCS = [
    ("plano-1gb", "Plano Fibra 1 GB", "O plano Fibra de 1 GB custa R$ 199,90 por mês, com Wi-Fi 6 incluso, "
     "instalação grátis e franquia ilimitada. A velocidade de upload do plano de 1 GB é de 500 MB. Fidelidade de "
     "12 meses; sem fidelidade o valor sobe R$ 10."),
    ("wifi-nao-conecta", "Wi-Fi não conecta", "Se o celular não conecta no Wi-Fi, confira se a rede aparece na "
     "lista, esqueça a rede e digite a senha de novo. Aparelhos antigos não enxergam a rede de 5 GHz: use a rede "
     "2.4 GHz."),
    ("wifi-senha", "Como trocar a senha do Wi-Fi", "Para trocar a senha do Wi-Fi, acesse 192.168.0.1 no navegador, "
     "entre com o usuário admin e altere a senha em Rede sem fio. Todos os aparelhos precisam conectar de novo."),
    ("wifi-lento", "Wi-Fi lento em alguns cômodos", "Paredes e espelhos enfraquecem o sinal do Wi-Fi. Deixe o "
     "roteador no alto e no centro da casa, ou contrate um repetidor mesh por R$ 15 por mês."),
    ("segunda-via", "Segunda via do boleto", "A 2ª via do boleto sai no app em Financeiro > Faturas ou pelo "
     "WhatsApp, digitando 2 via. O boleto vence todo dia 10 e pode ser pago em qualquer banco ou lotérica."),
    ("pix", "Pagar a fatura com Pix", "Você pode pagar a fatura com Pix: no app, em Financeiro > Faturas, toque em "
     "Pagar com Pix e copie o código. A baixa do pagamento é imediata."),
    ("debito-automatico", "Débito automático", "Para cadastrar o débito automático, informe banco, agência e conta "
     "em Financeiro > Forma de pagamento. O débito começa na fatura seguinte."),
    ("cartao", "Pagar com cartão de crédito", "A fatura pode ser paga com cartão de crédito no app, à vista. "
     "Pedidos da loja podem ser parcelados em até 10 vezes sem juros."),
    ("pre-pago", "Diferença entre pré-pago e pós-pago", "No pré-pago você coloca créditos antes de usar; no "
     "pós-pago recebe uma fatura mensal. Para migrar do pré-pago para o pós-pago, fale com o auto-atendimento."),
    ("autoatendimento", "Auto-atendimento pelo WhatsApp", "O auto-atendimento funciona 24 horas pelo WhatsApp no "
     "número (11) 4000-1234: 2ª via, desbloqueio, chamados técnicos e mudança de endereço."),
    ("mudanca-endereco", "Mudança de endereço da instalação", "Para mudar o endereço da instalação, informe o novo "
     "CEP no app; a equipe técnica agenda a visita em até 5 dias úteis. A mudança de endereço é grátis uma vez "
     "por ano."),
    ("prazo-entrega", "Prazo de entrega dos pedidos da loja", "Pedidos da loja chegam em 3 a 5 dias úteis nas "
     "capitais e em até 10 dias úteis no interior. O prazo conta a partir da confirmação do pagamento."),
    ("rastrear", "Rastrear pedido", "Para rastrear o pedido, use o código de rastreio enviado por e-mail e SMS no "
     "site dos Correios ou no app, em Meus pedidos."),
    ("cancelar-pedido", "Cancelar pedido", "Você pode cancelar o pedido sem custo enquanto ele não saiu para "
     "entrega. Depois disso, recuse a entrega ou peça a devolução."),
    ("devolucao", "Devolução e reembolso", "A devolução é grátis em até 7 dias após o recebimento. O reembolso sai "
     "no mesmo meio de pagamento: Pix em até 2 dias, cartão na próxima fatura."),
    ("troca", "Troca de produto com defeito", "Produto com defeito pode ser trocado em até 30 dias. Abra a troca em "
     "Meus pedidos, imprima a etiqueta e poste nos Correios."),
    ("nota-fiscal", "Nota fiscal por e-mail", "A nota fiscal é enviada para o e-mail cadastrado em até 24 horas "
     "após o faturamento. Você também pode baixar o PDF em Meus pedidos."),
    ("desbloqueio", "Desbloqueio de confiança", "Se a internet foi bloqueada por falta de pagamento, peça o "
     "desbloqueio de confiança no app: a linha volta em até 1 hora e você tem 3 dias para pagar."),
    ("velocidade", "Teste de velocidade", "Para medir a velocidade, conecte o computador no cabo de rede e use o "
     "site de teste indicado no app. Pelo Wi-Fi a velocidade medida é menor."),
    ("tv-canais", "Canais da TV por assinatura", "O pacote de TV tem 120 canais, 40 em HD. Canais de esporte e "
     "filmes são adicionais a partir de R$ 29,90 por mês."),
    ("check-in", "Check-in da visita técnica", "No dia da visita técnica você recebe um SMS quando o técnico faz o "
     "check-in. Confira o nome e a foto do técnico no app antes de abrir a porta."),
    ("fim-de-semana", "Atendimento no fim de semana", "O atendimento por telefone funciona de segunda a sábado, "
     "das 8h às 20h. No fim de semana e feriados use o auto-atendimento do WhatsApp."),
    ("cpf", "Cadastro com CPF de outra pessoa", "O contrato fica no CPF do titular. Para transferir a titularidade "
     "para outro CPF, os dois titulares assinam o termo de transferência no app."),
]
DOCS += [(f"plano-{n}", PLAN[0].format(n=n), PLAN[1].format(n=n, price=price, up=up)) for n, price, up in PLANS]
DOCS += [(f"erro-{code.lower()}", ERROR[0].format(code=code), ERROR[1].format(code=code, cause=cause))
         for code, cause in ERRORS]
DOCS += [(f"alterar-{field.lower().replace('-', '')}", ACCOUNT[0].format(what=what),
          ACCOUNT[1].format(what=what, field=field)) for what, field in ACCOUNTS]

QUERIES = [
    ("quanto custa o plano de 300mb", "plano-300"), ("qto ta a internet de 500 mega", "plano-500"),
    ("plano 100mb preço", "plano-100"), ("valor do plano de 1gb", "plano-1gb"),
    ("upload do plano 300 mega", "plano-300"), ("internet de 100 mb tem fidelidade?", "plano-100"),
    ("modem dando erro E104", "erro-e-104"), ("erro e107 no roteador", "erro-e-107"),
    ("o que é o erro E 201", "erro-e-201"), ("codigo e-104 aparecendo", "erro-e-104"),
    ("mudar meu email", "alterar-email"), ("trocar email do cadastro", "alterar-email"),
    ("esqueci e quero trocar a senha da conta", "alterar-senha"), ("mudar telefone cadastrado", "alterar-telefone"),
    ("wifi nao conecta no celular", "wifi-nao-conecta"), ("como troco a senha do wifi", "wifi-senha"),
    ("wifi fraco no quarto", "wifi-lento"), ("2a via do boleto", "segunda-via"),
    ("segunda via da fatura", "segunda-via"), ("posso pagar com pix?", "pix"),
    ("como coloco debito automatico", "debito-automatico"), ("parcelar no cartao", "cartao"),
    ("diferença pre pago e pos pago", "pre-pago"), ("prepago ou pospago", "pre-pago"),
    ("autoatendimento whatsapp numero", "autoatendimento"), ("vou mudar de casa, e a internet?", "mudanca-endereco"),
    ("quanto tempo demora pra chegar meu pedido", "prazo-entrega"), ("onde rastreio minha compra", "rastrear"),
    ("cancelar compra", "cancelar-pedido"), ("quero meu dinheiro de volta", "devolucao"),
    ("produto veio quebrado", "troca"), ("nf por email", "nota-fiscal"),
    ("internet cortada por falta de pagamento", "desbloqueio"), ("como medir a velocidade", "velocidade"),
    ("quantos canais tem a tv", "tv-canais"), ("checkin do tecnico", "check-in"),
    ("atendem sabado e domingo?", "fim-de-semana"), ("passar o contrato pro cpf da minha mae", "cpf"),
    ("quanto é a mensalidade de 500mb", "plano-500"), ("1 giga quanto custa", "plano-1gb"),
    ("e-mail da conta como altero", "alterar-email"), ("wi fi sem conexão", "wifi-nao-conecta"),
    ("auto atendimento funciona 24h?", "autoatendimento"), ("reembolso no pix demora?", "devolucao"),
]


def main() -> int:
    (OUT / "qrels").mkdir(parents=True, exist_ok=True)
    ids = {d for d, _, _ in DOCS}
    assert all(doc in ids for _, doc in QUERIES), "a query points to a missing passage"
    with open(OUT / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc_id, title, text in DOCS:
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text}, ensure_ascii=False) + "\n")
    with open(OUT / "queries.jsonl", "w", encoding="utf-8") as f:
        for i, (text, _) in enumerate(QUERIES):
            f.write(json.dumps({"_id": f"q{i + 1}", "text": text}, ensure_ascii=False) + "\n")
    with open(OUT / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for i, (_, doc) in enumerate(QUERIES):
            f.write(f"q{i + 1}\t{doc}\t1\n")
    print(OUT, len(DOCS), "docs", len(QUERIES), "queries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
