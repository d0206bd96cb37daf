"""The console in a real headless Chromium (Debian's `chromium`), against the real API served by
uvicorn, the real worker and the fake hosted model: sign in, create a knowledge base, upload a
document by drag-and-drop and watch it become ready, create an agent, chat with streaming and
citations, reload and see the history, forget a memory, see the analytics chart. A screenshot of
every page is saved under tests/artifacts/console/.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from tests.conftest import wait_for

from tests.support.chat import base_url  # noqa: F401
from tests.support.memory import MODEL  # the fake hosted model, reachable from the worker too

CHROMIUM = os.environ.get("RENUM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - reported as a skip below
    sync_playwright = None
if not CHROMIUM or sync_playwright is None:
    pytest.skip("browser tests skipped: install Debian's chromium (apt-get install chromium) and the playwright "
                "package (pip install -e '.[dev]'); .ci/run installs both", allow_module_level=True)

# Assertions wait like the page does: a shared 2-core CI box can take seconds per answer.
expect.set_options(timeout=20_000)
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "console"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
DOC = ("Política de entregas da Loja Sol.\n\nEntregamos em Recife e Olinda em até 2 dias úteis. "
       "Pedidos acima de R$ 150 têm frete grátis. Aos sábados entregamos somente pela manhã.")


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(base_url=base_url.removesuffix("/v1"), locale="pt-BR",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # HTTP error statuses are logged as "Failed to load resource"; the tests check those themselves.
    page.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in msg.text
            and errors.append(f"console: {msg.text}"))
    page.on("requestfailed", lambda req: "ERR_ABORTED" not in (req.failure or "")
            and errors.append(f"request failed: {req.url} {req.failure}"))
    page.set_default_timeout(20_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


def _report(page) -> str:
    return page.evaluate("document.body.innerHTML")[:2000]


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_page(page, route: str) -> None:
    page.goto(f"/console#/{route}")
    page.wait_for_selector("main[data-ready=true]")


def drop_file(page, selector: str, name: str, text: str) -> None:
    """A real drop event carrying a File, as a user's drag from the desktop produces."""
    page.eval_on_selector(selector, """(zone, [name, text]) => {
        const data = new DataTransfer();
        data.items.add(new File([text], name, { type: "text/plain" }));
        zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    }""", [name, text])


