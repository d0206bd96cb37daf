// Organization settings: API keys (the secret shown once), members and roles, webhook endpoints
// with their deliveries (redeliver), and channel integrations (Chatwoot inboxes).
import { get, post, patch, del, qs, session } from "../api.js";
import { confirmDialog, errorText, field, fmtDate, h, t, table, toast } from "../ui.js";

const guard = (fn) => async (...args) => { try { await fn(...args); } catch (err) { toast(errorText(err), "error"); } };

async function apiKeys(box) {
  const keys = await get("/v1/api-keys?limit=100");
  const name = h("input#key-name", { required: true, maxlength: 200 });
  const role = h("select", ["member", "admin"].map((r) => h("option", { value: r }, t(`role_${r}`))));
  const secret = h("div", { "aria-live": "polite" });
  box.replaceChildren(h("h2", t("api_keys")), table([
    { label: t("name"), render: (k) => k.name }, { label: t("prefix"), render: (k) => h("code", k.prefix) },
    { label: t("role"), render: (k) => t(`role_${k.role}`) },
    { label: t("last_used"), render: (k) => fmtDate(k.last_used_at) || "–" },
    { label: t("status"), render: (k) => (k.revoked_at ? t("revoked") : t("active")) },
    { label: "", render: (k) => (k.revoked_at ? "" : h("button.link.danger", { type: "button", onclick: guard(async () => {
      if (await confirmDialog(t("revoke_q", { name: k.name }), { confirmLabel: t("revoke") })) { await del(`/v1/api-keys/${k.id}`); apiKeys(box); }
    }) }, t("revoke"))) },
  ], keys.data), h("form.toolbar", { onsubmit: guard(async (e) => {
    e.preventDefault();
    const created = await post("/v1/api-keys", { name: name.value.trim(), role: role.value });
    await apiKeys(box);
    box.append(h("div.secret", { role: "status" }, h("p", t("key_once")), h("code#new-key", created.key)));
  }) }, field(t("name"), name), field(t("role"), role), h("button.primary", { type: "submit" }, t("create_key"))), secret);
}

async function members(box) {
  const list = await get(`/v1/organizations/${session.org}/members?limit=100`);
  const user = h("input", { required: true, pattern: "[0-9a-fA-F-]{36}", "aria-describedby": "member-hint" });
  const role = h("select", ["member", "admin", "owner"].map((r) => h("option", { value: r }, t(`role_${r}`))));
  box.replaceChildren(h("h2", t("members")), table([
    { label: t("user"), render: (m) => h("code", m.user_id) },
    { label: t("role"), render: (m) => h("select", { "aria-label": t("role"), onchange: guard(async (e) => {
      await patch(`/v1/organizations/${session.org}/members/${m.id}`, { role: e.target.value }); toast(t("saved")); }) },
    ["member", "admin", "owner"].map((r) => h("option", { value: r, selected: r === m.role }, t(`role_${r}`)))) },
    { label: t("since"), render: (m) => fmtDate(m.created_at) },
    { label: "", render: (m) => h("button.link.danger", { type: "button", onclick: guard(async () => {
      if (await confirmDialog(t("remove_member_q"), { confirmLabel: t("remove") })) { await del(`/v1/organizations/${session.org}/members/${m.id}`); members(box); }
    }) }, t("remove")) },
  ], list.data), h("form.toolbar", { onsubmit: guard(async (e) => {
    e.preventDefault(); await post(`/v1/organizations/${session.org}/members`, { user_id: user.value.trim(), role: role.value }); members(box);
  }) }, field(t("user_id"), user, t("member_hint")), field(t("role"), role), h("button", { type: "submit" }, t("add_member"))));
}

