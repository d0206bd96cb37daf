// System and model status: readiness of Postgres, Redis and the workers (/readyz) and the
// organization's agents as served to OpenAI clients (/v1/models).
import { get } from "../api.js";
import { fmtDate, h, t, table } from "../ui.js";

export async function renderStatus(main) {
  const ready = await fetch("/readyz").then((r) => r.json()).catch(() => ({ status: "unreachable", checks: {} }));
  const [models, agents] = await Promise.all([get("/v1/models"), get("/v1/agents?limit=100")]);
  const agentModel = Object.fromEntries(agents.data.map((a) => [`agent:${a.id}`, a.model]));
  const ok = ready.status === "ready";
  main.replaceChildren(h("h1", t("nav_status")),
    h("p", { class: `badge big ${ok ? "ready" : "failed"}`, role: "status" }, ok ? t("system_ready") : t("system_not_ready")),
    table([{ label: t("component"), render: ([k]) => k }, { label: t("status"), render: ([, v]) =>
      h("span", { class: `badge ${v === "ok" ? "ready" : "failed"}` }, v) }], Object.entries(ready.checks || {})),
    h("h2", t("models")), table([
      { label: "id", render: (m) => h("code", m.id) }, { label: t("agent"), render: (m) => m.name },
      { label: t("llm"), render: (m) => agentModel[m.id] || "" },
      { label: t("created"), render: (m) => fmtDate(m.created * 1000) },
    ], models.data, { empty: t("no_agents_yet") }));
}
