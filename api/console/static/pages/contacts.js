// Contacts and what the agents remember about them: search the memory as the chat does, forget
// one memory, erase the contact (with a typed confirmation).
import { get, post, del, qs } from "../api.js";
import { confirmDialog, errorText, field, fmtDate, fmtNumber, h, t, table, toast } from "../ui.js";

export async function renderContacts(main) {
  const lookup = h("input#contact-lookup", { type: "search", maxlength: 200 });
  const list = h("section#contact-list");
  async function load(externalId, cursor) {
    const page = await get(`/v1/contacts${qs({ limit: 50, external_id: externalId, cursor })}`);
    list.replaceChildren(table([
      { label: t("name"), render: (c) => h("a", { href: `#/contacts/${c.id}` }, c.name || t("unnamed")) },
      { label: t("contact_external_id"), render: (c) => c.external_id || "" },
      { label: t("created"), render: (c) => fmtDate(c.created_at) },
    ], page.data, { empty: t("no_contacts") }),
    h("div.pager", page.next_cursor ? h("button", { type: "button", onclick: () => load(externalId, page.next_cursor) }, t("next")) : null));
  }
  main.replaceChildren(h("h1", t("nav_contacts")),
    h("form.toolbar", { role: "search", onsubmit: (e) => { e.preventDefault(); load(lookup.value.trim(), null); } },
      field(t("find_by_external_id"), lookup), h("button", { type: "submit" }, t("search"))), list);
  await load(null, null);
}

export async function renderContact(main, contactId) {
  const contact = await get(`/v1/contacts/${contactId}`);
  const memories = h("section#memories");
  const results = h("section#memory-results", { "aria-live": "polite" });
  const includeOld = h("input", { type: "checkbox", onchange: () => load() });

  async function forget(m) {
    if (!(await confirmDialog(t("forget_q", { text: m.content.slice(0, 120) }), { confirmLabel: t("forget") }))) return;
    try { await del(`/v1/contacts/${contactId}/memories/${m.id}`); toast(t("forgotten")); load(); } catch (err) { toast(errorText(err), "error"); }
  }
  async function load() {
    const page = await get(`/v1/contacts/${contactId}/memories${qs({ limit: 100, include_superseded: includeOld.checked })}`);
    memories.replaceChildren(table([
      { label: t("kind"), render: (m) => t(`memory_${m.kind}`) },
      { label: t("content"), render: (m) => (m.key ? h("span", h("strong", `${m.key}: `), m.content) : m.content) },
      { label: t("confidence"), render: (m) => fmtNumber(m.confidence, 2) },
      { label: t("created"), render: (m) => fmtDate(m.created_at) + (m.valid_to ? ` (${t("superseded")})` : "") },
      { label: "", render: (m) => h("button.link.danger", { type: "button", onclick: () => forget(m), "aria-label": `${t("forget")}: ${m.content.slice(0, 40)}` }, t("forget")) },
    ], page.data, { empty: t("no_memories") }));
  }
  const query = h("input#memory-query", { type: "search", required: true, maxlength: 2000 });
  const search = h("form.toolbar", { role: "search", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const found = await post(`/v1/contacts/${contactId}/memories/search`, { query: query.value, k: 8 });
      results.replaceChildren(h("h3", t("recalled")), h("ol", found.hits.map((hit) =>
        h("li", h("span.badge", t(`memory_${hit.kind}`)), " ", hit.content, h("span.score", ` ${fmtNumber(hit.score, 3)}`)))));
    } catch (err) { toast(errorText(err), "error"); }
  } }, field(t("search_memory"), query), h("button", { type: "submit" }, t("search")));
  const erase = h("button.danger", { type: "button", onclick: async () => {
    const word = contact.external_id || contact.name || "apagar";
    if (!(await confirmDialog(t("erase_q"), { confirmLabel: t("erase_contact"), typed: word }))) return;
    try { await del(`/v1/contacts/${contactId}`); toast(t("erased")); location.hash = "#/contacts"; } catch (err) { toast(errorText(err), "error"); }
  } }, t("erase_contact"));
  main.replaceChildren(h("p.crumbs", h("a", { href: "#/contacts" }, t("nav_contacts")), " / ", contact.name || contact.external_id || contact.id),
    h("h1", contact.name || contact.external_id || t("unnamed")),
    h("dl.facts", h("dt", t("contact_external_id")), h("dd", contact.external_id || "–"), h("dt", t("email")), h("dd", contact.email || "–"),
      h("dt", t("created")), h("dd", fmtDate(contact.created_at))),
    h("h2", t("memory")), search, results, h("label.check", includeOld, t("include_superseded")), memories,
    h("div.danger-zone", h("h2", t("danger_zone")), h("p", t("erase_explain")), erase));
  await load();
}
