// Analytics: messages, tokens, cost and latency per day, agent and model, from
// GET /v1/analytics/usage and /performance over a date range, and the questions the knowledge
// base did not answer (GET /v1/analytics/knowledge-gaps).
import { get, qs } from "../api.js";
import { field, fmtNumber, h, t, table } from "../ui.js";
import { barChart, lineChart } from "../charts.js";

const iso = (d) => d.toISOString().slice(0, 10);

export async function renderAnalytics(main) {
  const today = new Date();
  const start = h("input#an-start", { type: "date", value: iso(new Date(today - 29 * 864e5)) });
  const end = h("input#an-end", { type: "date", value: iso(today) });
  const out = h("section#analytics-out", { "aria-live": "polite" });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  async function load(fresh = false) {
    const params = qs({ start: start.value, end: end.value, timezone: zone, fresh: fresh || undefined });
    const gapParams = qs({ start: start.value, end: end.value, timezone: zone, limit: 20 });
    const [usage, perf, gaps] = await Promise.all([get(`/v1/analytics/usage${params}`),
      get(`/v1/analytics/performance${params}`), get(`/v1/analytics/knowledge-gaps${gapParams}`)]);
    const days = usage.by_day.map((d) => d.day.slice(5));
    const perfByDay = Object.fromEntries(perf.by_day.map((d) => [d.day, d]));
    const tot = usage.totals;
    const card = (label, value) => h("div.stat", h("span.label", label), h("strong", value));
    out.replaceChildren(
      h("div.stats", card(t("messages"), fmtNumber(tot.messages)), card(t("answers"), fmtNumber(tot.turns)),
        card(t("tokens"), fmtNumber(tot.total_tokens)), card(t("cost"), `US$ ${fmtNumber(tot.cost_usd, 4)}`),
        card("p50", perf.totals.latency_p50_ms === null ? "–" : `${fmtNumber(perf.totals.latency_p50_ms)} ms`),
        card("p95", perf.totals.latency_p95_ms === null ? "–" : `${fmtNumber(perf.totals.latency_p95_ms)} ms`)),
      h("div.charts",
        barChart(t("messages_per_day"), days, [
          { name: t("customer"), values: usage.by_day.map((d) => d.user_messages), cls: "s1" },
          { name: t("agent"), values: usage.by_day.map((d) => d.assistant_messages), cls: "s2" }]),
        barChart(t("tokens_per_day"), days, [
          { name: t("prompt_tokens"), values: usage.by_day.map((d) => d.prompt_tokens), cls: "s1" },
          { name: t("completion_tokens"), values: usage.by_day.map((d) => d.completion_tokens), cls: "s2" }]),
        barChart(t("cost_per_day"), days, [{ name: "US$", values: usage.by_day.map((d) => d.cost_usd), cls: "s3" }]),
        lineChart(t("latency_per_day"), days, [
          { name: "p50", values: usage.by_day.map((d) => perfByDay[d.day]?.latency_p50_ms ?? null), cls: "s1" },
          { name: "p95", values: usage.by_day.map((d) => perfByDay[d.day]?.latency_p95_ms ?? null), cls: "s2" }])),
      h("h2", t("by_agent")), table([
        { label: t("agent"), render: (a) => a.agent_name || a.agent_id || "–" },
        { label: t("messages"), render: (a) => fmtNumber(a.messages) },
        { label: t("tokens"), render: (a) => fmtNumber(a.total_tokens) },
        { label: t("cost"), render: (a) => fmtNumber(a.cost_usd, 4) },
        { label: "p50 / p95 ms", render: (a) => { const p = perf.by_agent.find((x) => x.agent_id === a.agent_id);
          return p ? `${fmtNumber(p.latency_p50_ms)} / ${fmtNumber(p.latency_p95_ms)}` : "–"; } },
      ], usage.by_agent),
      h("h2", t("by_model")), table([
        { label: t("model"), render: (m) => m.model || "–" },
        { label: t("answers"), render: (m) => fmtNumber(m.turns) },
        { label: t("tokens"), render: (m) => fmtNumber(m.total_tokens) },
        { label: t("cost"), render: (m) => fmtNumber(m.cost_usd, 4) },
        { label: "p50 / p95 ms", render: (m) => { const p = perf.by_model.find((x) => x.model === m.model);
          return p ? `${fmtNumber(p.latency_p50_ms)} / ${fmtNumber(p.latency_p95_ms)}` : "–"; } },
      ], usage.by_model),
      h("section#knowledge-gaps", h("h2", `${t("knowledge_gaps")} (${fmtNumber(gaps.total)})`),
        h("p.hint", t("knowledge_gaps_hint")), table([
          { label: t("asked_at"), render: (g) => new Date(g.asked_at).toLocaleString() },
          { label: t("agent"), render: (g) => g.agent_name || g.agent_id || "–" },
          { label: t("question"), render: (g) => g.question },
        ], gaps.questions, { empty: t("no_knowledge_gaps") })));
  }
  main.replaceChildren(h("h1", t("nav_analytics")),
    h("form.toolbar", { onsubmit: (e) => { e.preventDefault(); load(true); } }, field(t("from"), start), field(t("to"), end),
      h("button", { type: "submit" }, t("apply")), h("span.hint", zone)), out);
  await load();
}
