// Safe DOM building: text always goes through textContent / attributes, never innerHTML.

/**
 * h('div.cls#id', {attrs}, ...children) — children may be strings (text nodes), nodes, arrays, null.
 * Attributes: on* functions become listeners; 'class' / 'dataset' / boolean attributes handled.
 */
export function h(tag, attrs, ...children) {
  const [name, ...rest] = tag.split(/(?=[.#])/);
  const el = document.createElement(name || 'div');
  for (const part of rest) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else if (part[0] === '#') el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') el[k] = Boolean(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
/** Create an SVG element with attributes (presentation attributes, not inline style). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

let uid = 0;
export function nextId(prefix = 'f') { uid += 1; return `${prefix}-${uid}`; }

/** Labelled form field: returns wrapper; control gets id and aria-describedby for hint/error. */
export function field(labelText, control, { hint, required } = {}) {
  const id = control.id || nextId('fld');
  control.id = id;
  const wrap = h('div.field');
  const label = h('label', { for: id }, labelText);
  if (required) {
    control.required = true;
    label.append(h('span.req', { 'aria-hidden': 'true' }, ' *'));
  }
  wrap.append(label, control);
  const described = [];
  if (hint) {
    const hid = `${id}-hint`;
    wrap.append(h('p.hint', { id: hid }, hint));
    described.push(hid);
  }
  const eid = `${id}-err`;
  wrap.append(h('p.field-error', { id: eid, hidden: true }));
  described.push(eid);
  control.setAttribute('aria-describedby', described.join(' '));
  return wrap;
}

export function setFieldError(control, message) {
  const err = document.getElementById(`${control.id}-err`);
  if (!err) return;
  err.textContent = message || '';
  err.hidden = !message;
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
}

export function select(options, value, attrs = {}) {
  const el = h('select', attrs);
  for (const [v, text] of options) el.append(h('option', { value: v, selected: v === value }, text));
  if (value !== undefined) el.value = value;
  return el;
}

/** Polite announcement for screen readers (aria-live region in index.html). */
export function announce(text) {
  const region = document.getElementById('live-region');
  if (!region) return;
  const p = h('p', text);
  region.append(p);
  while (region.childNodes.length > 5) region.firstChild.remove();
}

/** Status message element (role=status) for form feedback. */
export function statusLine() {
  return h('p.status-line', { role: 'status', 'aria-live': 'polite' });
}

export function showStatus(el, text, kind = 'ok') {
  el.textContent = text || '';
  el.classList.toggle('is-error', kind === 'error');
  el.classList.toggle('is-ok', kind === 'ok');
}

/**
 * Ask before a destructive act: a modal <dialog> naming what will happen, with the destructive
 * button styled as such and "Avbryt" focused first. Resolves true only on an explicit confirm.
 */
export function confirmDialog({ title, text, confirmLabel, cancelLabel }) {
  return new Promise((resolve) => {
    const ok = h('button.btn.btn-danger', { type: 'button', value: 'ok' }, confirmLabel);
    const cancel = h('button.btn', { type: 'button', value: 'cancel' }, cancelLabel);
    const titleId = nextId('dlg');
    const dlg = h('dialog.confirm-dialog', { 'aria-labelledby': titleId, role: 'alertdialog' },
      h('h2', { id: titleId }, title), h('p.confirm-text', text), h('div.form-actions', cancel, ok));
    let answer = false;
    ok.addEventListener('click', () => { answer = true; dlg.close(); });
    cancel.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { dlg.remove(); resolve(answer); });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}
