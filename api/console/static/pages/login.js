// Sign-in: the dev token (`./renum run` prints one) or an API key, and, when the server has a
// Supabase project configured, email + password or a magic link against Supabase Auth.
import { config, session } from "../api.js";
import { field, h, t, toast, errorText } from "../ui.js";

// A magic link comes back as /console#access_token=...&refresh_token=...
export function consumeMagicLink() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (params.get("access_token")) {
    session.signIn(params.get("access_token"), params.get("refresh_token") || "");
    history.replaceState(null, "", `${location.pathname}#/agents`);
  }
}

async function supabase(path, body) {
  const resp = await fetch(`${config.supabase_url}/auth/v1/${path}`, {
    method: "POST", headers: { apikey: config.supabase_anon_key, "Content-Type": "application/json" },
    body: JSON.stringify(body) });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.error_description || data.msg || data.message || `HTTP ${resp.status}`);
  return data;
}

export function renderLogin(root, done) {
  const token = h("textarea#token", { rows: 3, required: true, autocomplete: "off", spellcheck: "false" });
  const tokenForm = h("form.card", { onsubmit: (e) => {
    e.preventDefault();
    session.signIn(token.value.trim());
    session.org = "";
    done();
  } }, h("h2", t("sign_in_token")), field(t("token_label"), token, t("token_hint")),
  h("button.primary", { type: "submit" }, t("sign_in")));
  const forms = [tokenForm];
  if (config.supabase_url) {
    const email = h("input", { type: "email", required: true, autocomplete: "email" });
    const password = h("input", { type: "password", autocomplete: "current-password" });
    const magic = h("button", { type: "button", onclick: async () => {
      try {
        await supabase("otp", { email: email.value, create_user: false,
          options: { email_redirect_to: `${location.origin}/console` } });
        toast(t("magic_link_sent"));
      } catch (err) { toast(errorText(err), "error"); }
    } }, t("magic_link"));
    forms.unshift(h("form.card", { onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = await supabase("token?grant_type=password", { email: email.value, password: password.value });
        session.signIn(body.access_token, body.refresh_token);
        session.org = "";
        done();
      } catch (err) { toast(errorText(err), "error"); }
    } }, h("h2", t("sign_in_email")), field(t("email"), email), field(t("password"), password),
    h("div.actions", h("button.primary", { type: "submit" }, t("sign_in")), magic)));
  }
  root.replaceChildren(h("main.login", h("h1", "Renum"), h("p", t("login_intro")), forms));
}
