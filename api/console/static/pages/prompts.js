// Prompt Studio: org-level system prompt templates with versions, a diff between any two, a
// test run against an agent with a sample message, rollback, and applying a version to an agent.
import { get, patch, post, qs } from "../api.js";
import { confirmDialog, errorText, field, fmtDate, h, t, table, toast } from "../ui.js";

const guard = (fn) => async (...args) => { try { await fn(...args); } catch (err) { toast(errorText(err), "error"); } };
const STARTER = "Você é {{ agent_name }}{% if business_name %}, assistente da {{ business_name }}{% endif %}.\n" +
  "Responda em português, de forma breve e cordial, usando as fontes citadas.";

const kind = (line) => (/^(\+\+\+|---|@@)/.test(line) ? "hdr" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx");

function diffView(text) {
  if (!text) return h("p.hint", t("no_changes"));
  return h("pre.diff", { "aria-label": t("diff") }, text.split("\n").map((line) => h(`span.${kind(line)}`, `${line}\n`)));
}

async function renderTemplate(box, id, agents, refresh) {
  const tpl = await get(`/v1/prompt-templates/${id}`);
  const versions = (await get(`/v1/prompt-templates/${id}/versions`)).data;
  const editor = h("textarea#prompt-body", { rows: 10, value: tpl.body, spellcheck: "false" });
  const note = h("input#prompt-note", { maxlength: 500 });
  const output = h("section#prompt-output", { "aria-live": "polite" });
  const fromV = h("select#diff-from", { "aria-label": t("from") }, versions.map((v) => h("option", { value: v.version, selected: v.version === Math.max(1, tpl.current_version - 1) }, `v${v.version}`)));
  const toV = h("select#diff-to", { "aria-label": t("to") }, versions.map((v) => h("option", { value: v.version, selected: v.version === tpl.current_version }, `v${v.version}`)));
  const agent = h("select#test-agent", agents.map((a) => h("option", { value: a.id }, a.name)));
  const sample = h("input#test-message", { value: "Vocês entregam no sábado?", maxlength: 4000 });
  const reload = refresh;
  box.replaceChildren(
    h("h2", `${tpl.name} · v${tpl.current_version}`), h("p.hint", tpl.description),
    h("form.card", { onsubmit: guard(async (e) => {
      e.preventDefault();
      await post(`/v1/prompt-templates/${id}/versions`, { body: editor.value, note: note.value });
      toast(t("saved")); reload();
    }) }, field(t("template_text"), editor, t("template_hint")), field(t("change_note"), note),
    h("div.actions", h("button.primary", { type: "submit" }, t("save_version")))),
    h("div.card", h("h3", t("test_run")), h("div.grid", field(t("agent"), agent), field(t("sample_message"), sample)),
      h("div.actions",
        h("button#run-test", { type: "button", onclick: guard(async () => {
          output.replaceChildren(h("p.hint", "…"));
          const run = await post(`/v1/prompt-templates/${id}/test-run`, { agent_id: agent.value, message: sample.value });
          output.replaceChildren(h("h3", `${t("rendered_prompt")} (v${run.version})`), h("pre.prompt", run.system_prompt),
            h("h3", `${t("answer")} · ${run.model} · ${run.latency_ms} ms`), h("div.bubble.answer", run.answer));
        }) }, t("run_test")),
        h("button", { type: "button", onclick: guard(async () => {
          const name = agent.selectedOptions[0]?.textContent;
          if (!(await confirmDialog(t("apply_q", { name }), { confirmLabel: t("apply_to_agent") }))) return;
          await patch(`/v1/agents/${agent.value}`, { system_prompt: tpl.body }); toast(t("applied", { name }));
        }) }, t("apply_to_agent"))), output),
    h("div.card", h("h3", t("diff")), h("div.toolbar", fromV, toV, h("button#show-diff", { type: "button", onclick: guard(async () => {
      const d = await get(`/v1/prompt-templates/${id}/diff${qs({ from: fromV.value, to: toV.value })}`);
      diffBox.replaceChildren(diffView(d.diff));
    }) }, t("compare"))), h("div#diff-box")),
    h("h3", t("versions")), table([
      { label: "v", render: (v) => `v${v.version}` }, { label: t("change_note"), render: (v) => v.note },
      { label: t("created"), render: (v) => fmtDate(v.created_at) },
      { label: "", render: (v) => (v.version === tpl.current_version ? h("span.badge.ready", t("current")) :
        h("button.small", { type: "button", onclick: guard(async () => {
          if (!(await confirmDialog(t("rollback_q", { v: v.version }), { confirmLabel: t("rollback") }))) return;
          await post(`/v1/prompt-templates/${id}/rollback`, { version: v.version }); reload();
        }) }, t("rollback"))) },
    ], versions));
  const diffBox = box.querySelector("#diff-box");
}

export async function renderPrompts(main, id) {
  const [templates, agents] = await Promise.all([get("/v1/prompt-templates?limit=100"), get("/v1/agents?limit=100")]);
  const name = h("input#template-name", { required: true, maxlength: 200 });
  const detail = h("section#template-detail");
  const create = h("form.card.inline", { onsubmit: guard(async (e) => {
    e.preventDefault();
    const tpl = await post("/v1/prompt-templates", { name: name.value.trim(), body: STARTER, note: "v1" });
    location.hash = `#/prompts/${tpl.id}`;
  }) }, h("h2", t("new_template")), field(t("name"), name), h("button.primary", { type: "submit" }, t("create")));
  main.replaceChildren(h("h1", t("nav_prompts")), table([
    { label: t("name"), render: (x) => h("a", { href: `#/prompts/${x.id}` }, x.name) },
    { label: t("version"), render: (x) => `v${x.current_version}` }, { label: t("updated"), render: (x) => fmtDate(x.updated_at) },
  ], templates.data, { empty: t("no_templates") }), id ? detail : create);
  if (id) await renderTemplate(detail, id, agents.data, () => renderPrompts(main, id));
}
