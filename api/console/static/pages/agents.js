// Agents: create and edit model, prompt, knowledge bases, time zone, retention and memory.
import { get, patch, post, del } from "../api.js";
import { confirmDialog, errorText, field, fmtDate, h, t, table, toast } from "../ui.js";

const MODELS = ["renum-local", "gpt-4o-mini", "deepseek-chat"];
const ZONES = ["America/Sao_Paulo", "America/Manaus", "America/Recife", "America/Fortaleza", "America/New_York",
  "Europe/Lisbon", "Europe/London", "UTC"];

function agentForm(agent, kbs, onSaved) {
  const a = agent || { name: "", model: "renum-local", system_prompt: "", knowledge_base_ids: [], timezone: "America/Sao_Paulo",
    retention_days: null, memory_enabled: true, temperature: 0.3, max_tokens: 512, description: "" };
  const name = h("input", { name: "name", required: true, maxlength: 200, value: a.name });
  const model = h("input", { name: "model", required: true, list: "models", value: a.model });
  const prompt = h("textarea", { name: "system_prompt", rows: 6, value: a.system_prompt });
  const zone = h("input", { name: "timezone", list: "zones", value: a.timezone });
  const retention = h("input", { name: "retention_days", type: "number", min: 1, value: a.retention_days ?? "" });
  const temperature = h("input", { name: "temperature", type: "number", min: 0, max: 2, step: 0.1, value: a.temperature });
  const maxTokens = h("input", { name: "max_tokens", type: "number", min: 1, max: 8192, value: a.max_tokens });
  const memory = h("input", { name: "memory_enabled", type: "checkbox", checked: a.memory_enabled });
  const kbBoxes = kbs.map((kb) => h("label.check", h("input", { type: "checkbox", name: "kb", value: kb.id,
    checked: a.knowledge_base_ids.includes(kb.id) }), kb.name));
  return h("form.card", { "aria-label": agent ? t("edit_agent") : t("new_agent"), onsubmit: async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), model: model.value.trim(), system_prompt: prompt.value,
      timezone: zone.value.trim() || "UTC", retention_days: retention.value ? Number(retention.value) : null,
      temperature: Number(temperature.value), max_tokens: Number(maxTokens.value), memory_enabled: memory.checked,
      knowledge_base_ids: kbBoxes.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value) };
    try {
      const saved = agent ? await patch(`/v1/agents/${agent.id}`, body) : await post("/v1/agents", body);
      toast(t("saved"));
      onSaved(saved);
    } catch (err) { toast(errorText(err), "error"); }
  } },
  h("h2", agent ? t("edit_agent") : t("new_agent")),
  h("datalist#models", MODELS.map((m) => h("option", { value: m }))),
  h("datalist#zones", ZONES.map((z) => h("option", { value: z }))),
  h("div.grid", field(t("name"), name), field(t("model"), model, t("model_hint"))),
  field(t("system_prompt"), prompt, t("system_prompt_hint")),
  h("fieldset", h("legend", t("knowledge_bases")), kbBoxes.length ? kbBoxes : h("p.hint", t("no_kbs_yet"))),
  h("div.grid", field(t("timezone"), zone), field(t("retention_days"), retention, t("retention_hint")),
    field(t("temperature"), temperature), field(t("max_tokens"), maxTokens)),
  h("label.check", memory, t("memory_enabled")),
  h("div.actions", h("button.primary", { type: "submit" }, t("save"))));
}

export async function renderAgents(main) {
  const [agents, kbs] = await Promise.all([get("/v1/agents?limit=100"), get("/v1/knowledge-bases?limit=100")]);
  const editor = h("section#agent-editor");
  const kbName = Object.fromEntries(kbs.data.map((k) => [k.id, k.name]));
  const show = (agent) => {
    editor.replaceChildren(agentForm(agent, kbs.data, () => renderAgents(main)));
    editor.querySelector("input").focus();
  };
  main.replaceChildren(h("h1", t("nav_agents")),
    h("div.toolbar", h("button.primary", { type: "button", onclick: () => show(null) }, t("new_agent"))),
    table([
      { label: t("name"), render: (a) => h("button.link", { type: "button", onclick: () => show(a) }, a.name) },
      { label: t("model"), render: (a) => a.model },
      { label: t("knowledge_bases"), render: (a) => a.knowledge_base_ids.map((id) => kbName[id] || id).join(", ") },
      { label: t("timezone"), render: (a) => a.timezone },
      { label: t("created"), render: (a) => fmtDate(a.created_at) },
      { label: "", render: (a) => h("div.row-actions",
        h("a", { href: `#/playground`, onclick: () => localStorage.setItem("renum.playground.agent", a.id) }, t("chat")),
        h("button.link.danger", { type: "button", onclick: async () => {
          if (!(await confirmDialog(t("delete_agent_q", { name: a.name }), { confirmLabel: t("delete") }))) return;
          try { await del(`/v1/agents/${a.id}`); renderAgents(main); } catch (err) { toast(errorText(err), "error"); }
        } }, t("delete"))) },
    ], agents.data, { empty: t("no_agents_yet") }), editor);
  if (!agents.data.length) show(null);
}