def test_operator_walks_through_the_console(page, new_tenant, admin_conn, celery_worker):
    tenant = new_tenant("Loja Sol")
    # Sign in with the dev token.
    page.goto("/console")
    page.wait_for_selector("#token")
    shot(page, "01-sign-in")
    page.fill("#token", tenant.token)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_selector("main[data-ready=true]")
    expect(page.locator("header .org-name")).to_have_text("Loja Sol")

    # Knowledge base: create, drop a document, watch it reach ready.
    open_page(page, "knowledge")
    page.fill("input[name=kb_name]", "Entregas")
    page.get_by_role("button", name="Criar").click()
    page.wait_for_selector(".dropzone")
    drop_file(page, ".dropzone", "entregas.txt", DOC)
    expect(page.locator("#documents .badge.ready")).to_have_count(1, timeout=60_000)
    expect(page.locator("#documents")).to_contain_text("entregas.txt")
    shot(page, "02-knowledge-base")

    # Agent on the (fake) hosted model, grounded on the knowledge base.
    open_page(page, "agents")
    page.fill("input[name=name]", "Sol")
    page.fill("input[name=model]", MODEL)
    page.get_by_label("Entregas").check()
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator("table")).to_contain_text("Sol")
    shot(page, "03-agents")
    # Consolidate memory 1 s after the exchange instead of the default 5 minutes of idleness.
    agent = next(a for a in page.request.get("/v1/agents", headers={"Authorization": f"Bearer {tenant.token}"})
                 .json()["data"] if a["name"] == "Sol")
    assert agent["model"] == MODEL
    assert len(agent["knowledge_base_ids"]) == 1
    assert page.request.patch(f"/v1/agents/{agent['id']}", data={"settings": {"memory_idle_s": 1}},
                              headers={"Authorization": f"Bearer {tenant.token}"}).ok

    # Playground: a streamed answer with its citations beside it.
    open_page(page, "playground")
    question = "Vocês entregam em Olinda no sábado?"
    page.fill("#pg-input", question)
    with page.expect_response(lambda r: r.url.endswith("/messages") and r.request.method == "POST") as sent:
        page.get_by_role("button", name="Enviar").click()
    assert sent.value.headers["content-type"].startswith("text/event-stream")
    answer = page.locator("article.msg.assistant[data-done=true]")
    expect(answer).to_have_count(1)
    expect(answer.locator(".text")).to_contain_text("echo:")
    expect(answer.locator("aside.citations li")).not_to_have_count(0)
    expect(answer.locator("aside.citations")).to_contain_text("entregas.txt")
    shot(page, "04-playground")

    # The history survives a reload (read back from the API).
    page.reload()
    page.wait_for_selector("main[data-ready=true]")
    expect(page.locator("article.msg.user .text")).to_have_text(question)
    expect(page.locator("article.msg.assistant aside.citations")).to_contain_text("entregas.txt")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    shot(page, "05-playground-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    open_page(page, "conversations")
    page.locator("#conversation-list button.link").first.click()
    expect(page.locator("#conversation-detail article.msg")).to_have_count(2)
    shot(page, "06-conversations")

    # Contacts: the worker indexed the exchange as memories; forget one.
    contact_id = admin_conn.execute("select id from public.contacts where organization_id = %s and external_id = "
                                    "'playground'", [tenant.org_id]).fetchone()[0]
    open_page(page, "contacts")
    shot(page, "07-contacts")
    open_page(page, f"contacts/{contact_id}")
    for _ in range(60):  # the worker indexes the exchange a few seconds after it
        if page.locator("#memories tbody tr").count() >= 1:
            break
        page.wait_for_timeout(1000)
        page.reload()
        page.wait_for_selector("main[data-ready=true]")
    rows = page.locator("#memories tbody tr").count()
    shot(page, "08-contact-memories")
    assert rows >= 1, f"the worker never indexed the playground exchange: {page.locator('main').inner_text()}"
    def memory_ids() -> set:
        return {r[0] for r in admin_conn.execute("select id from public.memories where contact_id = %s",
                                                 [contact_id]).fetchall()}
    before = memory_ids()
    page.locator("#memories button.danger").first.click()
    page.locator("dialog button.danger").click()
    # The worker may add a memory (the next turn, a summary) meanwhile: one of those shown is gone.
    forgotten = wait_for(lambda: before - memory_ids(), timeout=20, message="a forgotten memory")
    assert len(forgotten) == 1

    # Prompt Studio: a template, a second version, the diff, a test run against the agent, a rollback.
    open_page(page, "prompts")
    page.fill("#template-name", "Vendas")
    page.get_by_role("button", name="Criar").click()
    page.wait_for_selector("#prompt-body")
    page.fill("#prompt-body", "Você é {{ agent_name }}, da {{ business_name }}. Seja cordial.")
    page.fill("#prompt-note", "cordial")
    page.get_by_role("button", name="Salvar como nova versão").click()
    expect(page.locator("#template-detail h2").first).to_have_text("Vendas · v2")
    page.click("#show-diff")
    expect(page.locator("pre.diff .add")).to_have_text("+Você é {{ agent_name }}, da {{ business_name }}. Seja cordial.")
    expect(page.locator("pre.diff .del")).not_to_have_count(0)
    page.click("#run-test")
    expect(page.locator("#prompt-output pre.prompt")).to_have_text("Você é Sol, da Loja Sol. Seja cordial.")
    expect(page.locator("#prompt-output .answer")).to_contain_text("echo:")
    shot(page, "10-prompt-studio")
    page.get_by_role("button", name="Reverter").click()
    page.locator("dialog button.danger").click()
    expect(page.locator("#template-detail h2").first).to_have_text("Vendas · v3")

    # Analytics: the day's messages are a bar in the chart. The playground's answer is marked as
    # one the answer check stopped (its hosted model is never checked), so it is a knowledge gap.
    open_page(page, "analytics")
    expect(page.locator("svg.chart rect.bar")).not_to_have_count(0)
    expect(page.locator(".stats")).to_contain_text("2")
    expect(page.locator("#knowledge-gaps")).to_contain_text("Nenhuma neste período")
    admin_conn.execute(
        "update public.conversation_history set metadata = metadata || "
        "'{\"answer_check\": {\"answerable\": false, \"margin\": -1.5, \"threshold\": 0.8, \"ms\": 1}}'::jsonb "
        "where organization_id = %s and role = 'assistant'", [tenant.org_id])
    page.reload()
    page.wait_for_selector("main[data-ready=true]")
    expect(page.locator("#knowledge-gaps h2")).to_contain_text("(1)")
    expect(page.locator("#knowledge-gaps td")).to_contain_text([question])
    shot(page, "09-analytics")

    for name, route in (("11-settings", "settings"), ("12-status", "status")):
        open_page(page, route)
        shot(page, name)
    expect(page.locator("main")).to_contain_text("agent:")
    expect(page.locator("main")).to_contain_text("renum-local")
    # English too.
    page.get_by_role("button", name="Switch to English").click()
    page.wait_for_selector("main[data-ready=true]")
    expect(page.locator("nav.main")).to_contain_text("Knowledge")


def test_console_is_only_a_client_of_the_api(page, new_tenant):
    """Without a token nothing but the sign-in form; a bad token is sent back to sign in; another
    organization's knowledge base is a 404 from the API, shown as an error."""
    page.goto("/console#/agents")
    page.wait_for_selector("#token")
    page.fill("#token", "not-a-token")
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_selector("#token")
    owner, intruder = new_tenant(), new_tenant()
    kb = page.request.post("/v1/knowledge-bases", data={"name": f"kb-{uuid.uuid4().hex[:6]}"},
                           headers={"Authorization": f"Bearer {owner.token}"}).json()
    page.fill("#token", intruder.token)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_selector("main[data-ready=true]")
    open_page(page, f"knowledge/{kb['id']}")
    expect(page.locator("main p.error")).to_be_visible()
    assert kb["name"] not in page.locator("main").inner_text()


def test_supabase_email_password_sign_in(browser, base_url, new_tenant, monkeypatch):
    """With a Supabase project configured, the console signs in against Supabase Auth (a local
    fake speaking GoTrue's payloads) and calls the API with that session's token."""
    from api.core.config import get_settings
    from tests.fakes.supabase_auth import ANON_KEY, FakeSupabaseAuth
    settings = get_settings()
    auth = FakeSupabaseAuth(settings.jwt_secret, settings.jwt_audience).start()
    monkeypatch.setattr(settings, "supabase_url", auth.url)
    monkeypatch.setattr(settings, "supabase_anon_key", ANON_KEY)
    tenant = new_tenant("Padaria Pão")
    auth.add_user(str(tenant.user_id), "dona@padaria.test", "s3nha-forte")
    context = browser.new_context(base_url=base_url.removesuffix("/v1"), locale="en-US")
    page = context.new_page()
    try:
        page.goto("/console")
        page.get_by_label("Email").fill("dona@padaria.test")
        page.get_by_label("Password").fill("wrong")
        page.locator("form", has_text="Email and password").get_by_role("button", name="Sign in").click()
        expect(page.locator(".toast.error")).to_contain_text("Invalid login credentials")
        page.get_by_label("Password").fill("s3nha-forte")
        page.locator("form", has_text="Email and password").get_by_role("button", name="Sign in").click()
        page.wait_for_selector("main[data-ready=true]")
        expect(page.locator("header .org-name")).to_have_text("Padaria Pão")
        assert page.evaluate("localStorage.getItem('renum.refresh')")
        shot(page, "00-sign-in-supabase")
        page.goto("/console#/login")
        page.get_by_label("Email").fill("dona@padaria.test")
        page.get_by_role("button", name="Email me a magic link").click()
        expect(page.locator(".toast.info")).to_contain_text("Check your email")
        assert auth.requests[-1]["path"] == "/auth/v1/otp"
        assert auth.requests[-1]["body"]["email"] == "dona@padaria.test"
    finally:
        context.close()
        auth.stop()
