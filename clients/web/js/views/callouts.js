// Call-outs (aktivering) of a space: create one (actors from the participants or a saved list,
// conference details, deadline) and the live call-out board — per summoned actor: reached,
// acknowledged, missing, overdue; time left to the deadline; escalate now; add an actor; and
// the own actor's acknowledge button. Every change arrives as callout.created / callout.updated.
import { h, field, select, statusLine, showStatus, announce } from '../dom.js';
import { t, formatTime, formatHourMinute } from '../i18n.js';
import { api } from '../api.js';
import { exercisePrefix } from './common.js';

const ANSWERED = new Set(['acknowledged', 'declined']);

function secondsLeft(deadline) { return Math.round((Date.parse(deadline) - Date.now()) / 1000); }

// "nådd via Rakel 03:12": the channel that finally reached the actor (the delivery ledger).
export function reachedText(reached) {
  if (!reached) return '';
  const params = { channel: t(`via_${reached.channel}`), time: formatHourMinute(reached.at) };
  return t(reached.confirmed ? 'callout_reached_via' : 'callout_sent_via', params);
}

// What went out per channel set against the answers that came back over it.
function ledgerLines(ledger) {
  const channels = Object.keys(ledger || {}).sort();
  if (!channels.length) return null;
  return h('div.callout-ledger', { 'data-ledger': '' }, h('h3', t('callout_ledger')),
    h('ul', channels.map((ch) => h('li', { 'data-channel': ch },
      t('callout_ledger_line', { channel: t(`via_${ch}`), ...ledger[ch] })))));
}

function formatLeft(s) {
  if (s <= 0) return t('callout_deadline_passed');
  const m = Math.floor(s / 60);
  return t('callout_time_left', { m, s: String(s % 60).padStart(2, '0') });
}

