// Bootstrap, hash router, top bar (user, language, connection indicator, highest level on screen).
import { h, clear, select, announce } from './dom.js';
import { t, setLang, getLang, applyStatic, formatAgo, formatClock } from './i18n.js';
import * as session from './api.js';
import { updateHighestLevel } from './classification.js';
import { Stream } from './stream.js';
import { createStore } from './store.js';
import { loginView, offlineView } from './views/login.js';
import { spacesView } from './views/spaces.js';
import { spaceView } from './views/space.js';
import { reportView } from './views/report.js';
import { adminView } from './views/admin.js';

const main = document.getElementById('main');
const store = createStore();
let current = null; // { view, key }
let stream = null;
let connStatus = 'connecting';
let everLive = false;
let nonLiveSince = Date.now();
const STALE_AFTER_MS = 4000;
let flashMessage = null;

const routes = [
  [/^#\/spaces\/([^/]+)\/report(?:\/(joint|actor)(?:\/([^/]+))?)?$/, (m) => reportView({ spaceId: decodeURIComponent(m[1]), scope: m[2] || 'joint', actorId: m[3] ? decodeURIComponent(m[3]) : null })],
  [/^#\/spaces\/new$/, () => spacesView({ create: true })],
  [/^#\/spaces\/([^/]+)$/, (m) => spaceView({ spaceId: decodeURIComponent(m[1]) })],
  [/^#\/admin$/, () => adminView({})],
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
  current = { view, hash };
  main.append(view.el);
  if (flashMessage) { view.el.prepend(h('p.flash', { role: 'status' }, flashMessage)); flashMessage = null; }
  try { await view.load?.(ctx); } catch (e) { view.el.append(errorBox(e)); }
  ctx.rendered();
  updateStale();
  focusMain();
}

function focusMain() {
  const heading = main.querySelector('h1');
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: false }); } else main.focus();
}

export function errorText(e) {
  if (!e) return '';
  if (e.status === 0) return t('error_network');
  if (e.status === 404) return t('error_not_found');
  if (e.status === 403) return t('error_forbidden');
  if (e.status === 429) return t('login_throttled');
  return e.problem?.detail || e.problem?.title || t('error_generic', { status: e.status });
}
ctx.errorText = errorText;

function errorBox(e) { return h('p.error-box', { role: 'alert' }, errorText(e)); }

function showLogin(message) {
  if (current?.view?.destroy) current.view.destroy();
  current = null;
  stream?.stop(); stream = null;
  store.reset();
  clear(main);
  setExerciseBanner(false);
  renderTopbar();
  const view = loginView({ message, onLoggedIn: () => startSession() });
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
  stream = new Stream({
    onEvent: (ev) => { store.lastLoaded = new Date(); current?.view?.onEvent?.(ev, ctx); },
    onStatus: (s, last) => {
      const live = s === 'connected' || s === 'polling';
      if (live) { everLive = true; nonLiveSince = null; } else if (nonLiveSince === null) nonLiveSince = Date.now();
      connStatus = !live && !everLive && s === 'reconnecting' ? 'connecting' : s;
      renderConn(last); updateStale();
    },
    onAuthLost: () => showLogin(t('session_expired')),
  });
  everLive = false; nonLiveSince = Date.now(); connStatus = 'connecting';
  stream.start();
  if (!window.location.hash || window.location.hash === '#/login') window.location.hash = '#/spaces';
  else route();
}

// --- top bar ---------------------------------------------------------------------------------
function renderTopbar() {
  const nav = document.getElementById('topnav');
  clear(nav);
  nav.setAttribute('aria-label', t('main_menu'));
  const langSel = select([['sv', t('lang_sv')], ['en', t('lang_en')]], getLang(), { id: 'lang-select', class: 'lang-select' });
  langSel.addEventListener('change', () => { setLang(langSel.value); applyStatic(); if (session.hasSession()) route(); else showLogin(); });
  const langWrap = h('div.lang', h('label.sr-only', { for: 'lang-select' }, t('language')), langSel);
  const me = store.me;
  if (me) {
    const hash = window.location.hash;
    const links = [h('a', { href: '#/spaces', 'aria-current': hash.startsWith('#/spaces') ? 'page' : null }, t('spaces'))];
    const p = me.permissions || {};
    if (p.manage_actors || p.manage_all_users || (p.manage_users_of || []).length) {
      links.push(h('a', { href: '#/admin', 'aria-current': hash === '#/admin' ? 'page' : null }, t('administration')));
    }
    nav.append(...links,
      h('span.whoami', { title: t('signed_in_as', { name: me.display_name, actor: me.actor?.name, role: t(`role_${me.role}`), clearance: t(`level_${me.effective_clearance || me.clearance}`) }) },
        h('span.whoami-name', me.display_name), ' ', h('span.whoami-actor', me.actor?.short_name || '')),
      langWrap,
      h('button.btn.btn-quiet', { type: 'button', id: 'logout', onclick: async () => { await session.logout(); store.reset(); showLogin(t('logged_out')); } }, t('logout')));
  } else {
    nav.append(langWrap);
  }
  renderConn(stream?.lastUpdate);
}

function renderConn(last) {
  const el = document.getElementById('conn');
  if (!session.hasSession() || !stream) { clear(el); el.hidden = true; delete el.dataset.state; return; }
  const agoText = last ? ` · ${t('conn_since', { ago: formatAgo(Date.now() - last.getTime()) })}` : '';
  if (el.dataset.state === connStatus && el.dataset.lang === getLang() && !el.hidden) {
    // same state: only refresh the (not announced) time, so screen readers hear state changes only
    const ago = el.querySelector('.conn-ago');
    if (ago) ago.textContent = agoText; else if (agoText) el.append(h('span.conn-ago', { 'aria-hidden': 'true' }, agoText));
    return;
  }
  clear(el);
  el.hidden = false;
  el.dataset.lang = getLang();
  const key = { connected: 'conn_connected', polling: 'conn_polling', offline: 'conn_offline', connecting: 'conn_connecting' }[connStatus] || 'conn_reconnecting';
  el.className = `conn conn-${connStatus}`;
  el.dataset.state = connStatus;
  el.append(h('span.conn-dot', { 'aria-hidden': 'true' }), h('span.conn-state', t(key)));
  if (agoText) el.append(h('span.conn-ago', { 'aria-hidden': 'true' }, agoText));
}

function updateStale() {
  const banner = document.getElementById('stale-banner');
  const graceOver = connStatus === 'offline' || (nonLiveSince !== null && Date.now() - nonLiveSince >= STALE_AFTER_MS);
  const stale = Boolean(session.hasSession() && stream && !ctx.isLive() && current !== null && graceOver);
  banner.hidden = !stale;
  main.classList.toggle('is-stale', Boolean(stale));
  if (stale) {
    const at = stream.lastUpdate || store.lastLoaded;
    const text = t('stale_banner', { time: at ? formatClock(at) : '–' });
    if (banner.textContent !== text) banner.textContent = text; // avoid re-announcing the alert
  }
}

setInterval(() => { if (stream && !ctx.isLive()) updateStale(); if (stream) { const ago = document.querySelector('#conn .conn-ago'); if (ago && stream.lastUpdate) ago.textContent = ` · ${t('conn_since', { ago: formatAgo(Date.now() - stream.lastUpdate.getTime()) })}`; } }, 1000);

session.onSession((kind) => { if (kind === 'expired' && store.me) showLogin(t('session_expired')); });

window.addEventListener('hashchange', () => { if (session.hasSession()) route(); });
window.addEventListener('online', () => { if (!session.hasSession() && main.querySelector('.offline-view')) boot(); });

async function boot() {
  applyStatic();
  try {
    if (await session.resume()) { await startSession(); return; }
  } catch (e) {
    if (e.status === 0) { showOffline(); return; }
  }
  showLogin();
}

if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => { /* PWA is optional */ });
}

ctx.announce = announce;
ctx.flash = (msg) => { flashMessage = msg; };
boot();
