// Compose a notice (informationsunderrättelse) in a space: level, text, read right (the same
// audience picker and "läsrätt" summary beside the button as entries), POST /spaces/{id}/notices.
// A sekretess/hemlig notice asks first: its recipients get only a content-free pointer.
import { h, field, setFieldError, statusLine, showStatus, confirmDialog } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { levelRank } from '../classification.js';
import { audiencePicker, ceilingsOf, levelRadios } from './common.js';

/** The folded "Skicka informationsunderrättelse" form; `onSent(notice)` shows it in the log. */
export function noticeComposer({ space, ctx, onSent }) {
  const me = ctx.store.me;
  const participants = space.participants.map((p) => p.actor_id);
  const levels = space.writable_levels.slice().sort((a, b) => levelRank(a) - levelRank(b));
  const body = h('textarea', { name: 'notice-body', rows: 3, maxlength: 20000 });
  const aud = audiencePicker({ participants, ownActorId: me.actor.id, store: ctx.store, ceilings: ceilingsOf(space) });
  const lv = levelRadios({ levels, value: levels[0], name: `notice-level-${space.id}`, onChange: (l) => { aud.setDefault(l); idemKey = null; } });
  aud.setDefault(levels[0]);
  aud.onChange(() => { idemKey = null; });
  const status = statusLine();
  const submit = h('button.btn.btn-primary', { type: 'submit' }, t('notice_send'));
  let idemKey = null;
  const form = h('form.card.post-notice', { novalidate: true, 'aria-labelledby': `notice-title-${space.id}` },
    h('h2', { id: `notice-title-${space.id}` }, t('notice_heading')),
    h('p.hint', t('notice_intro')),
    lv.el,
    field(t('notice_body'), body, { required: true }),
    h('details.audience-details', h('summary', aud.count), aud.el),
    status,
    h('div.form-actions.publish-row', aud.summary, submit));
  body.addEventListener('input', () => { idemKey = null; });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setFieldError(body, '');
    if (!body.value.trim()) { setFieldError(body, t('required')); body.focus(); return; }
    const level = lv.getValue();
    if (level !== 'public' && !(await confirmDialog({
      title: t('notice_confirm_title'),
      text: t('notice_confirm_text', { level: t(`level_${level}_long`), names: aud.selected().map((id) => ctx.store.actorName(id)).join(', ') }),
      confirmLabel: t('notice_confirm'), cancelLabel: t('cancel'),
    }))) return;
    submit.disabled = true; submit.textContent = t('notice_sending');
    idemKey = idemKey || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    const payload = { classification: level, body: body.value };
    const audience = aud.getValue(level);
    if (audience !== null) payload.audience = audience;
    try {
      const notice = await api(`/spaces/${encodeURIComponent(space.id)}/notices`, { method: 'POST', body: payload, headers: { 'Idempotency-Key': idemKey } });
      idemKey = null;
      body.value = '';
      aud.setDefault(level); // never carry chosen readers over to the next notice
      form.querySelector('details.audience-details')?.removeAttribute('open');
      showStatus(status, t('notice_sent'));
      onSent?.(notice);
    } catch (e) {
      if (e.field === 'body') setFieldError(body, ctx.errorText(e));
      showStatus(status, ctx.errorText(e), 'error');
    } finally { submit.disabled = false; submit.textContent = t('notice_send'); }
  });

  return h('details.notice-details', h('summary.btn.notice-summary', `✉ ${t('notice_new')}`), form);
}
