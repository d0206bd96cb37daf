// Playground: chat with an agent as a chosen contact, streamed; citations beside each answer; the
// contact's memory (facts, summaries, what retrieval recalled this turn). The conversation id is
// kept in localStorage, so the history is read back from the API after a reload.
import { get, post, qs, streamEvents } from "../api.js";
import { errorText, field, h, t, toast } from "../ui.js";
import { citationList, messageView } from "./chatview.js";

const KEY = "renum.playground";
const load = () => JSON.parse(localStorage.getItem(KEY) || "{}");
const save = (state) => localStorage.setItem(KEY, JSON.stringify(state));

function memoryPanel() {
  const facts = h("ul#facts"), summaries = h("ul#summaries"), recalled = h("ul#recalled");
  const panel = h("aside.memory-panel", { "aria-label": t("memory") }, h("h2", t("memory")),
    h("h3", t("facts")), facts, h("h3", t("summaries")), summaries, h("h3", t("recalled")), recalled);
  const fill = (ul, items, text) => ul.replaceChildren(...(items.length ? items.map((m) => h("li", text(m)))
    : [h("li.hint", t("none"))]));
  return {
    panel,
    async refresh(contactId) {
      if (!contactId) return fill(facts, [], String) || fill(summaries, [], String);
      const [f, s] = await Promise.all([get(`/v1/contacts/${contactId}/memories${qs({ kind: "fact", limit: 50 })}`),
        get(`/v1/contacts/${contactId}/memories${qs({ kind: "summary", limit: 10 })}`)]);
      fill(facts, f.data, (m) => (m.key ? `${m.key}: ${m.content}` : m.content));
      fill(summaries, s.data, (m) => m.content);
    },
    recalled(citations) {
      fill(recalled, citations.filter((c) => c.kind === "memory"), (c) => c.text);
    },
  };
}

export async function renderPlayground(main) {
  const agents = (await get("/v1/agents?limit=100")).data;
  const state = load();
  const preferred = localStorage.getItem("renum.playground.agent");
  if (preferred) { localStorage.removeItem("renum.playground.agent"); if (preferred !== state.agent_id) Object.assign(state, { agent_id: preferred, conversation_id: null }); }
  if (!agents.some((a) => a.id === state.agent_id)) Object.assign(state, { agent_id: agents[0]?.id, conversation_id: null });
  state.contact_external_id = state.contact_external_id || "playground";
  if (!agents.length) {
    main.replaceChildren(h("h1", t("nav_playground")), h("p.empty", t("no_agents_yet")), h("a", { href: "#/agents" }, t("new_agent")));
    return;
  }
  const agentSelect = h("select#pg-agent", { onchange: () => { Object.assign(state, { agent_id: agentSelect.value, conversation_id: null }); save(state); renderPlayground(main); } },
    agents.map((a) => h("option", { value: a.id, selected: a.id === state.agent_id }, a.name)));
  const contact = h("input#pg-contact", { value: state.contact_external_id, maxlength: 200,
    onchange: () => { Object.assign(state, { contact_external_id: contact.value.trim() || "playground", conversation_id: null, contact_id: null }); save(state); renderPlayground(main); } });
  const log = h("div.chat-log", { role: "log", "aria-live": "polite", "aria-label": t("conversation") });
  const memory = memoryPanel();
  const input = h("textarea#pg-input", { rows: 2, required: true, placeholder: t("type_message"),
    onkeydown: (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } } });
  const sendButton = h("button.primary", { type: "submit" }, t("send"));
  const form = h("form.composer", { onsubmit: async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendButton.disabled = true;
    try { await send(text); } catch (err) { toast(errorText(err), "error"); } finally { sendButton.disabled = false; input.focus(); }
  } }, field(t("message"), input), sendButton);

  async function send(text) {
    if (!state.conversation_id) {
      const conv = await post(`/v1/agents/${state.agent_id}/conversations`, { contact_external_id: state.contact_external_id, channel: "console" });
      Object.assign(state, { conversation_id: conv.id, contact_id: conv.contact_id });
      save(state);
    }
    log.append(messageView("user", text).el);
    const answer = messageView("assistant", "");
    answer.el.setAttribute("aria-busy", "true");
    log.append(answer.el);
    let content = "";
    for await (const { event, data } of streamEvents(`/v1/agents/${state.agent_id}/conversations/${state.conversation_id}/messages`,
      { content: text, stream: true })) {
      if (event === "delta") { content += data.content; answer.body.textContent = content; log.scrollTop = log.scrollHeight; }
      else if (event === "citations") { answer.el.lastChild.replaceWith(citationList(data.citations)); memory.recalled(data.citations); }
      else if (event === "error") { answer.body.textContent = content; answer.el.append(h("p.error", { role: "alert" }, data.message)); }
    }
    answer.el.removeAttribute("aria-busy");
    answer.el.dataset.done = "true"; // the stream is over (the browser tests wait for this)
    memory.refresh(state.contact_id).catch(() => {});
  }

  async function history() {
    if (!state.conversation_id) return;
    try {
      const page = await get(`/v1/conversations/${state.conversation_id}/messages${qs({ limit: 100 })}`);
      const msgs = page.data.slice().reverse().filter((m) => m.role === "user" || m.role === "assistant");
      log.replaceChildren(...msgs.map((m) => messageView(m.role, m.content, m.citations).el));
      const lastAnswer = msgs.filter((m) => m.role === "assistant").pop();
      if (lastAnswer) memory.recalled(lastAnswer.citations);
    } catch (err) {
      if (err.status === 404) { Object.assign(state, { conversation_id: null }); save(state); } else throw err;
    }
  }

  save(state);
  main.replaceChildren(h("h1", t("nav_playground")),
    h("div.toolbar", field(t("agent"), agentSelect), field(t("contact_external_id"), contact),
      h("button", { type: "button", onclick: () => { state.conversation_id = null; save(state); renderPlayground(main); } }, t("new_conversation"))),
    h("div.playground", h("section.chat", log, form), memory.panel));
  await history();
  await memory.refresh(state.contact_id);
}
