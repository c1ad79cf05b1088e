// Space view: the log (newest first) with unmistakable classification marking, the post form
// (kind, level limited by clearance and ceiling, audience "läsrätt hos N av M"), and live updates.
import { h, field, select, setFieldError, statusLine, showStatus, announce, confirmDialog } from '../dom.js';
import { t, formatTime } from '../i18n.js';
import { api, qs } from '../api.js';
import { badge, exerciseBadge, levelRank, LEVELS } from '../classification.js';
import { KINDS, audiencePicker, audienceText, ceilingsOf, levelRadios, spaceMeta, exercisePrefix } from './common.js';
import { arrived, leftSpace, viewing } from '../unread.js';
import { noticeComposer } from './notice.js';
import { calloutStrip } from './callout_strip.js';

const PAGE = 200;

export function spaceView({ spaceId }) {
  const el = h('section.space-view');
  const seen = new Set(); // entry ids on screen
  let space = null;
  let ctxRef = null;
  let log = null;
  let header = null;
  let strip = null; // the space's latest call-outs above the log
  let followed = null; // the space id once subscribed (app.js: is it still followed?)
  let left = false; // the space was taken away (revoked / membership.removed)

  async function load(ctx) {
    ctxRef = ctx;
    const [sp, entries, calloutList] = await Promise.all([
      api(`/spaces/${encodeURIComponent(spaceId)}`),
      api(`/spaces/${encodeURIComponent(spaceId)}/entries${qs({ order: 'desc', limit: PAGE })}`),
      // the strip of call-outs above the log is a help, never a reason the log fails to load
      api(`/spaces/${encodeURIComponent(spaceId)}/callouts`).catch(() => ({ items: [] })),
      ctx.store.loadActors().catch(() => null),
    ]);
    space = sp;
    ctx.store.touch();
    ctx.setExercise(space.exercise);
    header = h('div.space-header');
    renderHeader();
    el.append(h('p.breadcrumb', h('a', { href: '#/spaces' }, `← ${t('back_to_spaces')}`)), header);
    if ((space.writable_levels || []).length && space.status !== 'closed') {
      // on phones the form is folded away so the log comes first (open when a draft waits); on
      // wide screens it sits beside it
      const wide = window.matchMedia('(min-width: 64rem)').matches;
      const draft = ctx.store.drafts.get(space.id);
      const post = h('details.post-details', { open: wide || Boolean(draft?.body) }, h('summary.btn.btn-primary.post-summary', `+ ${t('new_entry')}`), postForm(ctx));
      el.append(post);
      // the notice form: in the form column on wide screens, its own folded block on phones
      const notice = noticeComposer({ space, ctx, onSent: (n) => addEntry(n, ctx, false) });
      if (wide) post.append(notice); else el.append(notice);
      el.classList.add('has-form');
    }
    else if (space.status === 'closed') el.append(closedNotice());
    else if (space.my_role === 'reader') el.append(h('p.hint', t('reader_only')));
    log = h('ol.entry-log', { 'aria-label': t('log'), reversed: true });
    strip = calloutStrip({ spaceId: space.id, store: ctx.store });
    strip.show(calloutList.items);
    el.append(strip.el, h('h2#log-title', t('log')), filterBar(ctx), log);
    const items = showItems(entries, ctx);
    const head = entries.head ?? Math.max(0, ...items.map((e) => e.seq));
    ctx.stream?.subscribe(space.id, head);
    followed = space.id;
    viewing(space.id, head);
  }

  // --- filters and search (server side: only readable entries are decrypted and searched) ---
  let filters = {}; // kind, level, actor, since, until, q — as sent to GET entries
  let older = null;

  function showItems(page, ctx) {
    const items = (page.items || []).slice().sort((a, b) => b.seq - a.seq);
    seen.clear();
    log.replaceChildren();
    for (const e of items) { seen.add(e.id); log.append(entryItem(e, ctx)); }
    const filtered = Object.keys(filters).length > 0;
    if (!items.length) log.append(h('li.empty', t(filtered ? 'filter_no_match' : 'no_entries')));
    older?.remove(); older = null;
    if (items.length >= PAGE) { older = olderButton(ctx, items[items.length - 1].seq); log.after(older); }
    return items;
  }

  /** Whether an entry arriving live belongs in the filtered log (same rules as the server's). */
  function matches(e) {
    if (filters.kind && e.kind !== filters.kind) return false;
    if (filters.level && e.classification !== filters.level) return false;
    if (filters.actor && e.author_actor_id !== filters.actor) return false;
    const at = Date.parse(e.created_at);
    if (filters.since && !(at >= Date.parse(filters.since))) return false;
    if (filters.until && !(at < Date.parse(filters.until))) return false;
    if (filters.q && !String(e.body || '').toLowerCase().includes(filters.q.toLowerCase())) return false;
    return true;
  }

  function filterBar(ctx) {
    const any = ['', t('filter_any')];
    const kindSel = select([any, ...KINDS.map((k) => [k, t(`kind_${k}`)])], '', { name: 'filter-kind' });
    const levelSel = select([any, ...LEVELS.map((l) => [l, t(`level_${l}`)])], '', { name: 'filter-level' });
    const actorSel = select([any, ...participantIds().map((id) => [id, ctx.store.actorName(id)])], '', { name: 'filter-actor' });
    const since = h('input', { type: 'datetime-local', name: 'filter-since' });
    const until = h('input', { type: 'datetime-local', name: 'filter-until' });
    const text = h('input', { type: 'search', name: 'filter-q', maxlength: 200, autocomplete: 'off' });
    const status = statusLine();
    const iso = (v) => (v ? new Date(v).toISOString() : '');
    const form = h('form.filter-form', { novalidate: true, role: 'search', 'aria-label': t('filter_title') },
      field(t('filter_text'), text),
      h('div.filter-fields', field(t('kind'), kindSel), field(t('classification'), levelSel), field(t('filter_actor'), actorSel),
        field(t('filter_since'), since), field(t('filter_until'), until)),
      h('div.form-actions', h('button.btn.btn-primary', { type: 'submit' }, t('filter_apply')),
        h('button.btn', { type: 'button', onclick: () => { form.reset(); apply(); } }, t('filter_clear'))),
      status);
    async function apply() {
      const next = { kind: kindSel.value, level: levelSel.value, actor: actorSel.value, since: iso(since.value), until: iso(until.value), q: text.value.trim() };
      for (const k of Object.keys(next)) if (!next[k]) delete next[k];
      try {
        const page = await api(`/spaces/${encodeURIComponent(space.id)}/entries${qs({ order: 'desc', limit: PAGE, ...next })}`);
        filters = next;
        const items = showItems(page, ctx);
        showStatus(status, Object.keys(filters).length ? t('filter_result', { n: items.length >= PAGE ? `${PAGE}+` : items.length }) : '');
        details.classList.toggle('is-active', Object.keys(filters).length > 0);
        ctx.rendered();
      } catch (e) { showStatus(status, ctx.errorText(e), 'error'); }
    }
    form.addEventListener('submit', (ev) => { ev.preventDefault(); apply(); });
    const details = h('details.filter-details', h('summary', t('filter_title')), form);
    return details;
  }

  // Pages further back in the log on request (the newest PAGE entries load first).
  function olderButton(ctx, oldestSeq) {
    let before = oldestSeq;
    const button = h('button.btn.btn-quiet#older-entries', { type: 'button' }, t('older_entries'));
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const page = await api(`/spaces/${encodeURIComponent(space.id)}/entries${qs({ order: 'desc', limit: PAGE, before, ...filters })}`);
        const items = (page.items || []).slice().sort((a, b) => b.seq - a.seq);
        for (const e of items) {
          if (seen.has(e.id)) continue;
          seen.add(e.id);
          log.append(entryItem(e, ctx));
        }
        if (items.length) before = items[items.length - 1].seq;
        if (items.length < PAGE) button.remove();
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  function renderHeader() {
    header.replaceChildren(...[
      h('h1.space-title', exercisePrefix(space), space.title),
      spaceMeta(space),
      space.description ? h('p.space-desc', space.description) : null,
      h('p.space-participants', `${t('participants')}: `,
        space.participants.map((p) => ctxRef.store.actorName(p.actor_id, true)).join(', ')),
      h('p.space-links',
        h('a.btn', { href: `#/spaces/${encodeURIComponent(space.id)}/report` }, t('situation_report')),
        ' ', h('a.btn', { href: `#/spaces/${encodeURIComponent(space.id)}/callouts` }, t('callouts')),
        space.can_administer ? h(`button.btn${space.status === 'open' ? '.btn-danger-outline' : '.btn-quiet'}`, { type: 'button', id: 'toggle-status', onclick: toggleStatus },
          space.status === 'open' ? t('close_space') : t('reopen_space')) : null),
      space.can_administer && space.status === 'open' ? participantsEditor() : null,
    ].filter(Boolean));
  }

  function closedNotice() {
    return h('p.space-closed-notice', { role: 'status' }, t('space_closed_notice'));
  }

  /** The space was closed (live, by anyone): no form, no controls the server would now refuse. */
  function showClosed() {
    if (el.querySelector('.space-closed-notice')) return;
    el.querySelector('details.post-details')?.remove();
    el.querySelector('details.notice-details')?.remove();
    el.classList.remove('has-form');
    for (const d of el.querySelectorAll('details.entry-audience-edit')) d.remove();
    header.after(closedNotice());
    announce(t('space_closed_notice'));
  }

  /** The actor no longer takes part: the log, the form and the space's own texts leave the
   * screen; what remains says why. */
  function showLeft() {
    seen.clear();
    log?.replaceChildren();
    const back = h('p.breadcrumb', h('a', { href: '#/spaces' }, `← ${t('back_to_spaces')}`));
    const notice = h('p.space-left-notice', { role: 'alert' }, t('membership_removed'));
    el.classList.remove('has-form');
    el.replaceChildren(back, notice);
    ctxRef?.setExercise(false);
    ctxRef?.rendered();
  }

  function participantsEditor() {
    const me = ctxRef.store.me;
    const current = new Set(participantIds());
    const ul = h('ul.checklist');
    const actors = [...ctxRef.store.actors.values()].sort((a, b) => a.name.localeCompare(b.name, 'sv'));
    for (const a of actors) {
      const own = a.id === me.actor.id;
      const cb = h('input', { type: 'checkbox', id: `part-${a.id}`, value: a.id, checked: current.has(a.id) || own, disabled: own });
      ul.append(h('li', cb, h('label', { for: cb.id }, a.name, own ? ` ${t('own_actor')}` : '')));
    }
    const status = statusLine();
    const form = h('form.card.participants-form', { novalidate: true },
      h('fieldset', h('legend', t('participants')), ul), status,
      h('div.form-actions', h('button.btn.btn-primary', { type: 'submit' }, t('save'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      // PATCH takes [{actor_id, role_cap}]: keep existing caps, new participants get none
      const caps = new Map(space.participants.map((p) => [p.actor_id, p.role_cap ?? null]));
      const participants = [...ul.querySelectorAll('input:checked')].map((c) => ({ actor_id: c.value, role_cap: caps.get(c.value) ?? null }));
      const removed = participantIds().filter((id) => !participants.some((p) => p.actor_id === id));
      if (removed.length && !(await confirmDialog({
        title: t('confirm_title'),
        text: t('confirm_remove_participants', { names: removed.map((id) => ctxRef.store.actorName(id)).join(', ') }),
        confirmLabel: t('save'), cancelLabel: t('cancel'),
      }))) return;
      try {
        space = await api(`/spaces/${encodeURIComponent(space.id)}`, { method: 'PATCH', body: { participants } });
        showStatus(status, t('saved'));
        renderHeader();
        ctxRef.rendered();
      } catch (e) {
        // a refusal: show the server's truth again (the participants it still has), then why
        for (const c of ul.querySelectorAll('input[type=checkbox]')) c.checked = c.disabled || participantIds().includes(c.value);
        showStatus(status, ctxRef.errorText(e), 'error');
      }
    });
    return h('details.participants-details', h('summary', t('edit_participants')), form);
  }

  async function toggleStatus() {
    if (space.status === 'open' && !(await confirmDialog({
      title: t('close_space'), text: t('confirm_close_space', { title: space.title }),
      confirmLabel: t('close_space'), cancelLabel: t('cancel'),
    }))) return;
    try {
      space = await api(`/spaces/${encodeURIComponent(space.id)}`, { method: 'PATCH', body: { status: space.status === 'open' ? 'closed' : 'open' } });
      ctxRef.navigate(`#/spaces/${encodeURIComponent(space.id)}`);
    } catch (e) { header.append(h('p.error-box', { role: 'alert' }, ctxRef.errorText(e))); }
  }

  function participantIds() { return space.participants.map((p) => p.actor_id); }

  function entryItem(e, ctx, isNew = false) {
    const level = e.classification;
    const actor = ctx.store.actorName(e.author_actor_id);
    return h(`li.entry.entry-${level}${e.exercise ? '.is-exercise' : ''}${isNew ? '.is-new' : ''}`, {
      dataset: { entryId: e.id, seq: e.seq, level },
    }, h('article', { 'aria-label': `${t(`kind_${e.kind}`)}, ${t(`level_${level}`)}` },
      h('header.entry-head',
        badge(level),
        e.exercise ? exerciseBadge() : null,
        h('span.entry-kind', t(`kind_${e.kind}`)),
        h('time.entry-time', { datetime: e.created_at }, formatTime(e.created_at))),
      h('p.entry-body', e.body),
      h('footer.entry-foot',
        h('span.entry-author', t('by_author', { author: e.author?.display_name || '', actor })),
        h('span.entry-audience', audienceText(e.audience, participantIds(), e.classification, ceilingsOf(space)))),
      canChangeAudience(e) ? audienceChanger(e, ctx) : null));
  }

  function canChangeAudience(e) {
    if (!space) return false;
    const me = ctxRef.store.me;
    return e.author_actor_id === me.actor.id && ['spokesperson', 'editor'].includes(space.my_role) && space.status !== 'closed';
  }

  /** The author's actor decides who may read (läsrätt): change it after publishing. */
  function audienceChanger(e, ctx) {
    const aud = audiencePicker({ participants: participantIds(), ownActorId: e.author_actor_id, store: ctx.store, compact: true, ceilings: ceilingsOf(space) });
    aud.setLevel(e.classification);
    aud.set(e.audience);
    const status = statusLine();
    const form = h('form.audience-change', { novalidate: true }, aud.el, status,
      h('div.form-actions', h('button.btn.btn-small', { type: 'submit' }, t('save'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const updated = await api(`/spaces/${encodeURIComponent(space.id)}/entries/${encodeURIComponent(e.id)}`,
          { method: 'PATCH', body: { audience: aud.getValue(e.classification) } });
        replaceEntry(updated, ctx);
      } catch (err) {
        aud.set(e.audience); // back to the read right the server still has
        showStatus(status, ctx.errorText(err), 'error');
      }
    });
    return h('details.entry-audience-edit', h('summary', t('change_audience')), form);
  }

  function replaceEntry(e, ctx) {
    const old = log?.querySelector(`li.entry[data-entry-id="${CSS.escape(e.id)}"]`);
    if (!old) { addEntry(e, ctx, true); return; }
    old.replaceWith(entryItem(e, ctx));
    ctx.rendered();
  }

  function postForm(ctx) {
    const me = ctx.store.me;
    const levels = space.writable_levels.slice().sort((a, b) => levelRank(a) - levelRank(b));
    const drafts = ctx.store.drafts;
    const draft = drafts.get(space.id);
    const startLevel = draft && levels.includes(draft.level) ? draft.level : levels[0];
    const kind = select(KINDS.map((k) => [k, t(`kind_${k}`)]), draft && KINDS.includes(draft.kind) ? draft.kind : 'note', { name: 'kind' });
    const body = h('textarea', { name: 'body', rows: 4, maxlength: 20000 });
    body.value = draft?.body || '';
    const aud = audiencePicker({ participants: participantIds(), ownActorId: me.actor.id, store: ctx.store, ceilings: ceilingsOf(space) });
    const lv = levelRadios({ levels, value: startLevel, name: `entry-level-${space.id}`, onChange: (l) => { aud.setDefault(l); saveDraft(); } });
    if (draft?.audience) aud.set(draft.audience); else aud.setDefault(startLevel);
    const status = statusLine();
    const submit = h('button.btn.btn-primary', { type: 'submit' }, t('publish'));
    let idemKey = null;
    // keep what is typed per space, in memory, so moving to the lägesbild and back loses nothing
    function saveDraft() {
      if (!body.value && kind.value === 'note' && lv.getValue() === levels[0]) { drafts.delete(space.id); return; }
      drafts.set(space.id, { body: body.value, kind: kind.value, level: lv.getValue(), audience: aud.selected() });
    }
    const form = h('form.card.post-entry', { novalidate: true, 'aria-labelledby': 'post-title' },
      h('h2#post-title', t('new_entry')),
      h('div.form-row', field(t('kind'), kind)),
      lv.el,
      field(t('body'), body, { required: true }),
      h('details.audience-details', h('summary', aud.count), aud.el),
      status,
      // the readers by name right beside the button, for every level, before it is pressed
      h('div.form-actions.publish-row', aud.summary, submit));
    body.addEventListener('input', () => { idemKey = null; saveDraft(); });
    kind.addEventListener('change', saveDraft);
    aud.el.addEventListener('change', saveDraft);
    aud.onChange(() => { idemKey = null; });
    if (draft?.body) status.textContent = t('draft_kept');
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      setFieldError(body, '');
      if (!body.value.trim()) { setFieldError(body, t('required')); body.focus(); return; }
      submit.disabled = true; submit.textContent = t('publishing');
      idemKey = idemKey || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
      const payload = { kind: kind.value, classification: lv.getValue(), body: body.value };
      const audience = aud.getValue(payload.classification);
      if (audience !== null) payload.audience = audience;
      try {
        const entry = await api(`/spaces/${encodeURIComponent(space.id)}/entries`, { method: 'POST', body: payload, headers: { 'Idempotency-Key': idemKey } });
        idemKey = null;
        body.value = '';
        // never carry chosen readers over to the next entry: back to the level's default audience
        aud.setDefault(lv.getValue());
        form.querySelector('details.audience-details')?.removeAttribute('open');
        drafts.delete(space.id);
        showStatus(status, t('published'));
        addEntry(entry, ctx, false);
      } catch (e) {
        if (e.field === 'body') setFieldError(body, ctx.errorText(e));
        showStatus(status, ctx.errorText(e), 'error');
        if (e.code === 'space_closed') { space = { ...space, status: 'closed' }; showClosed(); }
      } finally { submit.disabled = false; submit.textContent = t('publish'); }
    });
    return form;
  }

  function addEntry(e, ctx, announceIt) {
    if (!log || seen.has(e.id) || e.space_id && e.space_id !== space.id) return;
    if (!matches(e)) return; // a filtered log shows only what matches, live too
    seen.add(e.id);
    log.querySelector('li.empty')?.remove();
    const li = entryItem(e, ctx, true);
    // keep newest first by seq
    const after = [...log.children].find((c) => Number(c.dataset.seq) < e.seq);
    log.insertBefore(li, after || null);
    setTimeout(() => li.classList.remove('is-new'), 8000);
    if (announceIt) announce(t('new_entry_announce', { kind: t(`kind_${e.kind}`), level: t(`level_${e.classification}_long`), author: e.author?.display_name || '' }));
    ctx.rendered();
  }

  function onEvent(ev, ctx) {
    if (!space || left || ev.space_id !== space.id) return;
    if (ev.type === 'revoked' || ev.type === 'membership.removed') {
      // both frames come when the actor leaves: leave once (a second navigation to the list
      // would race the first and drop its message)
      left = true;
      ctx.flash(t('membership_removed')); // revoked: the actor left the space (or lost its role)
      log?.replaceChildren();
      ctx.navigate('#/spaces');
      return;
    }
    if (ev.type === 'error' && ev.code === 'not_found') {
      // the server refused to follow the space again (a resubscribe after a reconnect): the
      // actor left it while this screen was away. Nothing of it stays shown; the header keeps
      // saying that the space is not followed live.
      left = true;
      showLeft();
      return;
    }
    if (ev.type !== 'event') return;
    if (ev.event === 'space.resync') {
      // the reader's own rights narrowed after this view was loaded (e.g. while offline): it may
      // show what they can no longer read. Drop it and load it again under the rights of now.
      left = true;
      log?.replaceChildren();
      seen.clear();
      ctx.navigate(window.location.hash);
      return;
    }
    arrived(space.id, ev);
    if (ev.event === 'entry.created' || ev.event === 'notice.created') addEntry(ev.data, ctx, true);
    else if (ev.event === 'entry.audience_changed' && ev.data) {
      if (seen.has(ev.data.id)) replaceEntry(ev.data, ctx); else addEntry(ev.data, ctx, true);
    }
    else if (ev.event === 'entry.withdrawn' && ev.data) { // no longer readable: gone at once
      log?.querySelector(`li.entry[data-entry-id="${CSS.escape(ev.data.id)}"]`)?.remove();
      seen.delete(ev.data.id);
      ctx.rendered();
    }
    else if (ev.event === 'space.updated' && ev.data) {
      const wasWritable = (space.writable_levels || []).join();
      const wasStatus = space.status;
      space = { ...space, ...ev.data };
      renderHeader();
      ctx.setExercise(space.exercise);
      if (space.status === 'closed' && wasStatus !== 'closed') showClosed();
      else if ((space.writable_levels || []).join() !== wasWritable || (wasStatus === 'closed' && space.status !== 'closed')) {
        ctx.navigate(`#/spaces/${encodeURIComponent(space.id)}`);
      }
      ctx.rendered();
    } else if ((ev.event === 'callout.created' || ev.event === 'callout.updated') && ev.data) {
      strip?.update(ev.data);
      ctx.rendered();
    } else if (ev.event === 'situation_report.published' && ev.data) {
      announce(t('new_report_announce', { version: ev.data.version }));
    }
  }

  return {
    el, load, onEvent,
    get followed() { return followed; },
    destroy() { if (space) { ctxRef?.stream?.unsubscribe(space.id); leftSpace(space.id); } seen.clear(); },
  };
}
