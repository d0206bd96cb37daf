// System and model status: readiness of Postgres, Redis and the workers (/readyz), the chat
// models this deployment routes to, the local model, queue depths (/v1/system/status), and the
// organization's agents as served to OpenAI clients (/v1/models).
import { get } from "../api.js";
import { fmtDate, fmtNumber, h, t, table } from "../ui.js";

const badge = (ok, text) => h("span", { class: `badge ${ok ? "ready" : "failed"}` }, text);

export async function renderStatus(main) {
  const ready = await fetch("/readyz").then((r) => r.json()).catch(() => ({ status: "unreachable", checks: {} }));
  const [system, models, agents] = await Promise.all([get("/v1/system/status"), get("/v1/models"), get("/v1/agents?limit=100")]);
  const agentModel = Object.fromEntries(agents.data.map((a) => [`agent:${a.id}`, a.model]));
  const ok = ready.status === "ready";
  main.replaceChildren(h("h1", t("nav_status")),
    h("p", { class: `badge big ${ok ? "ready" : "failed"}`, role: "status" }, ok ? t("system_ready") : t("system_not_ready")),
    table([{ label: t("component"), render: ([k]) => k }, { label: t("status"), render: ([, v]) => badge(v === "ok", v) }],
      Object.entries(ready.checks || {})),
    h("h2", t("llm_models")), table([
      { label: t("model"), render: (m) => h("code", m.name) },
      { label: t("status"), render: (m) => badge(m.available, m.available ? t("available") : t("no_api_key")) },
      { label: "", render: (m) => (!m.local ? "" : system.local_model.model_server ? t("local_served")
        : system.local_model.loaded ? t("local_loaded") : t("local_not_loaded")) },
    ], system.models),
    h("h2", t("queues")), table([
      { label: t("queue"), render: ([q]) => q }, { label: t("waiting_tasks"), render: ([, n]) => (n === null ? "–" : fmtNumber(n)) },
    ], Object.entries(system.queues)),
    h("h2", t("models")), table([
      { label: "id", render: (m) => h("code", m.id) }, { label: t("agent"), render: (m) => m.name },
      { label: t("llm"), render: (m) => agentModel[m.id] || "" },
      { label: t("created"), render: (m) => fmtDate(m.created * 1000) },
    ], models.data, { empty: t("no_agents_yet") }));
}
