// Bootstrap, hash router, top bar (user, language, connection indicator, highest level on screen).
import { h, clear, select, announce } from './dom.js';
import { t, hasText, setLang, getLang, applyStatic, formatAgo, formatClock } from './i18n.js';
import * as session from './api.js';
import { updateHighestLevel } from './classification.js';
import { Stream } from './stream.js';
import { createStore } from './store.js';
import { loginView, offlineView } from './views/login.js';
import { spacesView } from './views/spaces.js';
import { spaceView } from './views/space.js';
import { reportView } from './views/report.js';
import { adminView } from './views/admin.js';
import { settingsView } from './views/settings.js';
import { calloutsView } from './views/callouts.js';
import { startUnread, stopUnread, updateTitle } from './unread.js';

const main = document.getElementById('main');
const store = createStore();
let current = null; // { view, key }
let stream = null;
let connStatus = 'connecting';
let everLive = false;
let nonLiveSince = Date.now();
const STALE_AFTER_MS = 4000;
let flashMessage = null;

// One session per browser: every tab hears sign-in and sign-out at once (BroadcastChannel; nothing
// is written to storage), so no tab keeps showing or acting for a user who is no longer the one
// signed in. Without BroadcastChannel the user-id check on every token refresh still applies.
const tabs = 'BroadcastChannel' in window ? new BroadcastChannel('wis-session') : null;
function tellTabs(msg) { tabs?.postMessage(msg); }
function onTabSignal(msg) {
  if (!msg) return;
  if (msg.type === 'logout') {
    if (!session.hasSession() && !store.me) return;
    session.forget();
    showLogin(t('signed_out_elsewhere'));
  } else if (msg.type === 'login') {
    if (store.me && msg.user_id && msg.user_id === store.me.id) return;
    // someone else (or nobody, here) is now the browser's user: drop what is shown and start again
    const had = Boolean(store.me);
    restart(had ? t('user_changed_elsewhere') : null);
  }
}
if (tabs) tabs.onmessage = (ev) => onTabSignal(ev.data);

