// Notification preferences (Inställningar → Aviseringar), over GET/PUT /api/v1/me/notifications:
// channels (push, e-mail, SMS, in the order tried), all my spaces or chosen ones, which events, and
// quiet hours in the browser's time zone. After a save the form shows the server's answer; after a
// refusal it keeps what was typed and says why beside the field.
import { h, field, nextId, setFieldError, statusLine, showStatus } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';

const CHANNELS = ['push', 'email', 'sms'];
const EVENTS = ['notice', 'situation_report', 'entry', 'space_added'];

function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'Europe/Stockholm'; } catch { return 'Europe/Stockholm'; }
}

function check(name, value, label, checked) {
  const id = nextId(name);
  const box = h('input', { type: 'checkbox', id, name, value, checked });
  return { box, el: h('li', box, h('label', { for: id }, label)) };
}

/** The preferences section; `load(ctx)` fills it from the server. */
export function notificationPrefs() {
  const el = h('section.notify-prefs', { 'aria-labelledby': 'prefs-heading' });
  let saved = null; // the server's current preferences
  let spaces = [];

  async function load(ctx) {
    const [prefs, list] = await Promise.all([api('/me/notifications'), api('/spaces')]);
    spaces = (list.items || []).slice().sort((a, b) => String(a.title).localeCompare(String(b.title), 'sv'));
    saved = prefs;
    render(ctx);
  }

  function render(ctx) {
    const p = saved;
    const status = statusLine();
    // channels, in the order the server tries them (the ones not chosen after)
    const order = [...p.channels.filter((c) => CHANNELS.includes(c)), ...CHANNELS.filter((c) => !p.channels.includes(c))];
    const channelBoxes = order.map((c) => ({ c, ...check('prefs-channel', c, t(`prefs_channel_${c}`), p.channels.includes(c)) }));
    const email = h('input', { type: 'email', name: 'email', maxlength: 254, autocomplete: 'email', value: p.email || '' });
    const phone = h('input', { type: 'tel', name: 'phone', maxlength: 40, autocomplete: 'tel', value: p.phone || '' });
    const pushInfo = h('p.hint.prefs-push-info', p.push_subscriptions ? t('prefs_push_count', { n: p.push_subscriptions }) : t('prefs_push_none'));

    const modeAll = h('input', { type: 'radio', name: 'prefs-spaces', id: nextId('mode'), value: 'all', checked: p.spaces.mode === 'all' });
    const modeChosen = h('input', { type: 'radio', name: 'prefs-spaces', id: nextId('mode'), value: 'chosen', checked: p.spaces.mode === 'chosen' });
    const spaceBoxes = spaces.map((s) => ({ id: s.id, ...check('prefs-space', s.id, s.title, p.spaces.space_ids.includes(s.id)) }));
    const spaceList = h('ul.checklist.prefs-space-list', ...spaceBoxes.map((b) => b.el));
    if (!spaces.length) spaceList.append(h('li.empty', t('prefs_spaces_none')));
    const showSpaces = () => { spaceList.hidden = !modeChosen.checked; };
    modeAll.addEventListener('change', showSpaces); modeChosen.addEventListener('change', showSpaces);
    showSpaces();

    const eventBoxes = EVENTS.map((e) => ({ e, ...check('prefs-event', e, t(`prefs_event_${e}`), p.events.includes(e)) }));

    const quiet = p.quiet_hours;
    const zone = quiet?.timezone || browserZone();
    const quietOn = h('input', { type: 'checkbox', id: nextId('quiet'), checked: Boolean(quiet) });
    const from = h('input', { type: 'time', name: 'quiet-from', value: quiet?.from || '22:00' });
    const to = h('input', { type: 'time', name: 'quiet-to', value: quiet?.to || '06:30' });
    const quietFields = h('div.prefs-quiet-fields', field(t('prefs_quiet_from'), from), field(t('prefs_quiet_to'), to),
      h('p.hint', t('prefs_quiet_zone', { zone })));
    const showQuiet = () => { quietFields.hidden = !quietOn.checked; };
    quietOn.addEventListener('change', showQuiet);
    showQuiet();

    const submit = h('button.btn.btn-primary', { type: 'submit' }, t('save'));
    const form = h('form.card.prefs-form', { novalidate: true },
      h('fieldset.prefs-channels', h('legend', t('prefs_channels')), h('p.hint', t('prefs_channels_hint')),
        h('ul.checklist', ...channelBoxes.map((b) => b.el)), pushInfo,
        field(t('prefs_email'), email), field(t('prefs_phone'), phone, { hint: t('prefs_phone_hint') })),
      h('fieldset.prefs-spaces', h('legend', t('prefs_spaces')),
        h('div.radio-row', modeAll, h('label', { for: modeAll.id }, t('prefs_spaces_all'))),
        h('div.radio-row', modeChosen, h('label', { for: modeChosen.id }, t('prefs_spaces_chosen'))),
        spaceList),
      h('fieldset.prefs-events', h('legend', t('prefs_events')), h('ul.checklist', ...eventBoxes.map((b) => b.el))),
      h('fieldset.prefs-quiet', h('legend', t('prefs_quiet')),
        h('div.radio-row', quietOn, h('label', { for: quietOn.id }, t('prefs_quiet_on'))),
        h('p.hint', t('prefs_quiet_hint')), quietFields),
      status,
      h('div.form-actions', submit));

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      for (const c of [email, phone, from, to]) setFieldError(c, '');
      if (quietOn.checked && from.value === to.value) { setFieldError(to, t('prefs_quiet_same')); to.focus(); return; }
      const kept = saved.channels.filter((c) => !CHANNELS.includes(c)); // e.g. rakel, not shown here
      const body = {
        channels: [...channelBoxes.filter((b) => b.box.checked).map((b) => b.c), ...kept],
        spaces: modeChosen.checked
          ? { mode: 'chosen', space_ids: spaceBoxes.filter((b) => b.box.checked).map((b) => b.id) }
          : { mode: 'all' },
        events: eventBoxes.filter((b) => b.box.checked).map((b) => b.e),
        quiet_hours: quietOn.checked ? { from: from.value, to: to.value, timezone: zone } : null,
        email: email.value.trim() || null,
        phone: phone.value.trim() || null,
      };
      submit.disabled = true;
      try {
        saved = await api('/me/notifications', { method: 'PUT', body });
        render(ctx);
        const fresh = el.querySelector('.prefs-form .status-line');
        showStatus(fresh, t('prefs_saved'));
      } catch (e) {
        const target = { email, phone, 'quiet_hours.from': from, 'quiet_hours.to': to, quiet_hours: to }[e.field];
        if (target) { setFieldError(target, ctx.errorText(e)); target.focus(); }
        showStatus(status, ctx.errorText(e), 'error');
      } finally { submit.disabled = false; }
    });

    el.replaceChildren(h('h2#prefs-heading', t('prefs_heading')), h('p', t('prefs_intro')), form);
    ctx.rendered();
  }

  return { el, load };
}
