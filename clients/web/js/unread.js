// Unread counts on the space list and in the tab title. Kept on the server (GET /api/v1/me/unread,
// PUT /api/v1/spaces/{id}/seen): the browser stores nothing, a reload shows the same counts, and
// the server counts only items the user may read (decided per item). The space on screen is marked
// seen up to its head while the tab is visible; while the tab is hidden its new items count up.
import { api } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';

const POLL_MS = 30000;
const CAP = 99;
const counts = new Map(); // space_id -> { unread, more }
const listeners = new Set();
let timer = null;
let isLive = () => true;
let meId = null;
let onScreen = null; // { id, head } of the space being viewed
let seenBusy = null; // the PUT in flight (a list refresh waits for it, so it is never stale)
let seenAgain = false;

export function unreadOf(spaceId) { return counts.get(spaceId) || { unread: 0, more: false }; }

export function totalUnread() {
  let n = 0; let more = false;
  for (const c of counts.values()) { n += c.unread; more = more || c.more; }
  return { n, more: more || n > CAP };
}

/** Called whenever a count changes; returns a function that stops it. */
export function onUnread(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function changed() {
  updateTitle();
  for (const fn of listeners) fn();
}

export function updateTitle() {
  const base = t('app_title');
  const { n, more } = totalUnread();
  document.title = n > 0 ? t('unread_title', { n: more ? `${Math.min(n, CAP)}+` : n, title: base }) : base;
}

function setCount(c) { counts.set(c.space_id, { unread: c.unread, more: c.more }); }

export async function refreshUnread() {
  await seenBusy;
  const res = await api('/me/unread');
  counts.clear();
  for (const c of res.items || []) setCount(c);
  // the space on screen (tab visible) was seen up to what arrived: the server hears it next
  if (onScreen && visible()) counts.set(onScreen.id, { unread: 0, more: false });
  changed();
}

export function startUnread({ live, me }) {
  stopUnread();
  isLive = live; meId = me?.id || null;
  refreshUnread().catch(() => {});
  timer = setInterval(() => { if (isLive()) refreshUnread().catch(() => {}); }, POLL_MS);
  document.addEventListener('visibilitychange', onVisibility);
}

export function stopUnread() {
  clearInterval(timer); timer = null;
  document.removeEventListener('visibilitychange', onVisibility);
  counts.clear(); onScreen = null; meId = null;
  changed();
}

function visible() { return document.visibilityState !== 'hidden'; }

function onVisibility() { if (visible() && onScreen) markSeen(); }

/** The user is looking at `spaceId`, loaded up to `head`. */
export function viewing(spaceId, head) {
  onScreen = { id: spaceId, head: Math.max(0, Number(head) || 0) };
  if (visible()) markSeen();
}

export function leftSpace(spaceId) { if (onScreen?.id === spaceId) onScreen = null; }

/** A live event of the space on screen: seen at once if the tab is visible, else it counts. */
export function arrived(spaceId, ev) {
  if (!onScreen || onScreen.id !== spaceId || typeof ev.seq !== 'number') return;
  onScreen.head = Math.max(onScreen.head, ev.seq);
  if (visible()) { markSeen(); return; }
  const item = ev.event === 'entry.created' || ev.event === 'notice.created';
  if (item && ev.data && ev.data.author?.id !== meId) {
    const c = unreadOf(spaceId);
    counts.set(spaceId, { unread: Math.min(CAP, c.unread + 1), more: c.more || c.unread + 1 > CAP });
    changed();
  }
}

/** Tell the server how far the space on screen was seen (one request at a time, the newest head). */
function markSeen() {
  if (seenBusy) { seenAgain = true; return; }
  const target = onScreen;
  if (!target) return;
  counts.set(target.id, { unread: 0, more: false });
  changed();
  seenBusy = (async () => {
    try {
      const c = await api(`/spaces/${encodeURIComponent(target.id)}/seen`, { method: 'PUT', body: { seq: target.head } });
      setCount(c);
      changed();
    } catch (e) { /* offline or gone: the next poll shows the server's truth */ }
  })().finally(() => {
    seenBusy = null;
    if (seenAgain) { seenAgain = false; markSeen(); }
  });
}

/** The badge of a space in the list ("3 nya"), or null. */
export function unreadBadge(spaceId) {
  const c = unreadOf(spaceId);
  if (!c.unread && !c.more) return null;
  const text = c.more ? `${CAP}+` : String(c.unread);
  const label = c.more ? t('unread_badge_more', { n: CAP }) : t('unread_badge', { n: c.unread });
  return h('span.unread-badge', { title: label, dataset: { unread: text } },
    h('span', { 'aria-hidden': 'true' }, text), h('span.sr-only', label));
}

/** Put each list item's badge (li[data-space-id] › .space-link) in step with the counts. */
export function decorateList(list) {
  for (const li of list.querySelectorAll('li[data-space-id]')) {
    li.querySelector('.unread-badge')?.remove();
    const badge = unreadBadge(li.dataset.spaceId);
    li.classList.toggle('has-unread', Boolean(badge));
    if (badge) li.querySelector('.space-link')?.append(badge);
  }
}
