// DOM helpers: elements are built with textContent only (no innerHTML of API data), and every
// string the operator reads goes through t() (Portuguese and English).
import { MESSAGES } from "./i18n.js";

export let lang = localStorage.getItem("renum.lang") ||
  ((navigator.language || "en").toLowerCase().startsWith("pt") ? "pt" : "en");

export function setLang(value) {
  lang = value;
  localStorage.setItem("renum.lang", value);
  document.documentElement.lang = value === "pt" ? "pt-BR" : "en";
}

export function t(key, vars = {}) {
  const text = (MESSAGES[lang] && MESSAGES[lang][key]) || MESSAGES.en[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

// h("button#id.primary", {onclick}, "text", child...)
export function h(spec, attrs, ...children) {
  // "tag#id.class.class" (id and classes in any order after the tag)
  const tag = spec.match(/^[a-z0-9]*/i)[0] || "div";
  const el = document.createElement(tag);
  const id = spec.match(/#([\w-]+)/);
  if (id) el.id = id[1];
  const classes = [...spec.matchAll(/\.([\w-]+)/g)].map((m) => m[1]);
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v; // a textarea's text is its property, not an attribute
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div.field", h("label", { for: id }, label), input, hint ? h("small.hint", hint) : null);
}

export function table(columns, rows, { empty } = {}) {
  if (!rows.length) return h("p.empty", empty || t("empty"));
  return h("div.table-wrap", h("table",
    h("thead", h("tr", columns.map((c) => h("th", { scope: "col" }, c.label)))),
    h("tbody", rows.map((r) => h("tr", columns.map((c) => h("td", { "data-label": c.label }, c.render(r))))))));
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const el = h(`div.toast.${kind}`, { role: kind === "error" ? "alert" : "status" }, message);
  box.append(el);
  setTimeout(() => el.remove(), 6000);
}

export function errorText(err) {
  return err && err.message ? err.message : String(err);
}

// A modal confirmation (native <dialog>: focus trap and Esc for free); resolves true/false.
export function confirmDialog(message, { confirmLabel, typed } = {}) {
  return new Promise((resolve) => {
    const input = typed ? h("input", { "aria-label": t("confirm_type", { word: typed }), autocomplete: "off" }) : null;
    const ok = h("button.danger", { type: "submit", value: "ok" }, confirmLabel || t("confirm"));
    const dlg = h("dialog.confirm", h("form", { method: "dialog" },
      h("p", message), typed ? h("p.hint", t("confirm_type", { word: typed })) : null, input,
      h("div.actions", h("button", { type: "submit", value: "cancel" }, t("cancel")), ok)));
    if (input) {
      ok.disabled = true;
      input.addEventListener("input", () => { ok.disabled = input.value.trim() !== typed; });
    }
    dlg.addEventListener("close", () => { resolve(dlg.returnValue === "ok"); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export function fmtDate(value) {
  if (!value) return "";
  return new Date(value).toLocaleString(lang === "pt" ? "pt-BR" : "en-US", { dateStyle: "short", timeStyle: "short" });
}

export function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString(lang === "pt" ? "pt-BR" : "en-US", { maximumFractionDigits: digits });
}