export function calloutsView({ spaceId }) {
  const el = h('section.callouts-view');
  const sp = encodeURIComponent(spaceId);
  let space = null;
  let ctxRef = null;
  let boards = null;
  const callouts = new Map(); // id -> call-out as last received
  let timer = null;

  async function load(ctx) {
    ctxRef = ctx;
    // The space (its head) first: every change after it arrives live, so none falls between.
    space = await api(`/spaces/${sp}`);
    const [list] = await Promise.all([api(`/spaces/${sp}/callouts`),
      ctx.store.loadActors().catch(() => null)]);
    ctx.store.touch();
    ctx.setExercise(space.exercise);
    for (const c of list.items || []) callouts.set(c.id, c);
    boards = h('div.callout-boards');
    el.append(
      h('p.breadcrumb', h('a', { href: `#/spaces/${sp}` }, `← ${space.title}`)),
      h('h1', exercisePrefix(space), t('callouts')),
      space.my_role === 'editor' && space.status === 'open' ? createForm() : null,
      boards);
    renderBoards();
    timer = setInterval(tickClocks, 1000);
    ctx.stream?.subscribe(space.id, space.last_seq || 0);
  }

  function createForm() {
    const me = ctxRef.store.me;
    const form = h('form.create-callout', { 'aria-label': t('callout_create') });
    const picks = h('fieldset.callout-actors', h('legend', t('callout_actors')));
    for (const p of space.participants) {
      if (p.actor_id === me.actor.id) continue;
      picks.append(h('label.check', h('input', { type: 'checkbox', name: 'actor', value: p.actor_id }),
        ' ', ctxRef.store.actorName(p.actor_id)));
    }
    const message = h('textarea', { name: 'message', rows: 3, maxlength: 1000 });
    const start = h('input', { type: 'datetime-local', name: 'start' });
    const dial = h('input', { type: 'tel', name: 'dial_in', maxlength: 40 });
    const pin = h('input', { type: 'text', name: 'pin', maxlength: 20, inputmode: 'numeric' });
    const deadline = h('input', { type: 'number', name: 'deadline', min: 1, max: 1440, value: 60 });
    const status = statusLine();
    form.append(h('h2', t('callout_create')), picks,
      field(t('callout_message'), message, { required: true }),
      h('fieldset', h('legend', t('callout_conference')),
        field(t('callout_start'), start), field(t('callout_dial_in'), dial), field(t('callout_pin'), pin)),
      field(t('callout_deadline_minutes'), deadline),
      h('button.btn.btn-primary', { type: 'submit' }, t('callout_send')), status);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const actorIds = [...picks.querySelectorAll('input:checked')].map((i) => i.value);
      const body = { actor_ids: actorIds, message: message.value,
        conference: { start_at: start.value ? new Date(start.value).toISOString() : null,
                      dial_in: dial.value, pin: pin.value },
        deadline_minutes: Number(deadline.value) || 60 };
      try {
        const c = await api(`/spaces/${sp}/callouts`, { method: 'POST', body });
        callouts.set(c.id, c);
        renderBoards();
        form.reset();
        showStatus(status, t('callout_sent'));
        announce(t('callout_sent'));
      } catch (e) { showStatus(status, ctxRef.errorText(e), 'error'); }
    });
    return form;
  }

  function renderBoards() {
    const sorted = [...callouts.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    boards.replaceChildren(...(sorted.length ? sorted.map(board)
      : [h('p.empty', t('callouts_none'))]));
    ctxRef.rendered();
  }

  function board(c) {
    const me = ctxRef.store.me;
    const mine = c.owner_actor_id === me.actor.id && space.my_role === 'editor' && c.status === 'open';
    const summoned = c.actors.find((a) => a.actor_id === me.actor.id);
    const counts = c.counts || {};
    const answered = (counts.acknowledged || 0) + (counts.declined || 0);
    const box = h('article.callout-board', { 'data-callout': c.id, 'data-status': c.status });
    const rows = c.actors.map((a) => h('tr', { 'data-actor': a.actor_id, 'data-state': a.state },
      h('th', { scope: 'row' }, ctxRef.store.actorName(a.actor_id)),
      h('td.callout-state', h(`span.state.state-${a.state}`, t(`callout_state_${a.state}`))),
      h('td', a.answered_at ? formatTime(a.answered_at) : ''),
      h('td', a.answered_by ? a.answered_by.display_name : ''),
      h('td', a.channel ? t(`callout_channel_${a.channel}`) : ''),
      h('td.callout-reached', { 'data-reached': a.reached ? a.reached.channel : '' }, reachedText(a.reached)),
      h('td', a.time_to_acknowledge_s != null ? t('callout_minutes', { n: Math.round(a.time_to_acknowledge_s / 60) }) : '')));
    const actions = [];
    if (summoned && !ANSWERED.has(summoned.state) && c.status === 'open') {
      actions.push(h('button.btn.btn-primary', { type: 'button', 'data-ack': '',
        onclick: () => act(`/callouts/${c.id}/acknowledgements`, {}) }, t('callout_acknowledge')));
    }
    if (mine) {
      actions.push(h('button.btn', { type: 'button', 'data-escalate': '',
        onclick: () => act(`/callouts/${c.id}/escalations`) }, t('callout_escalate_now')));
      const others = space.participants.map((p) => p.actor_id)
        .filter((id) => id !== me.actor.id && !c.actors.some((a) => a.actor_id === id));
      if (others.length) {
        const pick = select(others.map((id) => [id, ctxRef.store.actorName(id)]), others[0],
          { 'aria-label': t('callout_add_actor') });
        actions.push(pick, h('button.btn', { type: 'button', 'data-add': '',
          onclick: () => act(`/callouts/${c.id}/actors`, { actor_ids: [pick.value] }) }, t('callout_add_actor')));
      }
      actions.push(h('button.btn.btn-quiet', { type: 'button',
        onclick: () => act(`/callouts/${c.id}/close`) }, t('callout_close')));
    }
    const status = statusLine();
    // Through h(): absent parts (null) are skipped, never shown as the text "null".
    box.append(...h('div',
      h('h2', c.exercise ? `${t('exercise')} – ` : '', t('callout_from', { actor: ctxRef.store.actorName(c.owner_actor_id) }),
        ' ', h('small', formatTime(c.created_at))),
      c.message ? h('p.callout-message', c.message) : null,
      c.conference && (c.conference.dial_in || c.conference.pin || c.conference.start_at)
        ? h('p.callout-conference', [c.conference.start_at ? formatTime(c.conference.start_at) : null,
          c.conference.dial_in ? `${t('callout_dial_in')}: ${c.conference.dial_in}` : null,
          c.conference.pin ? `${t('callout_pin')}: ${c.conference.pin}` : null].filter(Boolean).join(' · '))
        : null,
      h('p.callout-summary', { 'data-summary': '' },
        t('callout_summary', { answered, total: c.actors.length, missing: c.actors.length - answered,
                               overdue: counts.overdue || 0 }), ' · ',
        c.status === 'closed' ? t('callout_closed') : h('span.time-left', { 'data-deadline': c.deadline_at }, formatLeft(secondsLeft(c.deadline_at)))),
      h('table.callout-table', h('thead', h('tr', ...['callout_actor', 'callout_state', 'callout_when', 'callout_by', 'callout_channel', 'callout_reached', 'callout_tta'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', rows)),
      ledgerLines(c.ledger),
      actions.length ? h('p.callout-actions', actions) : null, status).childNodes);
    async function act(path, body) {
      try {
        const r = await api(path, { method: 'POST', body });
        if (r && r.actors) { callouts.set(r.id, r); renderBoards(); }
      } catch (e) { showStatus(status, ctxRef.errorText(e), 'error'); }
    }
    return box;
  }

  function tickClocks() {
    for (const span of el.querySelectorAll('.time-left')) span.textContent = formatLeft(secondsLeft(span.dataset.deadline));
  }

  function onEvent(ev, ctx) {
    if (!space || ev.space_id !== space.id) return;
    if (ev.type === 'revoked') { ctx.flash(t('error_not_found')); ctx.navigate('#/spaces'); return; }
    if (ev.type !== 'event' || !ev.data) return;
    if (ev.event === 'callout.created' || ev.event === 'callout.updated') {
      const before = callouts.get(ev.data.id);
      callouts.set(ev.data.id, ev.data);
      renderBoards();
      if (!before) announce(t('callout_new_announce'));
    }
  }

  return { el, load, onEvent, destroy() { clearInterval(timer); if (space) ctxRef?.stream?.unsubscribe(space.id); } };
}
