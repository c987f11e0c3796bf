// The REST API client: same-origin cookie session, the CSRF token on every write, and
// the API's `{"error": {"code", "message"}}` bodies turned into thrown `ApiError`s.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = { current: null };

/** Call the API; resolves to the parsed JSON body (or null for 204). */
export async function api(method, path, body, raw = false) {
  const headers = {};
  if (method !== 'GET' && session.current?.csrf_token) {
    headers['X-CSRF-Token'] = session.current.csrf_token;
  }
  let payload;
  if (raw) {
    payload = body;
    headers['Content-Type'] = 'application/wasm';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  const resp = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  if (resp.status === 204) return null;
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const err = data?.error || {};
    throw new ApiError(resp.status, err.code || 'http_' + resp.status, err.message || resp.statusText);
  }
  return data;
}

/** The owner the integration pages act for: '' (me) or an organization slug. */
export function owner() {
  return sessionStorage.getItem('owner') || '';
}

export function setOwner(slug) {
  if (slug) sessionStorage.setItem('owner', slug);
  else sessionStorage.removeItem('owner');
}

/** The integrations base path for the current owner. */
export function base() {
  const slug = owner();
  return slug ? `/api/organizations/${encodeURIComponent(slug)}/integrations` : '/api/integrations';
}

/** The caller's role for the current owner (`owner` for their own account). */
export function role() {
  const slug = owner();
  if (!slug) return 'owner';
  return session.current?.organizations.find((o) => o.slug === slug)?.role || 'member';
}

export const canWrite = () => role() !== 'member';

/** Listeners for job events; pages add theirs and the router clears them. */
export const jobListeners = new Set();

/** Who is signed in (null when nobody). */
export async function loadSession() {
  try {
    session.current = await api('GET', '/api/auth/session');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) session.current = null;
    else throw e;
  }
  const slug = owner();
  if (slug && !session.current?.organizations.some((o) => o.slug === slug)) setOwner('');
  return session.current;
}
