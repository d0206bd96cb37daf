// The console is a client of the public API: every call goes to /v1 with the signed-in user's
// bearer token (a Supabase session, the dev token or an API key) and the chosen organization.
const store = window.localStorage;

export const session = {
  get token() { return store.getItem("renum.token") || ""; },
  get refresh() { return store.getItem("renum.refresh") || ""; },
  get org() { return store.getItem("renum.org") || ""; },
  set org(id) { id ? store.setItem("renum.org", id) : store.removeItem("renum.org"); },
  signIn(token, refresh = "") {
    store.setItem("renum.token", token);
    refresh ? store.setItem("renum.refresh", refresh) : store.removeItem("renum.refresh");
  },
  signOut() { ["renum.token", "renum.refresh", "renum.org"].forEach((k) => store.removeItem(k)); },
};

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "http_error";
  }
}

const config = JSON.parse(document.getElementById("renum-config").textContent);
export { config };

function headers(extra = {}) {
  const h = { Authorization: `Bearer ${session.token}`, ...extra };
  if (session.org) h["X-Organization-Id"] = session.org;
  return h;
}

// A Supabase access token lasts an hour: on a 401, refresh it once and retry.
async function refreshSupabase() {
  if (!session.refresh || !config.supabase_url) return false;
  const resp = await fetch(`${config.supabase_url}/auth/v1/token?grant_type=refresh_token`, {
    method: "POST", headers: { apikey: config.supabase_anon_key, "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: session.refresh }),
  });
  if (!resp.ok) return false;
  const body = await resp.json();
  session.signIn(body.access_token, body.refresh_token);
  return true;
}

export async function api(method, path, body, { retry = true, raw = false } = {}) {
  const init = { method, headers: headers() };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const resp = await fetch(path, init);
  if (resp.status === 401 && retry && (await refreshSupabase())) return api(method, path, body, { retry: false, raw });
  if (raw) return resp;
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    if (resp.status === 401) window.dispatchEvent(new CustomEvent("renum:unauthorized"));
    throw new ApiError(resp.status, data);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// Server-sent events over fetch (EventSource cannot POST or send headers): yields {event, data}.
export async function* streamEvents(path, body) {
  const resp = await api("POST", path, body, { raw: true });
  if (!resp.ok) throw new ApiError(resp.status, await resp.json().catch(() => null));
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}
