// Login form and the "opened offline" screen.
import { h, field, setFieldError } from '../dom.js';
import { t, hasText } from '../i18n.js';
import { login } from '../api.js';

export function loginView({ message, onLoggedIn }) {
  const user = h('input', { type: 'text', name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { type: 'password', name: 'password', autocomplete: 'current-password' });
  const status = h('p.status-line', { role: 'alert', id: 'login-status' });
  const button = h('button.btn.btn-primary', { type: 'submit' }, t('login'));
  const form = h('form.card.login-form', { novalidate: true, 'aria-labelledby': 'login-title' },
    h('h1#login-title', t('login_title')),
    h('p', t('login_intro')),
    message ? h('p.flash', { role: 'status' }, message) : null,
    field(t('username'), user, { required: true }),
    field(t('password'), pass, { required: true }),
    status,
    h('div.form-actions', button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setFieldError(user, ''); setFieldError(pass, '');
    status.textContent = '';
    if (!user.value.trim()) { setFieldError(user, t('required')); user.focus(); return; }
    if (!pass.value) { setFieldError(pass, t('required')); pass.focus(); return; }
    button.disabled = true; button.textContent = t('logging_in');
    try {
      await login(user.value.trim(), pass.value);
      pass.value = '';
      onLoggedIn();
    } catch (e) {
      status.textContent = e.status === 429 ? (e.retryAfter != null ? t('login_throttled_wait', { n: e.retryAfter }) : t('login_throttled'))
        : e.status === 0 ? t('error_network')
          : e.status === 401 || e.status === 400 || e.status === 422 ? t('login_failed')
            : (e.code && hasText(`err_${e.code}`) ? t(`err_${e.code}`) : t('error_generic', { status: e.status }));
      pass.value = '';
      pass.focus();
    } finally {
      button.disabled = false; button.textContent = t('login');
    }
  });
  return { el: h('section.login-view', form), focus: () => user.focus() };
}

export function offlineView({ onRetry }) {
  const el = h('section.card.offline-view',
    h('h1', t('conn_offline')),
    h('p.offline-text', { role: 'alert' }, t('offline_start')),
    h('button.btn.btn-primary', { type: 'button', onclick: onRetry }, t('retry')));
  return { el };
}
