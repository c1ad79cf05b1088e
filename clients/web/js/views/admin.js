// Administration: actor admins manage their own actor's users and contact points; system admins
// also manage actors. Controls are only rendered for what /me says the user may do.
import { h, field, select, setFieldError, statusLine, showStatus, confirmDialog } from '../dom.js';
import { t, formatTime } from '../i18n.js';
import { api } from '../api.js';
import { LEVELS, levelsUpTo } from '../classification.js';
import { badgeNoCount } from './common.js';

const CP_KINDS = ['phone', 'sms', 'email', 'rakel_issi', 'rakel_gssi'];

export function adminView() {
  const el = h('section.admin-view');
  let ctxRef = null;

  async function load(ctx) {
    ctxRef = ctx;
    const me = ctx.store.me;
    const perms = me.permissions || {};
    el.append(h('h1', t('administration')));
    if (!(perms.manage_users_of || []).length && !perms.manage_actors && !perms.manage_all_users) { el.append(h('p', t('no_admin'))); return; }
    await ctx.store.loadActors(true);
    const manageable = perms.manage_all_users ? [...ctx.store.actors.keys()] : (perms.manage_users_of || []);
    if (manageable.length) {
      const section = h('section.admin-users', { 'aria-labelledby': 'users-title' }, h('h2#users-title', t('users')));
      const holder = h('div');
      let chosen = manageable.includes(me.actor.id) ? me.actor.id : manageable[0];
      if (manageable.length > 1) {
        const sel = select(manageable.map((id) => [id, ctx.store.actorName(id)]), chosen, { id: 'admin-actor' });
        sel.addEventListener('change', () => { chosen = sel.value; renderActorAdmin(holder, chosen); });
        section.append(field(t('actors'), sel));
      }
      section.append(holder);
      el.append(section);
      await renderActorAdmin(holder, chosen);
    }
    if (perms.manage_actors) el.append(actorsAdmin());
    if (me.role === 'system_admin') el.append(channelHealth());
  }

  // The operators' view of the channels (GET /admin/channels): the breaker, counts, error
  // rate, and each adapter's own state (the Rakel terminal; the phone provider's webhooks).
  function channelHealth() {
    const section = h('section.admin-channels', { 'aria-labelledby': 'channels-title' },
      h('h2#channels-title', t('channel_health')), h('p', t('channel_health_intro')));
    const holder = h('div');
    const refresh = h('button.btn', { type: 'button', 'data-refresh': '' }, t('channel_health_refresh'));
    refresh.addEventListener('click', () => fill());
    section.append(refresh, holder);
    async function fill() {
      let doc;
      try { doc = await api('/admin/channels'); } catch (e) {
        holder.replaceChildren(h('p.error-box', { role: 'alert' }, ctxRef.errorText(e))); return;
      }
      const names = Object.keys(doc.channels || {}).filter((n) => doc.channels[n].enabled !== false || doc.channels[n].webhook_count);
      if (!names.length) { holder.replaceChildren(h('p.empty', t('channel_health_none'))); return; }
      const rows = names.sort().map((name) => {
        const c = doc.channels[name];
        const state = c.breaker ? c.breaker.state : 'closed';
        return h('tr', { 'data-channel': name, 'data-breaker': state },
          h('th', { scope: 'row' }, t(`via_${name}`)),
          h('td', h(`span.state.breaker-${state}`, t(`breaker_${state}`))),
          h('td', String(c.sent ?? 0)),
          h('td', String(c.failed ?? 0)),
          h('td', c.error_rate == null ? '–' : `${Math.round(c.error_rate * 100)} %`),
          h('td', formatTime(c.last_ok_at)),
          h('td', detail(name, c)));
      });
      holder.replaceChildren(h('table.channel-health', h('thead', h('tr',
        ...['channel_col_channel', 'channel_col_state', 'channel_col_sent', 'channel_col_failed',
          'channel_col_rate', 'channel_col_last_ok', 'channel_col_detail'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', rows)));
      ctxRef.rendered();
    }
    function detail(name, c) {
      const parts = [];
      if (name === 'rakel' && 'connected' in c) {
        parts.push(t(c.connected ? 'rakel_terminal_connected' : 'rakel_terminal_down'));
        if (c.last_sds_in_at) parts.push(t('rakel_last_sds', { time: formatTime(c.last_sds_in_at) }));
        parts.push(t('rakel_queue', { n: c.queue_length ?? 0, max: c.queue_capacity ?? 0 }));
      }
      if (c.last_webhook_at) parts.push(t('phone_last_webhook', { time: formatTime(c.last_webhook_at) }));
      if (c.failed_over) parts.push(t('failed_over_n', { n: c.failed_over }));
      return parts.join(' · ');
    }
    fill();
    return section;
  }

  async function renderActorAdmin(holder, actorId) {
    const actor = ctxRef.store.actors.get(actorId);
    holder.replaceChildren(h('p', t('loading')));
    let users = [];
    try { users = (await api(`/actors/${encodeURIComponent(actorId)}/users`)).items || []; } catch (e) {
      holder.replaceChildren(h('p.error-box', { role: 'alert' }, ctxRef.errorText(e))); return;
    }
    const list = h('ul.user-list', { 'aria-label': t('users_of', { actor: actor?.name || '' }) });
    users.sort((a, b) => a.username.localeCompare(b.username, 'sv'));
    for (const u of users) list.append(userRow(u, actor));
    holder.replaceChildren(h('h3', t('users_of', { actor: actor?.name || '' })), list,
      newUserForm(actor, (u) => { list.append(userRow(u, actor)); }),
      contactPointsForm(actor));
    ctxRef.rendered();
  }

  function roleOptions() {
    const roles = ['reader', 'spokesperson', 'editor', 'actor_admin'];
    if (ctxRef.store.me.permissions?.manage_actors) roles.push('system_admin');
    return roles.map((r) => [r, t(`role_${r}`)]);
  }
  const clearanceOptions = (actor) => levelsUpTo(actor?.clearance_ceiling || 'public').map((l) => [l, t(`level_${l}_long`)]);

  function userRow(u, actor) {
    const status = statusLine();
    const own = u.id === ctxRef.store.me.id;
    if (own || !roleOptions().some(([r]) => r === u.role)) {
      // one's own account (the server refuses self-changes) and e.g. a system administrator seen
      // by an actor administrator: shown, not editable — no control the server would refuse
      return h('li.card.user-row.is-readonly', { dataset: { username: u.username, userId: u.id } },
        h('div.user-id', h('strong', u.display_name), ' ', h('span.username', `(${u.username})`), ' ',
          h(`span.tag${u.active ? '.status-open' : '.status-closed'}`, u.active ? t('active') : t('inactive'))),
        h('p', `${t('role')}: ${t(`role_${u.role}`)} · ${t('clearance')}: ${t(`level_${u.clearance}_long`)}`),
        own ? h('p.own-row-note', t('own_row_readonly')) : null);
    }
    const role = select(roleOptions(), u.role, { name: 'role' });
    const clr = select(clearanceOptions(actor), u.clearance, { name: 'clearance' });
    const save = h('button.btn.btn-small.btn-primary.save-user', { type: 'button', disabled: true }, t('save'));
    const unsaved = h('span.unsaved', { hidden: true }, t('unsaved_changes'));
    const dirty = () => role.value !== u.role || clr.value !== u.clearance;
    const markDirty = () => { save.disabled = !dirty(); unsaved.hidden = !dirty(); };
    // after any answer the controls show the server's truth, never a value it refused
    const showTruth = () => { role.value = u.role; clr.value = u.clearance; markDirty(); };
    const patch = async (body) => {
      try {
        const nu = await api(`/users/${encodeURIComponent(u.id)}`, { method: 'PATCH', body });
        Object.assign(u, nu);
        const fresh = userRow(u, actor);
        li.replaceWith(fresh);
        showStatus(fresh.querySelector('.status-line'), t('saved'));
      } catch (e) {
        showTruth();
        showStatus(status, ctxRef.errorText(e), 'error');
      }
    };
    role.addEventListener('change', markDirty);
    clr.addEventListener('change', markDirty);
    save.addEventListener('click', () => {
      const body = {};
      if (role.value !== u.role) body.role = role.value;
      if (clr.value !== u.clearance) body.clearance = clr.value;
      if (Object.keys(body).length) patch(body);
    });
    const toggle = h(`button.btn.btn-small${u.active ? '.btn-danger-outline' : ''}`, { type: 'button', onclick: async () => {
      if (u.active && !(await confirmDialog({
        title: t('disable'), text: t('confirm_disable_user', { name: `${u.display_name} (${u.username})` }),
        confirmLabel: t('disable'), cancelLabel: t('cancel'),
      }))) return;
      patch({ active: !u.active });
    } }, u.active ? t('disable') : t('enable'));
    const pw = h('input', { type: 'password', autocomplete: 'new-password', minlength: 12, name: 'new-password' });
    const pwForm = h('form.pw-form', { novalidate: true, hidden: true }, field(t('new_password'), pw),
      h('button.btn.btn-small', { type: 'submit' }, t('save')));
    pwForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      setFieldError(pw, '');
      if (pw.value.length < 12) { setFieldError(pw, t('password_min')); pw.focus(); return; }
      try {
        await api(`/users/${encodeURIComponent(u.id)}/password`, { method: 'POST', body: { password: pw.value } });
        pw.value = ''; pwForm.hidden = true; showStatus(status, t('password_reset_done'));
      } catch (e) { setFieldError(pw, ctxRef.errorText(e)); }
    });
    const pwBtn = h('button.btn.btn-small', { type: 'button', 'aria-expanded': 'false', onclick: () => {
      pwForm.hidden = !pwForm.hidden; pwBtn.setAttribute('aria-expanded', String(!pwForm.hidden)); if (!pwForm.hidden) pw.focus();
    } }, t('reset_password'));
    const li = h(`li.card.user-row${u.active ? '' : '.is-inactive'}`, { dataset: { username: u.username, userId: u.id } },
      h('div.user-id', h('strong', u.display_name), ' ', h('span.username', `(${u.username})`),
        ' ', h(`span.tag${u.active ? '.status-open' : '.status-closed'}`, u.active ? t('active') : t('inactive'))),
      h('div.user-controls', field(t('role'), role), field(t('clearance'), clr)),
      h('div.user-actions', save, unsaved, toggle, pwBtn), pwForm, status);
    return li;
  }

  function newUserForm(actor, onCreated) {
    const username = h('input', { type: 'text', name: 'new-username', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
    const name = h('input', { type: 'text', name: 'new-display-name', autocomplete: 'off' });
    const pw = h('input', { type: 'password', name: 'new-user-password', autocomplete: 'new-password', minlength: 12 });
    const role = select(roleOptions(), 'reader', { name: 'new-role' });
    const clr = select(clearanceOptions(actor), 'public', { name: 'new-clearance' });
    const status = statusLine();
    const form = h('form.card.new-user', { novalidate: true, 'aria-labelledby': 'new-user-title' },
      h('h3#new-user-title', t('new_user')),
      field(t('username'), username, { required: true }),
      field(t('display_name'), name, { required: true }),
      field(t('password'), pw, { required: true, hint: t('password_min') }),
      field(t('role'), role), field(t('clearance'), clr), status,
      h('div.form-actions', h('button.btn.btn-primary', { type: 'submit' }, t('create'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      for (const c of [username, name, pw]) setFieldError(c, '');
      if (!username.value.trim()) { setFieldError(username, t('required')); username.focus(); return; }
      if (!name.value.trim()) { setFieldError(name, t('required')); name.focus(); return; }
      if (pw.value.length < 12) { setFieldError(pw, t('password_min')); pw.focus(); return; }
      try {
        const u = await api(`/actors/${encodeURIComponent(actor.id)}/users`, { method: 'POST', body: {
          username: username.value.trim(), password: pw.value, display_name: name.value.trim(), role: role.value, clearance: clr.value,
        } });
        showStatus(status, t('user_created', { name: u.display_name }));
        username.value = ''; name.value = ''; pw.value = '';
        onCreated(u);
      } catch (e) {
        const target = { username, password: pw, display_name: name }[e.field];
        if (target) setFieldError(target, ctxRef.errorText(e));
        showStatus(status, ctxRef.errorText(e), 'error');
      }
    });
    return form;
  }

  function contactPointsForm(actor) {
    const rows = h('ol.cp-list');
    const addRow = (cp = { kind: 'phone', value: '', priority: rows.children.length + 1, label: '' }) => {
      const kind = select(CP_KINDS.map((k) => [k, t(`cp_${k}`)]), cp.kind, { name: 'cp-kind' });
      const value = h('input', { type: 'text', name: 'cp-value', value: cp.value || '' });
      const prio = h('input', { type: 'number', name: 'cp-priority', min: 1, max: 99, value: String(cp.priority ?? 1) });
      const label = h('input', { type: 'text', name: 'cp-label', value: cp.label || '' });
      const li = h('li.cp-row', field(t('contact_kind'), kind), field(t('contact_value'), value),
        field(t('contact_priority'), prio), field(t('contact_label'), label),
        h('button.btn.btn-small', { type: 'button', onclick: () => li.remove() }, t('remove')));
      li.read = () => ({ kind: kind.value, value: value.value.trim(), priority: Number(prio.value) || 1, label: label.value.trim() });
      rows.append(li);
    };
    for (const cp of (actor.contact_points || []).slice().sort((a, b) => a.priority - b.priority)) addRow(cp);
    const status = statusLine();
    const form = h('form.card.contact-points', { novalidate: true, 'aria-labelledby': 'cp-title' },
      h('h3#cp-title', t('contact_points')), rows,
      h('div.form-actions', h('button.btn', { type: 'button', onclick: () => addRow() }, t('add_contact_point')),
        h('button.btn.btn-primary', { type: 'submit' }, t('save'))), status);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const cps = [...rows.children].map((li) => li.read()).filter((c) => c.value);
      try {
        const a = await api(`/actors/${encodeURIComponent(actor.id)}/contact-points`, { method: 'PUT', body: { contact_points: cps } });
        ctxRef.store.actors.set(a.id, a);
        showStatus(status, t('saved'));
      } catch (e) { showStatus(status, ctxRef.errorText(e), 'error'); }
    });
    return form;
  }

  function actorsAdmin() {
    const section = h('section.admin-actors', { 'aria-labelledby': 'actors-title' }, h('h2#actors-title', t('actors')));
    const list = h('ul.actor-list');
    const row = (a) => {
      const name = h('input', { type: 'text', name: 'actor-name', value: a.name });
      const short = h('input', { type: 'text', name: 'actor-short', value: a.short_name });
      const ceil = select(LEVELS.map((l) => [l, t(`level_${l}_long`)]), a.clearance_ceiling, { name: 'actor-ceiling' });
      const status = statusLine();
      const form = h('form.card.actor-row', { novalidate: true, dataset: { actorId: a.id } },
        h('p.actor-head', h('strong', a.name), ' ', badgeNoCount(a.clearance_ceiling)),
        h('div.actor-fields', field(t('name'), name), field(t('short_name'), short), field(t('classification_ceiling'), ceil)),
        h('div.form-actions', h('button.btn.btn-small', { type: 'submit' }, t('save'))), status);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try {
          const na = await api(`/actors/${encodeURIComponent(a.id)}`, { method: 'PATCH', body: { name: name.value.trim(), short_name: short.value.trim(), clearance_ceiling: ceil.value } });
          ctxRef.store.actors.set(na.id, { ...a, ...na });
          form.replaceWith(row({ ...a, ...na }));
        } catch (e) { showStatus(status, ctxRef.errorText(e), 'error'); }
      });
      return h('li', form);
    };
    const actors = [...ctxRef.store.actors.values()].sort((a, b) => a.name.localeCompare(b.name, 'sv'));
    for (const a of actors) list.append(row(a));
    const name = h('input', { type: 'text', name: 'new-actor-name' });
    const short = h('input', { type: 'text', name: 'new-actor-short' });
    const ceil = select(LEVELS.map((l) => [l, t(`level_${l}_long`)]), 'public', { name: 'new-actor-ceiling' });
    const status = statusLine();
    const form = h('form.card.new-actor', { novalidate: true, 'aria-labelledby': 'new-actor-title' },
      h('h3#new-actor-title', t('new_actor')), field(t('name'), name, { required: true }),
      field(t('short_name'), short, { required: true }), field(t('classification_ceiling'), ceil), status,
      h('div.form-actions', h('button.btn.btn-primary', { type: 'submit' }, t('create'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      setFieldError(name, ''); setFieldError(short, '');
      if (!name.value.trim()) { setFieldError(name, t('required')); name.focus(); return; }
      if (!short.value.trim()) { setFieldError(short, t('required')); short.focus(); return; }
      try {
        const a = await api('/actors', { method: 'POST', body: { name: name.value.trim(), short_name: short.value.trim(), clearance_ceiling: ceil.value } });
        ctxRef.store.actors.set(a.id, a);
        list.append(row(a));
        showStatus(status, t('actor_created', { name: a.name }));
        name.value = ''; short.value = '';
      } catch (e) { showStatus(status, ctxRef.errorText(e), 'error'); }
    });
    section.append(list, form);
    return section;
  }

  return { el, load, onEvent() {}, destroy() {} };
}