async function webhooks(box) {
  const list = await get("/v1/webhooks?limit=100");
  const url = h("input", { type: "url", required: true, placeholder: "https://" });
  const deliveries = h("div#deliveries");
  const showDeliveries = guard(async (ep) => {
    const page = await get(`/v1/webhooks/${ep.id}/deliveries${qs({ limit: 50 })}`);
    deliveries.replaceChildren(h("h3", `${t("deliveries")} · ${ep.url}`), table([
      { label: t("event"), render: (d) => d.event_type }, { label: t("status"), render: (d) => d.status },
      { label: t("attempts"), render: (d) => d.attempts },
      { label: t("last_error"), render: (d) => d.last_error || (d.last_status_code ? `HTTP ${d.last_status_code}` : "") },
      { label: t("created"), render: (d) => fmtDate(d.created_at) },
      { label: "", render: (d) => h("button.small", { type: "button", onclick: guard(async () => {
        await post(`/v1/webhooks/${ep.id}/deliveries/${d.id}/redeliver`); toast(t("redelivery_queued")); showDeliveries(ep); }) }, t("redeliver")) },
    ], page.data, { empty: t("no_deliveries") }));
  });
  box.replaceChildren(h("h2", t("webhooks")), table([
    { label: "URL", render: (w) => h("button.link", { type: "button", onclick: () => showDeliveries(w) }, w.url) },
    { label: t("events"), render: (w) => (w.event_types.length ? w.event_types.join(", ") : t("all")) },
    { label: t("status"), render: (w) => (w.active ? t("active") : t("paused")) },
    { label: "", render: (w) => h("button.link.danger", { type: "button", onclick: guard(async () => {
      if (await confirmDialog(t("delete_q", { name: w.url }), { confirmLabel: t("delete") })) { await del(`/v1/webhooks/${w.id}`); webhooks(box); }
    }) }, t("delete")) },
  ], list.data, { empty: t("no_webhooks") }), h("form.toolbar", { onsubmit: guard(async (e) => {
    e.preventDefault();
    const created = await post("/v1/webhooks", { url: url.value.trim() });
    await webhooks(box);
    box.append(h("div.secret", { role: "status" }, h("p", t("secret_once")), h("code", created.secret)));
  }) }, field(t("endpoint_url"), url), h("button", { type: "submit" }, t("add_webhook"))), deliveries);
}

async function channels(box) {
  const [list, agents] = await Promise.all([get("/v1/channel-integrations?limit=100"), get("/v1/agents?limit=100")]);
  const agentName = Object.fromEntries(agents.data.map((a) => [a.id, a.name]));
  const agent = h("select", agents.data.map((a) => h("option", { value: a.id }, a.name)));
  const base = h("input", { type: "url", required: true, placeholder: "https://app.chatwoot.com" });
  const account = h("input", { required: true, inputmode: "numeric" });
  const token = h("input", { type: "password", required: true, autocomplete: "off" });
  box.replaceChildren(h("h2", t("channels")), table([
    { label: t("name"), render: (c) => c.name || c.kind }, { label: t("agent"), render: (c) => agentName[c.agent_id] || c.agent_id },
    { label: "Chatwoot", render: (c) => `${c.base_url} #${c.account_id}` },
    { label: t("inbound_path"), render: (c) => h("code", c.inbound_path) },
    { label: "", render: (c) => h("button.link.danger", { type: "button", onclick: guard(async () => {
      if (await confirmDialog(t("delete_q", { name: c.name || c.base_url }), { confirmLabel: t("delete") })) { await del(`/v1/channel-integrations/${c.id}`); channels(box); }
    }) }, t("delete")) },
  ], list.data, { empty: t("no_channels") }), h("div", agents.data.length ? h("form.card", { onsubmit: guard(async (e) => {
    e.preventDefault();
    await post("/v1/channel-integrations", { agent_id: agent.value, base_url: base.value.trim(), account_id: account.value.trim(),
      api_access_token: token.value });
    channels(box);
  }) }, h("h3", t("add_chatwoot")), h("div.grid", field(t("agent"), agent), field("Chatwoot URL", base), field(t("account_id"), account),
    field(t("access_token"), token)), h("button", { type: "submit" }, t("add_channel"))) : null));
}

export async function renderSettings(main) {
  const sections = [h("section.card#keys"), h("section.card#members"), h("section.card#webhooks"), h("section.card#channels")];
  main.replaceChildren(h("h1", t("nav_settings")), ...sections);
  const loaders = [apiKeys, members, webhooks, channels];
  await Promise.all(loaders.map((load, i) => load(sections[i]).catch((err) =>
    sections[i].replaceChildren(h("p.error", { role: "alert" }, errorText(err))))));
}
