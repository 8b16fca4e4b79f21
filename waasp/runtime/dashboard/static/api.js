// The token and the JSON API. The token lives in sessionStorage for the API calls (sent as a
// bearer header only, so no cross-site request can ride on it) and in a cookie so a reload of
// /dashboard passes.

const TOKEN_KEY = "waasp_token";

function cookieToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === TOKEN_KEY) return decodeURIComponent(rest.join("="));
  }
  return "";
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || cookieToken();
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
  document.cookie = `${TOKEN_KEY}=${encodeURIComponent(value)}; path=/; SameSite=Strict`;
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  document.cookie = `${TOKEN_KEY}=; path=/; Max-Age=0; SameSite=Strict`;
}

export class ApiError extends Error {
  constructor(status, message, details) {
    super(message);
    this.status = status;
    this.details = details;
  }

  get field() {
    return this.details && typeof this.details.field === "string" ? this.details.field : null;
  }

  get unauthorized() {
    return this.status === 401 || this.status === 403;
  }
}

// A path with its query string; empty, null and undefined parameters are left out (the API
// refuses parameters it does not know, so only the ones set are sent).
export function path(base, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== "" && value !== null && value !== undefined) query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${base}?${text}` : base;
}

export async function api(target, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token()}`, Accept: "application/json" };
  const init = { method, cache: "no-store", headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(target, init);
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    const message = data && typeof data.error === "string" ? data.error : response.statusText;
    throw new ApiError(response.status, message, data ? data.details : null);
  }
  return data;
}

const contactPath = (sender, channel) =>
  path(`/api/v1/contacts/${encodeURIComponent(sender)}`, { channel });

// Give (sender, channel) this trust level: add the contact, or change the one that exists.
// Either way the API audits it (contact_added or trust_changed). Returns "added" or "changed".
export async function setTrust(sender, channel, trust) {
  try {
    await api("/api/v1/contacts", {
      method: "POST",
      body: { sender_id: sender, channel, trust_level: trust },
    });
    return "added";
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 409) throw err;
  }
  await api(contactPath(sender, channel), { method: "PATCH", body: { trust_level: trust } });
  return "changed";
}

export function saveContact(original, fields) {
  if (!original) return api("/api/v1/contacts", { method: "POST", body: fields });
  const { trust_level, name, notes } = fields;
  return api(contactPath(original.sender_id, original.channel), {
    method: "PATCH",
    body: { trust_level, name, notes },
  });
}

export function deleteContact(contact) {
  return api(contactPath(contact.sender_id, contact.channel), { method: "DELETE" });
}
