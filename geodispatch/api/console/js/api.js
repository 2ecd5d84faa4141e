// The dispatch API over fetch: the key lives in sessionStorage and travels only in the
// Authorization header (never in a URL). Every failure becomes an ApiError carrying the
// server's {"error": code, "detail": message} body.

const KEY = "geodispatch.key";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.error) || (status === 0 ? "network" : "http_" + status);
    this.body = body || {};
  }
}

// The server's clock, for countdowns to deadlines it set (an operator's PC clock may be off).
// The Date header has whole seconds, so the estimate errs towards "the server is behind": a
// countdown never reaches zero before the server's own.
let serverOffsetMs = 0;
function noteServerTime(response) {
  const date = Date.parse(response.headers.get("Date") || "");
  if (isFinite(date)) serverOffsetMs = date - Date.now();
}
/** Now on the server's clock, milliseconds since the epoch. */
export function serverNow() { return Date.now() + serverOffsetMs; }

export function getKey() { return sessionStorage.getItem(KEY); }
export function setKey(key) { sessionStorage.setItem(KEY, key); }
export function clearKey() { sessionStorage.removeItem(KEY); }

const listeners = { unauthorized: [] };
/** Call fn(error) when any request answers 401 (expired or revoked key). */
export function onUnauthorized(fn) { listeners.unauthorized.push(fn); }

export async function request(method, path, body, { key = getKey(), signal } = {}) {
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = "Bearer " + key;
  const init = { method, headers, signal, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { error: "network", detail: String(err.message || err) });
  }
  noteServerTime(response);
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: "http_" + response.status, detail: text.slice(0, 200) }; }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401) listeners.unauthorized.forEach((fn) => fn(error));
    throw error;
  }
  return data;
}

export const api = {
  get: (path, opts) => request("GET", path, undefined, opts),
  post: (path, body, opts) => request("POST", path, body, opts),
  patch: (path, body, opts) => request("PATCH", path, body, opts),
};

/** Who the key belongs to ({role, unit_id}); 401 for a bad key. */
export function whoami(key) { return api.get("/me", { key }); }
