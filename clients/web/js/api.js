// REST client for /api/v1 with the session model:
//   access token  -> this module's memory only (lost on reload, by design)
//   refresh token -> HttpOnly cookie set by the server; refreshed with X-CSRF-Token from wis_csrf
// Nothing here touches localStorage/sessionStorage/IndexedDB/Cache Storage.

const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, problem, { retryAfter = null } = {}) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || (status === 0 ? 'network' : `http_${status}`);
    this.field = this.problem.field;
    this.retryAfter = retryAfter; // seconds, from the server's Retry-After header (throttling)
  }
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date); null when absent. */
function retryAfterOf(res) {
  const v = res.headers.get('retry-after');
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

async function failure(res) {
  return new ApiError(res.status, await parseProblem(res), { retryAfter: retryAfterOf(res) });
}

let accessToken = null;
let tokenUser = null; // the access token's subject (user id): a tab acts for exactly this user
let lastContact = null; // the last response of any kind from the server
let refreshTimer = null;
let refreshing = null;
const listeners = new Set();

/** Subscribe to session changes: fn('login'|'refresh'|'expired'|'logout', userId). */
export function onSession(fn) { listeners.add(fn); return () => listeners.delete(fn); }
function emit(kind) { for (const fn of listeners) fn(kind, tokenUser); }

export function getAccessToken() { return accessToken; }
export function hasSession() { return accessToken !== null; }
/** The user id the current access token speaks for (its `sub`), or null. */
export function sessionUser() { return tokenUser; }
/** When this tab last heard from the server over REST (any status), or null. */
export function lastServerContact() { return lastContact; }

function subjectOf(token) {
  try {
    const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part)).sub ?? null;
  } catch (_) { return null; }
}

/** Forget the access token without telling the server (another tab signed out for everyone). */
export function forget() { dropToken(); }

function csrfToken() {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'wis_csrf') return decodeURIComponent(v.join('='));
  }
  return null;
}

async function parseProblem(res) {
  try {
    const ct = res.headers.get('content-type') || '';
    if (ct.includes('json')) return await res.json();
  } catch (_) { /* fall through */ }
  return { title: res.statusText, status: res.status };
}

function setToken(body) {
  accessToken = body.access_token;
  tokenUser = subjectOf(accessToken);
  clearTimeout(refreshTimer);
  const ttl = Number(body.expires_in) || 900;
  // refresh a minute before expiry (or at 80 % of short lifetimes)
  const lead = Math.min(60, ttl * 0.2);
  refreshTimer = setTimeout(() => { refresh().catch(() => {}); }, Math.max(5, ttl - lead) * 1000);
}

function dropToken() {
  accessToken = null;
  tokenUser = null;
  clearTimeout(refreshTimer);
  refreshTimer = null;
}

async function rawFetch(path, opts) {
  try {
    const res = await fetch(BASE + path, { credentials: 'same-origin', cache: 'no-store', ...opts });
    lastContact = new Date();
    return res;
  } catch (e) {
    throw new ApiError(0, { title: 'network', detail: String(e && e.message) });
  }
}

export async function login(username, password) {
  const res = await rawFetch('/auth/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await failure(res);
  setToken(await res.json());
  emit('login');
}

/**
 * Rotate the refresh cookie and get a new access token. Concurrent callers in this tab share one
 * request, and a Web Lock serialises refreshes across tabs: the server treats a second use of a
 * rotated refresh token as theft and ends the session, so two tabs must never send the same one.
 */
export function refresh() {
  if (refreshing) return refreshing;
  const locks = navigator.locks;
  refreshing = (locks ? locks.request('wis-session-refresh', () => doRefresh()) : doRefresh())
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function doRefresh() {
  const csrf = csrfToken();
  if (!csrf) { dropToken(); throw new ApiError(401, { code: 'no_session' }); }
  const res = await rawFetch('/auth/session/refresh', {
    method: 'POST',
    headers: { 'X-CSRF-Token': csrf, Accept: 'application/json' },
  });
  if (!res.ok) {
    const p = await parseProblem(res);
    if (res.status === 401 || res.status === 403) { const had = accessToken !== null; dropToken(); if (had) emit('expired'); }
    throw new ApiError(res.status, p);
  }
  setToken(await res.json());
  emit('refresh');
}

/** Try to resume a session after page load (refresh cookie may still be valid). */
export async function resume() {
  if (!csrfToken()) return false;
  try { await refresh(); return true; } catch (e) {
    if (e.status === 0) throw e; // offline: let the caller show the offline screen
    return false;
  }
}

export async function logout() {
  const csrf = csrfToken();
  try {
    await rawFetch('/auth/session/logout', {
      method: 'POST',
      headers: csrf ? { 'X-CSRF-Token': csrf } : {},
    });
  } catch (_) { /* offline logout still forgets the token locally */ }
  dropToken();
  emit('logout');
}

/** Authenticated JSON request; retries once after refreshing on 401. */
export async function api(path, { method = 'GET', body, headers = {}, retry = true } = {}) {
  if (!accessToken) {
    try { await refresh(); } catch (e) { if (e.status === 0) throw e; emit('expired'); throw new ApiError(401, { code: 'no_session' }); }
  }
  const h = { Accept: 'application/json', Authorization: `Bearer ${accessToken}`, ...headers };
  const init = { method, headers: h };
  if (body !== undefined) { h['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
  const res = await rawFetch(path, init);
  if (res.status === 401 && retry) {
    try { await refresh(); } catch (e) { if (e.status !== 0) emit('expired'); throw e; }
    return api(path, { method, body, headers, retry: false });
  }
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return null;
  const ct = res.headers.get('content-type') || '';
  return ct.includes('json') ? res.json() : null;
}

export const qs = (params) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
};
