// A message with its citations beside it; shared by the playground and the conversations browser.
import { h, t, fmtNumber } from "../ui.js";

export function citationList(citations) {
  if (!citations || !citations.length) return h("aside.citations.empty", { "aria-label": t("citations") });
  return h("aside.citations", { "aria-label": t("citations") }, h("h3", t("citations")),
    h("ol", citations.map((c) => h("li", h("details",
      h("summary", h("span.badge", c.kind === "chunk" ? `[${c.rank}]` : t(`memory_${c.memory_kind || "fact"}`)), " ",
        c.kind === "chunk" ? (c.document_title || t("document")) : t("memory"),
        h("span.score", ` ${fmtNumber(c.score, 3)}`)),
      h("p.cited", c.text),
      c.kind === "chunk" ? h("small.hint", `${t("document")} ${c.document_id} · chunk ${c.chunk_id}`)
        : h("small.hint", `${t("memory")} ${c.memory_id}`))))));
}

export function messageView(role, text, citations) {
  const body = h("div.text", text);
  const aside = citationList(citations || []);
  const el = h(`article.msg.${role}`, { "aria-label": role === "user" ? t("customer") : t("agent") },
    h("div.bubble", h("span.who", role === "user" ? t("customer") : t("agent")), body), aside);
  return { el, body };
}
