// The user's own settings: push notifications in this browser (on/off), notification preferences.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { pushState, enablePush, disablePush } from '../push.js';
import { notificationPrefs } from './notify_prefs.js';

export function settingsView() {
  const el = h('section.settings-view');
  const status = h('p.push-status#push-status', { role: 'status', 'aria-live': 'polite' });
  const toggle = h('input#push-toggle', { type: 'checkbox', role: 'switch', disabled: true });
  let key = null;

  function show(state) {
    toggle.checked = state === 'on';
    toggle.disabled = !['on', 'off'].includes(state);
    toggle.setAttribute('aria-checked', String(state === 'on'));
    status.dataset.state = state;
    status.textContent = t({ on: 'push_on', off: 'push_off', unsupported: 'push_unsupported', disabled: 'push_disabled_server', denied: 'push_denied', failed: 'push_failed' }[state]);
  }

  async function load(ctx) {
    el.append(h('h1', t('settings_title')),
      h('section.push-settings', { 'aria-labelledby': 'push-heading' },
        h('h2#push-heading', t('push_heading')),
        h('p', t('push_intro')),
        h('label.switch', { for: 'push-toggle' }, toggle, ' ', t('push_toggle')),
        status));
    const prefs = notificationPrefs();
    el.append(prefs.el);
    await prefs.load(ctx);
    const s = await pushState();
    key = s.key || null;
    show(s.state);
    toggle.addEventListener('change', async () => {
      const want = toggle.checked;
      toggle.disabled = true;
      status.textContent = t('push_working');
      try {
        show(want ? await enablePush(key) : await disablePush());
      } catch (e) {
        show('failed');
        if (e.status !== undefined) status.textContent = ctx.errorText(e);
        toggle.disabled = false; toggle.checked = !want;
      }
    });
    ctx.rendered();
  }

  return { el, load };
}
