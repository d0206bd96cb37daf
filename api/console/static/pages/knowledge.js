// Knowledge bases: create, upload by drag-and-drop, live ingest progress (polling the document
// API while anything is queued or processing), failures with their reason and a retry button.
import { api, get, post, del } from "../api.js";
import { confirmDialog, errorText, field, fmtDate, fmtNumber, h, t, table, toast } from "../ui.js";

const POLL_MS = 1000;

export async function renderKnowledge(main) {
  const kbs = await get("/v1/knowledge-bases?limit=100");
  const name = h("input", { name: "kb_name", required: true, maxlength: 200 });
  const language = h("select", { name: "language" }, ["portuguese", "english", "simple"].map((l) =>
    h("option", { value: l }, t(`lang_${l}`))));
  const form = h("form.card.inline", { "aria-label": t("new_kb"), onsubmit: async (e) => {
    e.preventDefault();
    try {
      const kb = await post("/v1/knowledge-bases", { name: name.value.trim(), language: language.value });
      location.hash = `#/knowledge/${kb.id}`;
    } catch (err) { toast(errorText(err), "error"); }
  } }, h("h2", t("new_kb")), h("div.grid", field(t("name"), name), field(t("language"), language)),
  h("div.actions", h("button.primary", { type: "submit" }, t("create"))));
  main.replaceChildren(h("h1", t("nav_knowledge")), table([
    { label: t("name"), render: (k) => h("a", { href: `#/knowledge/${k.id}` }, k.name) },
    { label: t("language"), render: (k) => t(`lang_${k.language}`) },
    { label: t("embedding_model"), render: (k) => k.embedding_model },
    { label: t("created"), render: (k) => fmtDate(k.created_at) },
  ], kbs.data, { empty: t("no_kbs_yet") }), form);
}

function statusCell(doc, retry) {
  const pct = Math.round((doc.progress || 0) * 100);
  const label = t(`status_${doc.status}`);
  if (doc.status === "failed") {
    return h("div.status.failed", h("span.badge.failed", label), h("span.reason", doc.error || ""),
      h("button.small", { type: "button", onclick: () => retry(doc) }, t("retry")));
  }
  return h("div.status", h("span", { class: `badge ${doc.status}` }, label),
    doc.status === "ready" ? null : h("progress", { max: 100, value: pct, "aria-label": `${label} ${pct}%` }),
    doc.status === "ready" ? null : h("span.pct", `${pct}%`));
}

async function upload(kbId, files, refresh) {
  for (const file of files) {
    const form = new FormData();
    form.append("file", file, file.name);
    try {
      await api("POST", `/v1/knowledge-bases/${kbId}/documents`, form);
      toast(t("uploaded", { name: file.name }));
    } catch (err) { toast(`${file.name}: ${errorText(err)}`, "error"); }
    refresh();
  }
}

export async function renderKnowledgeBase(main, kbId) {
  const kb = await get(`/v1/knowledge-bases/${kbId}`);
  const list = h("section#documents", { "aria-live": "polite" });
  let timer = null;
  let stopped = false;
  const retry = async (doc) => {
    try { await post(`/v1/documents/${doc.id}/reprocess`); refresh(); } catch (err) { toast(errorText(err), "error"); }
  };
  const remove = async (doc) => {
    if (!(await confirmDialog(t("delete_doc_q", { name: doc.title }), { confirmLabel: t("delete") }))) return;
    try { await del(`/v1/documents/${doc.id}`); refresh(); } catch (err) { toast(errorText(err), "error"); }
  };
  async function refresh() {
    clearTimeout(timer);
    if (stopped) return;
    const docs = await get(`/v1/knowledge-bases/${kbId}/documents?limit=100`);
    list.replaceChildren(table([
      { label: t("title"), render: (d) => d.title },
      { label: t("status"), render: (d) => statusCell(d, retry) },
      { label: t("chunks"), render: (d) => fmtNumber(d.chunk_count) },
      { label: t("size"), render: (d) => `${fmtNumber(d.size_bytes / 1024, 1)} KB` },
      { label: t("updated"), render: (d) => fmtDate(d.updated_at) },
      { label: "", render: (d) => h("button.link.danger", { type: "button", onclick: () => remove(d) }, t("delete")) },
    ], docs.data, { empty: t("no_docs_yet") }));
    if (docs.data.some((d) => d.status === "queued" || d.status === "processing")) timer = setTimeout(refresh, POLL_MS);
  }
  const input = h("input#file-input.visually-hidden", { type: "file", multiple: true,
    accept: ".txt,.md,.html,.htm,.pdf,.docx,.json", onchange: () => upload(kbId, input.files, refresh) });
  const drop = h("label.dropzone", { for: "file-input", tabindex: "0",
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } },
    ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
    ondragleave: () => drop.classList.remove("over"),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove("over"); upload(kbId, e.dataTransfer.files, refresh); } },
  h("strong", t("drop_files")), h("span.hint", t("drop_hint")));
  main.replaceChildren(h("p.crumbs", h("a", { href: "#/knowledge" }, t("nav_knowledge")), " / ", kb.name),
    h("h1", kb.name), drop, input, list);
  await refresh();
  return () => { stopped = true; clearTimeout(timer); };
}
