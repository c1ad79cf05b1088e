// Space list (type, status, last activity, ÖVNING) and the create-space form for editors.
import { h, field, select, setFieldError, nextId, statusLine, showStatus } from '../dom.js';
import { t, formatTime } from '../i18n.js';
import { api } from '../api.js';
import { levelsUpTo } from '../classification.js';
import { TYPES, spaceMeta, levelRadios, exercisePrefix } from './common.js';
import { decorateList, onUnread, refreshUnread } from '../unread.js';

export function spacesView({ create = false }) {
  const el = h('section.spaces-view');
  let timer = null;
  let ctxRef = null;
  let stopBadges = null;

  async function load(ctx) {
    ctxRef = ctx;
    const me = ctx.store.me;
    const head = h('div.view-head', h('h1', t('my_spaces')));
    if (me.permissions?.create_space && !create) {
      head.append(h('a.btn.btn-primary', { href: '#/spaces/new', id: 'create-space-link' }, t('create_space')));
    }
    el.append(head);
    if (create && me.permissions?.create_space) {
      await ctx.store.loadActors();
      el.append(createForm(ctx));
    }
    const list = h('ul.space-list', { 'aria-label': t('my_spaces') });
    el.append(list);
    await refreshList(ctx, list);
    stopBadges = onUnread(() => decorateList(list));
    refreshUnread().catch(() => {});
    timer = setInterval(() => { if (ctx.isLive()) refreshList(ctx, list).catch(() => {}); }, 30000);
  }

  async function refreshList(ctx, list) {
    const res = await api('/spaces');
    ctx.store.touch();
    const items = (res.items || []).slice().sort((a, b) => String(b.last_activity_at || '').localeCompare(String(a.last_activity_at || '')));
    list.replaceChildren(...items.map((s) => spaceItem(s)));
    if (!items.length) list.append(h('li.empty', t('no_spaces')));
    decorateList(list);
    ctx.rendered();
  }

  function spaceItem(s) {
    return h(`li.space-item${s.exercise ? '.is-exercise' : ''}`, { dataset: { spaceId: s.id } },
      h('a.space-link', { href: `#/spaces/${encodeURIComponent(s.id)}` },
        h('span.space-title', exercisePrefix(s), s.title)),
      spaceMeta(s),
      h('p.space-activity', `${t('last_activity')}: `, h('time', { datetime: s.last_activity_at || '' }, formatTime(s.last_activity_at))));
  }

  function createForm(ctx) {
    const me = ctx.store.me;
    const title = h('input', { type: 'text', name: 'title', maxlength: 200 });
    const desc = h('textarea', { name: 'description', rows: 3 });
    const type = select(TYPES.map((x) => [x, t(`type_${x}`)]), 'disruption', { name: 'type' });
    const ceiling = levelRadios({ levels: levelsUpTo(me.effective_clearance || me.clearance), value: 'public', name: 'space-classification', legend: t('classification_ceiling') });
    const parts = h('fieldset.participants', h('legend', t('participants')), h('p.hint', t('participants_hint')));
    const ul = h('ul.checklist');
    const actors = [...ctx.store.actors.values()].sort((a, b) => a.name.localeCompare(b.name, 'sv'));
    for (const a of actors) {
      const own = a.id === me.actor.id;
      const cb = h('input', { type: 'checkbox', id: nextId('part'), value: a.id, checked: own, disabled: own, dataset: { actor: a.id } });
      ul.append(h('li', cb, h('label', { for: cb.id }, a.name, own ? ` ${t('own_actor')}` : '')));
    }
    parts.append(ul);
    const status = statusLine();
    const submit = h('button.btn.btn-primary', { type: 'submit' }, t('create'));
    const form = h('form.card.create-space', { novalidate: true, 'aria-labelledby': 'create-space-title' },
      h('h2#create-space-title', t('new_space')),
      field(t('title'), title, { required: true }),
      field(t('description'), desc),
      field(t('type'), type),
      ceiling.el, parts, status,
      h('div.form-actions', submit, h('a.btn', { href: '#/spaces' }, t('cancel'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      setFieldError(title, '');
      if (!title.value.trim()) { setFieldError(title, t('required')); title.focus(); return; }
      submit.disabled = true;
      try {
        const participants = [...ul.querySelectorAll('input:checked')].map((c) => c.value);
        const space = await api('/spaces', { method: 'POST', body: {
          title: title.value.trim(), description: desc.value, type: type.value,
          classification: ceiling.getValue(), participants,
        } });
        ctx.navigate(`#/spaces/${encodeURIComponent(space.id)}`);
      } catch (e) {
        if (e.field === 'title') setFieldError(title, ctx.errorText(e));
        showStatus(status, ctx.errorText(e), 'error');
      } finally { submit.disabled = false; }
    });
    setTimeout(() => title.focus(), 0);
    return form;
  }

  return {
    el, load,
    destroy() { clearInterval(timer); stopBadges?.(); },
    onEvent(ev, ctx) { // joined or left a space: show the list as it is now, at once
      if (ev.type !== 'membership.added' && ev.type !== 'membership.removed') return;
      const list = el.querySelector('ul.space-list');
      if (list) refreshList(ctx, list).then(() => refreshUnread()).catch(() => {});
    },
    get ctx() { return ctxRef; },
  };
}