const routes = [
  [/^#\/spaces\/([^/]+)\/report(?:\/(joint|actor)(?:\/([^/]+))?)?$/, (m) => reportView({ spaceId: decodeURIComponent(m[1]), scope: m[2] || 'joint', actorId: m[3] ? decodeURIComponent(m[3]) : null })],
  [/^#\/spaces\/([^/]+)\/callouts$/, (m) => calloutsView({ spaceId: decodeURIComponent(m[1]) })],
  [/^#\/spaces\/new$/, () => spacesView({ create: true })],
  [/^#\/spaces\/([^/]+)$/, (m) => spaceView({ spaceId: decodeURIComponent(m[1]) })],
  [/^#\/admin$/, () => adminView({})],
  [/^#\/settings$/, () => settingsView()],
  [/^#\/spaces$/, () => spacesView({})],
];

const ctx = {
  store,
  get stream() { return stream; },
  navigate(hash) { if (window.location.hash === hash) route(); else window.location.hash = hash; },
  rendered() { updateHighestLevel(); },
  isLive() { return connStatus === 'connected' || connStatus === 'polling'; },
};

function setExerciseBanner(on) {
  const b = document.getElementById('exercise-banner');
  b.hidden = !on;
  b.textContent = on ? t('exercise_banner') : '';
}
ctx.setExercise = setExerciseBanner;

async function route() {
  if (!session.hasSession()) { showLogin(); return; }
  const hash = window.location.hash || '#/spaces';
  let factory = null; let match = null;
  for (const [re, f] of routes) { match = hash.match(re); if (match) { factory = f; break; } }
  if (current?.view?.destroy) current.view.destroy();
  setExerciseBanner(false);
  clear(main);
  renderTopbar();
  if (!factory) {
    main.append(h('h1', t('not_found_view')), h('p', h('a', { href: '#/spaces' }, t('back_to_spaces'))));
    current = null; ctx.rendered(); return;
  }
  const view = factory(match);
  const here = { view, hash, failed: false };
  current = here;
  main.append(view.el);
  if (flashMessage) { view.el.prepend(h('p.flash', { role: 'status' }, flashMessage)); flashMessage = null; }
  try { await view.load?.(ctx); } catch (e) {
    if (current !== here) return; // the user moved on while this view was loading
    // a view that failed to load is retried by itself when the connection is back (see onStatus),
    // and offers "Försök igen" at once
    here.failed = true;
    view.el.append(h('div.error-box.view-failed', { role: 'alert' },
      h('p', errorText(e)),
      e.status === 0 ? h('p', t('view_failed_offline')) : null,
      h('button.btn.btn-primary#retry-view', { type: 'button', onclick: () => route() }, t('retry'))));
  }
  if (current !== here) return;
  ctx.rendered();
  updateStale();
  focusMain();
}

function focusMain() {
  const heading = main.querySelector('h1');
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: false }); } else main.focus();
}

/** The user's language for an API error: by its stable code, never the server's English detail. */
export function errorText(e) {
  if (!e) return '';
  if (e.status === 0) return t('error_network');
  if (e.status === 429) return e.retryAfter != null ? t('throttled_wait', { n: e.retryAfter }) : t('err_too_many_attempts');
  if (e.code && hasText(`err_${e.code}`)) return t(`err_${e.code}`);
  if (e.status === 404) return t('error_not_found');
  if (e.status === 403) return t('error_forbidden');
  return t('error_generic', { status: e.status });
}
ctx.errorText = errorText;

function errorBox(e) { return h('p.error-box', { role: 'alert' }, errorText(e)); }

/** Drop the view, the stream and everything held in memory for the signed-in user. */
function teardown() {
  if (current?.view?.destroy) current.view.destroy();
  current = null;
  stream?.stop(); stream = null;
  stopUnread();
  store.reset();
  clear(main);
  setExerciseBanner(false);
  ctx.rendered();
}

/** The browser's user changed under this tab: drop everything, start again from the space list. */
function restart(message) {
  teardown();
  session.forget();
  history.replaceState(null, '', '#/spaces');
  boot(message);
}

function showLogin(message) {
  teardown();
  setExerciseBanner(false);
  renderTopbar();
  const view = loginView({ message, onLoggedIn: () => { tellTabs({ type: 'login', user_id: session.sessionUser() }); startSession(); } });
  main.append(view.el);
  ctx.rendered();
  updateStale();
  view.focus();
}

function showOffline() {
  clear(main);
  renderTopbar();
  main.append(offlineView({ onRetry: () => boot() }).el);
  ctx.rendered();
}

async function startSession() {
  try {
    await store.loadMe();
  } catch (e) {
    if (e.status === 0) { showOffline(); return; }
    showLogin(t('session_expired')); return;
  }
  if (session.sessionUser() && store.me.id !== session.sessionUser()) { restart(); return; }
  stream = new Stream({
    onEvent: (ev) => {
      // only data counts as loaded: an `error` or `revoked` frame says the view is NOT current
      if (ev.type === 'event' || ev.type === 'poll-head') store.lastLoaded = new Date();
      current?.view?.onEvent?.(ev, ctx);
      if (ev.type === 'error' || ev.type === 'revoked') { renderConn(); updateStale(); }
    },
    onStatus: (s, last) => {
      const live = s === 'connected' || s === 'polling';
      if (live) { everLive = true; nonLiveSince = null; } else if (nonLiveSince === null) nonLiveSince = Date.now();
      connStatus = !live && !everLive && s === 'reconnecting' ? 'connecting' : s;
      renderConn(); updateStale();
      if (live && current?.failed) route(); // the view failed while offline: load it again
    },
    onAuthLost: () => showLogin(t('session_expired')),
  });
  everLive = false; nonLiveSince = Date.now(); connStatus = 'connecting';
  stream.start();
  startUnread({ live: () => ctx.isLive(), me: store.me });
  if (!window.location.hash || window.location.hash === '#/login') window.location.hash = '#/spaces';
  else route();
}

// --- top bar ---------------------------------------------------------------------------------
function renderTopbar() {
  const nav = document.getElementById('topnav');
  clear(nav);
  nav.setAttribute('aria-label', t('main_menu'));
  const langSel = select([['sv', t('lang_sv')], ['en', t('lang_en')]], getLang(), { id: 'lang-select', class: 'lang-select' });
  langSel.addEventListener('change', () => { setLang(langSel.value); applyStatic(); updateTitle(); if (session.hasSession()) route(); else showLogin(); });
  const langWrap = h('div.lang', h('label.sr-only', { for: 'lang-select' }, t('language')), langSel);
  const me = store.me;
  if (me) {
    const hash = window.location.hash;
    const links = [h('a', { href: '#/spaces', 'aria-current': hash.startsWith('#/spaces') ? 'page' : null }, t('spaces'))];
    const p = me.permissions || {};
    if (p.manage_actors || p.manage_all_users || (p.manage_users_of || []).length) {
      links.push(h('a', { href: '#/admin', 'aria-current': hash === '#/admin' ? 'page' : null }, t('administration')));
    }
    links.push(h('a', { href: '#/settings', id: 'settings-link', 'aria-current': hash === '#/settings' ? 'page' : null }, t('settings')));
    nav.append(...links,
      h('span.whoami', { title: t('signed_in_as', { name: me.display_name, actor: me.actor?.name, role: t(`role_${me.role}`), clearance: t(`level_${me.effective_clearance || me.clearance}`) }) },
        h('span.whoami-name', me.display_name), ' ', h('span.whoami-actor', me.actor?.short_name || '')),
      langWrap,
      h('button.btn.btn-quiet', { type: 'button', id: 'logout', onclick: async () => {
        teardown(); // clear the screen first: nothing of this user stays while the request runs
        await session.logout();
        tellTabs({ type: 'logout' });
        showLogin(t('logged_out'));
      } }, t('logout')));
  } else {
    nav.append(langWrap);
  }
  renderConn();
}

/** The last contact with the server: any stream frame the stream counts, or any REST response. */
function lastContact() {
  const a = stream?.lastUpdate || null; const b = session.lastServerContact();
  if (!a) return b; if (!b) return a;
  return a > b ? a : b;
}

/** The space the open view follows live (space log, lägesbild), once it has subscribed. */
function viewSpace() { return current?.view?.followed || null; }

/** The open view's space is no longer followed: the server refused the subscription (an `error`
 * frame, e.g. after a reconnect) or ended it (`revoked`). A live socket does not make it current. */
function unfollowed() {
  const sid = viewSpace();
  return Boolean(sid && stream && !stream.follows(sid));
}

/** "senast uppdaterad": for a view that follows a space, the last time the server confirmed that
 * space current (a frame on its live subscription, a poll); otherwise the last contact. */
function lastUpdated() {
  const sid = viewSpace();
  if (!sid || !stream) return lastContact();
  return stream.spaceFreshAt(sid) || store.lastLoaded;
}

function renderConn() {
  const last = lastUpdated();
  const el = document.getElementById('conn');
  if (!session.hasSession() || !stream) { clear(el); el.hidden = true; delete el.dataset.state; return; }
  const state = unfollowed() && ctx.isLive() ? 'unfollowed' : connStatus;
  const agoText = last ? ` · ${t('conn_since', { ago: formatAgo(Date.now() - last.getTime()) })}` : '';
  if (el.dataset.state === state && el.dataset.lang === getLang() && !el.hidden) {
    // same state: only refresh the (not announced) time, so screen readers hear state changes only
    const ago = el.querySelector('.conn-ago');
    if (ago) ago.textContent = agoText; else if (agoText) el.append(h('span.conn-ago', { 'aria-hidden': 'true' }, agoText));
    return;
  }
  clear(el);
  el.hidden = false;
  el.dataset.lang = getLang();
  const key = { connected: 'conn_connected', polling: 'conn_polling', offline: 'conn_offline', connecting: 'conn_connecting', unfollowed: 'conn_unfollowed' }[state] || 'conn_reconnecting';
  el.className = `conn conn-${state}`;
  el.dataset.state = state;
  el.append(h('span.conn-dot', { 'aria-hidden': 'true' }), h('span.conn-state', t(key)));
  if (agoText) el.append(h('span.conn-ago', { 'aria-hidden': 'true' }, agoText));
}

function updateStale() {
  const banner = document.getElementById('stale-banner');
  const graceOver = connStatus === 'offline' || (nonLiveSince !== null && Date.now() - nonLiveSince >= STALE_AFTER_MS);
  const notFollowed = Boolean(session.hasSession() && ctx.isLive() && unfollowed());
  const stale = notFollowed || Boolean(session.hasSession() && stream && !ctx.isLive() && current !== null && graceOver);
  banner.hidden = !stale;
  main.classList.toggle('is-stale', Boolean(stale));
  if (stale) {
    const at = lastUpdated() || store.lastLoaded;
    const text = t(notFollowed ? 'stale_unfollowed_banner' : 'stale_banner', { time: at ? formatClock(at) : '–' });
    if (banner.textContent !== text) banner.textContent = text; // avoid re-announcing the alert
  }
}

setInterval(() => { if (stream && (!ctx.isLive() || unfollowed())) updateStale(); if (stream) renderConn(); }, 1000);

session.onSession((kind, userId) => {
  if (kind === 'expired' && store.me) showLogin(t('session_expired'));
  // a refresh through the shared cookie may come back for another user (signed in in another tab
  // without this tab hearing it): never act for them under this tab's header — start again
  if (kind === 'refresh' && store.me && userId && userId !== store.me.id) restart(t('user_changed_elsewhere'));
});

window.addEventListener('hashchange', () => { if (session.hasSession()) route(); });
window.addEventListener('online', () => {
  if (!session.hasSession() && main.querySelector('.offline-view')) boot();
  else if (current?.failed) route();
});

async function boot(message) {
  applyStatic();
  try {
    if (await session.resume()) { if (message) flashMessage = message; await startSession(); return; }
  } catch (e) {
    if (e.status === 0) { showOffline(); return; }
  }
  showLogin(message);
}

if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => { /* PWA is optional */ });
}

ctx.announce = announce;
ctx.flash = (msg) => { flashMessage = msg; };
boot();
