// Shell of the console: sign-in, organization switcher, navigation (hash routes) and pages.
import { config, get, session } from "./api.js";
import { h, lang, setLang, t, toast, errorText } from "./ui.js";
import { renderLogin, consumeMagicLink } from "./pages/login.js";
import { renderAgents } from "./pages/agents.js";
import { renderKnowledge, renderKnowledgeBase } from "./pages/knowledge.js";
import { renderPlayground } from "./pages/playground.js";
import { renderConversations } from "./pages/conversations.js";
import { renderContacts, renderContact } from "./pages/contacts.js";
import { renderAnalytics } from "./pages/analytics.js";
import { renderSettings } from "./pages/settings.js";
import { renderStatus } from "./pages/status.js";
import { renderPrompts } from "./pages/prompts.js";

const PAGES = [
  ["agents", renderAgents], ["knowledge", renderKnowledge], ["playground", renderPlayground],
  ["conversations", renderConversations], ["contacts", renderContacts], ["prompts", renderPrompts],
  ["analytics", renderAnalytics],
  ["settings", renderSettings], ["status", renderStatus],
];
const DETAIL = { knowledge: renderKnowledgeBase, contacts: renderContact, prompts: renderPrompts };
let cleanup = null; // a page's pollers stop when another page opens

function nav(current) {
  return h("nav.main", { "aria-label": t("nav_label") }, h("ul", PAGES.map(([name]) =>
    h("li", h("a", { href: `#/${name}`, "aria-current": current === name ? "page" : null }, t(`nav_${name}`))))));
}

async function orgSwitcher() {
  let orgs = [];
  try {
    orgs = (await get("/v1/organizations")).data || [];
  } catch (err) {
    toast(errorText(err), "error");
  }
  if (!session.org && orgs.length) session.org = orgs[0].id;
  if (orgs.length && !orgs.some((o) => o.id === session.org)) session.org = orgs[0].id;
  const select = h("select#org", { "aria-label": t("organization"), onchange: (e) => { session.org = e.target.value; route(); } },
    orgs.map((o) => h("option", { value: o.id, selected: o.id === session.org }, o.name)));
  return orgs.length > 1 ? select : h("span.org-name", orgs[0] ? orgs[0].name : "");
}

async function shell(current) {
  const langButton = h("button.link", { type: "button", onclick: () => { setLang(lang === "pt" ? "en" : "pt"); route(); },
    "aria-label": t("switch_language") }, lang === "pt" ? "EN" : "PT");
  const signOut = h("button.link", { type: "button", onclick: () => { session.signOut(); location.hash = "#/login"; } },
    t("sign_out"));
  const header = h("header.top", h("a.brand", { href: "#/agents" }, "Renum"), await orgSwitcher(),
    h("div.spacer"), langButton, signOut);
  const main = h("main#main", { tabindex: "-1" });
  document.getElementById("app").replaceChildren(
    h("a.skip", { href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } }, t("skip_to_content")),
    header, nav(current), main);
  return main;
}

export async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  // The previous page is no longer the one shown (tests and assistive tech wait for data-ready).
  document.querySelectorAll("main[data-ready]").forEach((m) => { m.removeAttribute("data-ready"); m.setAttribute("aria-busy", "true"); });
  const [name = "agents", id] = location.hash.replace(/^#\/?/, "").split("/");
  document.documentElement.lang = lang === "pt" ? "pt-BR" : "en";
  if (!session.token || name === "login") {
    document.title = `${t("sign_in")} · Renum`;
    renderLogin(document.getElementById("app"), () => { location.hash = "#/agents"; route(); });
    return;
  }
  const render = id && DETAIL[name] ? DETAIL[name] : (PAGES.find(([n]) => n === name) || PAGES[0])[1];
  const main = await shell(name);
  document.title = `${t(`nav_${name}`)} · Renum`;
  try {
    cleanup = (await render(main, id)) || null;
  } catch (err) {
    main.append(h("p.error", { role: "alert" }, errorText(err)));
  }
  main.dataset.ready = "true"; // the browser tests wait for this
}

window.addEventListener("hashchange", route);
window.addEventListener("renum:unauthorized", () => { session.signOut(); location.hash = "#/login"; });
consumeMagicLink();
setLang(lang);
route();
void config;
