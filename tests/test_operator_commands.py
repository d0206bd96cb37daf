"""`./renum ingest DIR --kb NAME` and `./renum chat AGENT` against the real API and worker."""
from __future__ import annotations

import argparse
import io

from infra import operator_commands
from tests.support.chat import HOSTED, base_url, create_agent, hosted  # noqa: F401


def test_ingest_a_folder_then_chat(base_url, hosted, new_tenant, celery_worker, client, tmp_path, monkeypatch, capsys):
    tenant = new_tenant()
    monkeypatch.setenv("RENUM_URL", base_url.removesuffix("/v1"))
    monkeypatch.setenv("RENUM_TOKEN", tenant.token)
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "entregas.md").write_text("# Entregas\n\nEntregamos em Recife em até 2 dias úteis.")
    (docs / "sub" / "trocas.txt").write_text("Trocas em até 7 dias com a nota fiscal.")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (docs / "image.png").write_bytes(b"\x89PNG")  # not a document type: skipped
    code = operator_commands.ingest(argparse.Namespace(dir=str(docs), kb="Manual", timeout=120))
    out, err = capsys.readouterr()
    assert code == 1  # one document failed
    assert "2 ready, 1 failed, 0 still processing in knowledge base Manual" in out
    assert "failed: broken.pdf" in err
    assert "100.0%" in err
    kbs = client.get("/v1/knowledge-bases", headers=tenant.headers).json()["data"]
    assert [k["name"] for k in kbs] == ["Manual"]
    # Again into the same (existing) knowledge base, only good files: exit 0.
    (docs / "broken.pdf").unlink()
    assert operator_commands.ingest(argparse.Namespace(dir=str(docs), kb="Manual", timeout=120)) == 0
    assert len(client.get("/v1/knowledge-bases", headers=tenant.headers).json()["data"]) == 1

    agent = create_agent(client, tenant, name="Sol", knowledge_base_ids=[kbs[0]["id"]])
    out = io.StringIO()
    assert operator_commands.chat(argparse.Namespace(agent="Sol", contact="cli-1", message=None),
                                  stdin=io.StringIO("Qual o prazo em Recife?\n\n"), out=out) == 0
    text = out.getvalue()
    assert f"chatting with Sol ({HOSTED})" in text
    assert "echo:" in text
    assert "sources: [1]" in text
    assert agent["id"]
