// The space log's view of its call-outs (issue 11.3): the latest ones of the space in a short
// strip above the log, each with how many actors answered and which channel finally reached
// each summoned actor ("Räddningstjänsten nådd via Rakel 03:12"), live on callout.created /
// callout.updated, with a link to the full board. Only call-outs the reader may read arrive
// here (the list and the stream both decide per item).
import { h } from '../dom.js';
import { t, formatTime } from '../i18n.js';
import { reachedText } from './callouts.js';

const SHOWN = 3;

export function calloutStrip({ spaceId, store }) {
  const el = h('section.callout-strip', { 'aria-label': t('callouts'), hidden: true });
  const callouts = new Map();

  function line(c) {
    const counts = c.counts || {};
    const answered = (counts.acknowledged || 0) + (counts.declined || 0);
    const reached = (c.actors || []).filter((a) => a.reached)
      .map((a) => h('li', { 'data-actor': a.actor_id, 'data-reached': a.reached.channel },
        `${store.actorName(a.actor_id)} ${reachedText(a.reached)}`));
    return h('article.callout-strip-item', { 'data-callout': c.id, 'data-status': c.status },
      h('p', h('strong', c.exercise ? `${t('exercise')} – ` : '',
        t('callout_from', { actor: store.actorName(c.owner_actor_id) })), ' ',
        h('small', formatTime(c.created_at)), ' · ',
        t('callout_strip_answered', { answered, total: (c.actors || []).length }),
        c.status === 'closed' ? ` · ${t('callout_closed')}` : ''),
      reached.length ? h('ul.callout-strip-reached', reached) : null);
  }

  function render() {
    const latest = [...callouts.values()].sort((a, b) => b.created_at.localeCompare(a.created_at))
      .slice(0, SHOWN);
    el.hidden = latest.length === 0;
    el.replaceChildren(...(latest.length ? [
      h('h2', t('callouts')), ...latest.map(line),
      h('p', h('a', { href: `#/spaces/${encodeURIComponent(spaceId)}/callouts` }, t('callout_strip_board'))),
    ] : []));
  }

  return {
    el,
    /** The space's call-outs as listed (newest first) when the view loads. */
    show(list) { for (const c of list || []) callouts.set(c.id, c); render(); },
    /** A callout.created / callout.updated frame's data. */
    update(c) { if (c && c.id) { callouts.set(c.id, c); render(); } },
  };
}
