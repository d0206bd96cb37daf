// Conversations browser: an agent's conversations (paged, newest first) and their messages with
// the citations of every answer.
import { get, qs } from "../api.js";
import { fmtDate, h, t, table } from "../ui.js";
import { messageView } from "./chatview.js";

export async function renderConversations(main) {
  const agents = (await get("/v1/agents?limit=100")).data;
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const agentId = localStorage.getItem("renum.conversations.agent") || agents[0]?.id;
  const list = h("section#conversation-list");
  const detail = h("section#conversation-detail", { "aria-live": "polite" });
  const select = h("select#conv-agent", { "aria-label": t("agent"), onchange: () => {
    localStorage.setItem("renum.conversations.agent", select.value); load(select.value, null);
  } }, agents.map((a) => h("option", { value: a.id, selected: a.id === agentId }, a.name)));
  const status = h("select#conv-status", { "aria-label": t("status"), onchange: () => load(select.value, null) },
    ["", "open", "closed"].map((s) => h("option", { value: s }, s ? t(`conv_${s}`) : t("all"))));
  const cursors = [];

  async function open(conv) {
    const page = await get(`/v1/conversations/${conv.id}/messages${qs({ limit: 100 })}`);
    detail.replaceChildren(h("h2", `${t("conversation")} · ${fmtDate(conv.created_at)}`),
      h("p.hint", `${conv.channel} · ${t("contact")} `, h("a", { href: `#/contacts/${conv.contact_id}` }, conv.contact_id)),
      h("div.chat-log.readonly", page.data.slice().reverse().map((m) => messageView(m.role, m.content, m.citations).el)));
    detail.scrollIntoView({ block: "start" });
  }

  async function load(agent, cursor) {
    if (!agent) { list.replaceChildren(h("p.empty", t("no_agents_yet"))); return; }
    const page = await get(`/v1/agents/${agent}/conversations${qs({ limit: 25, cursor, status: status.value })}`);
    list.replaceChildren(table([
      { label: t("last_message"), render: (c) => h("button.link", { type: "button", onclick: () => open(c) }, fmtDate(c.last_message_at)) },
      { label: t("channel"), render: (c) => c.channel },
      { label: t("status"), render: (c) => t(`conv_${c.status}`) },
      { label: t("contact"), render: (c) => h("a", { href: `#/contacts/${c.contact_id}` }, c.contact_id.slice(0, 8)) },
    ], page.data, { empty: t("no_conversations") }),
    h("div.pager", cursors.length ? h("button", { type: "button", onclick: () => load(agent, cursors.pop() || null) }, t("previous")) : null,
      page.next_cursor ? h("button", { type: "button", onclick: () => { cursors.push(cursor); load(agent, page.next_cursor); } }, t("next")) : null));
  }
  main.replaceChildren(h("h1", t("nav_conversations")), h("div.toolbar", select, status), h("div.split", list, detail));
  void params;
  await load(agentId, null);
}
