// Situation report (lägesbild): joint report and each actor's, version history, per-section diff
// between versions, and a section-by-section editor with per-section classification and audience.
import { h, field, select, statusLine, showStatus, announce, nextId } from '../dom.js';
import { t, formatTime } from '../i18n.js';
import { api, qs } from '../api.js';
import { badge, levelRank } from '../classification.js';
import { diffText } from '../diff.js';
import { SECTION_KEYS, audiencePicker, audienceText, ceilingsOf, levelRadios, exercisePrefix } from './common.js';

export function reportView({ spaceId, scope, actorId }) {
  const el = h('section.report-view');
  let space = null;
  let ctxRef = null;
  let body = null;
  let versions = [];
  let shown = null; // report currently displayed
  let editing = false;
  let publishing = false;
  let notice = null;
  let followed = null; // the space id once subscribed (app.js: is it still followed?)

  const sp = encodeURIComponent(spaceId);
  const scopeQs = () => qs({ scope, actor_id: scope === 'actor' ? actorId : undefined });
  const base = `#/spaces/${sp}/report`;

  async function load(ctx) {
    ctxRef = ctx;
    const [s, head, reporting] = await Promise.all([
      api(`/spaces/${sp}`),
      api(`/spaces/${sp}/entries${qs({ order: 'desc', limit: 1 })}`).catch(() => ({ head: null })),
      api(`/spaces/${sp}/situation-reports${qs({ scope: 'joint' })}`).then((r) => new Set(r.reporting_actors || [])).catch(() => new Set()),
      ctx.store.loadActors().catch(() => null),
    ]);
    space = s;
    ctx.store.touch();
    ctx.setExercise(space.exercise);
    const me = ctx.store.me;
    if (scope === 'actor' && !actorId) actorId = me.actor.id;
    const tabs = h('nav.tabs', { 'aria-label': t('situation_report') });
    const tab = (href, label, active) => h('a.tab', { href, 'aria-current': active ? 'page' : null }, label);
    tabs.append(tab(`${base}/joint`, t('joint_report'), scope === 'joint'));
    for (const p of space.participants) {
      const has = reporting.has(p.actor_id);
      const a = tab(`${base}/actor/${encodeURIComponent(p.actor_id)}`, ctx.store.actorName(p.actor_id, true), scope === 'actor' && actorId === p.actor_id);
      if (has) { a.classList.add('has-report'); a.append(h('span.sr-only', ` (${t('has_report')})`)); a.title = t('has_report'); }
      tabs.append(a);
    }
    const title = scope === 'joint' ? t('joint_report') : t('report_of', { actor: ctx.store.actorName(actorId) });
    notice = h('div.report-notice', { role: 'status' });
    body = h('div.report-body');
    el.append(
      h('p.breadcrumb', h('a', { href: `#/spaces/${sp}` }, `← ${space.title}`)),
      h('h1', exercisePrefix(space), title),
      tabs, notice, body);
    await showLatest();
    // an unsent version typed before leaving for the log comes back (memory only, per space+scope)
    if (canPublish() && ctx.store.drafts.has(draftKey())) renderEditor();
    ctx.stream?.subscribe(space.id, head?.head ?? 0);
    followed = space.id;
  }

  function draftKey() { return `${spaceId}:report:${scope}:${scope === 'actor' ? actorId : ''}`; }

  function canPublish() {
    const me = ctxRef.store.me;
    if (!(space.writable_levels || []).length || space.status === 'closed') return false;
    if (scope === 'joint') return space.can_publish_joint === true;
    return actorId === me.actor.id && (space.my_role === 'editor' || space.my_role === 'spokesperson');
  }

  async function fetchVersions() {
    try { versions = (await api(`/spaces/${sp}/situation-reports${scopeQs()}`)).items || []; } catch (_) { versions = []; }
    versions.sort((a, b) => b.version - a.version);
  }

  async function fetchReport(version) {
    try { return await api(`/spaces/${sp}/situation-reports/${version}${scopeQs()}`); } catch (e) {
      if (e.status === 404) return null;
      throw e;
    }
  }

  async function showLatest() {
    editing = false;
    notice.replaceChildren();
    await fetchVersions();
    shown = versions.length ? await fetchReport('latest') : null; // no version: skip the 404
    render();
  }

  function participantIds() { return space.participants.map((p) => p.actor_id); }

  function sectionView(sec) {
    return h(`section.report-section.entry-${sec.classification}`, { dataset: { key: sec.key, level: sec.classification } },
      h('h3.section-head', badge(sec.classification), ' ', h('span', t(`sec_${sec.key}`))),
      h('p.section-body', sec.body),
      h('p.entry-audience', audienceText(sec.audience, participantIds(), sec.classification, ceilingsOf(space))));
  }

  function render(compareWith = null) {
    body.replaceChildren();
    const actions = h('div.report-actions');
    if (canPublish()) actions.append(h('button.btn.btn-primary', { type: 'button', id: 'edit-report', onclick: () => renderEditor() }, t('edit_report')));
    if (!shown) {
      body.append(h('p.empty', t('no_report')), actions);
      ctxRef.rendered();
      return;
    }
    // version picker + compare picker
    const vOpts = versions.map((v) => [String(v.version), `${t('version_n', { n: v.version })} – ${formatTime(v.created_at)}`]);
    const vSel = select(vOpts.length ? vOpts : [[String(shown.version), t('version_n', { n: shown.version })]], String(shown.version), { id: 'report-version' });
    vSel.addEventListener('change', async () => { shown = await fetchReport(vSel.value); render(); });
    const cOpts = [['', t('no_compare')], ...versions.filter((v) => v.version !== shown.version).map((v) => [String(v.version), t('version_n', { n: v.version })])];
    const cSel = select(cOpts, compareWith ? String(compareWith.version) : '', { id: 'report-compare' });
    cSel.addEventListener('change', async () => {
      if (!cSel.value) { render(); return; }
      const other = await fetchReport(cSel.value);
      render(other);
    });
    body.append(
      h('div.report-toolbar', field(t('version'), vSel), versions.length > 1 ? field(t('compare_with'), cSel) : null, actions),
      h('p.report-meta', t('published_by', { time: formatTime(shown.created_at), author: shown.author?.display_name || '' })));
    if (compareWith) body.append(diffView(compareWith, shown));
    else {
      const secs = orderSections(shown.sections || []);
      for (const s of secs) body.append(sectionView(s));
      if (!secs.length) body.append(h('p.empty', t('no_readable_sections')));
    }
    ctxRef.rendered();
  }

  function orderSections(secs) {
    return secs.slice().sort((a, b) => SECTION_KEYS.indexOf(a.key) - SECTION_KEYS.indexOf(b.key));
  }

  function diffView(a, b) {
    const [older, newer] = a.version < b.version ? [a, b] : [b, a];
    const wrap = h('div.report-diff', h('h2', t('changes_since', { a: older.version, b: newer.version })));
    const om = new Map((older.sections || []).map((s) => [s.key, s]));
    const nm = new Map((newer.sections || []).map((s) => [s.key, s]));
    for (const key of SECTION_KEYS) {
      const o = om.get(key); const n = nm.get(key);
      if (!o && !n) continue;
      const level = n ? n.classification : o.classification;
      const sec = h(`section.report-section.entry-${level}`, { dataset: { key, level } },
        h('h3.section-head', badge(level), ' ', h('span', t(`sec_${key}`))));
      if (o && n && o.classification !== n.classification) {
        sec.append(h('p.diff-level', t('level_changed', { from: t(`level_${o.classification}`), to: t(`level_${n.classification}`) })),
          h('span.sr-only', badge(o.classification)));
      }
      if (!o) sec.append(h('p.diff-note', t('section_added')));
      if (!n) { sec.append(h('p.diff-note', t('section_removed'))); sec.append(h('span.sr-only', badge(o.classification))); }
      const parts = diffText(o?.body || '', n?.body || '');
      if (o && n && o.body === n.body) sec.append(h('p.diff-note', t('unchanged')));
      const p = h('p.section-body.diff-body');
      for (const part of parts) {
        if (part.op === '=') p.append(part.text);
        else if (part.op === '-') p.append(h('del', { title: t('removed_text') }, h('span.sr-only', `[${t('removed_text')}: `), part.text, h('span.sr-only', ']')));
        else p.append(h('ins', { title: t('added_text') }, h('span.sr-only', `[${t('added_text')}: `), part.text, h('span.sr-only', ']')));
      }
      sec.append(p);
      wrap.append(sec);
    }
    return wrap;
  }

  function renderEditor() {
    editing = true;
    const me = ctxRef.store.me;
    const levels = space.writable_levels.slice().sort((a, b) => levelRank(a) - levelRank(b));
    const draft = ctxRef.store.drafts.get(draftKey());
    const prev = new Map(((draft && draft.sections) || (shown && shown.sections) || []).map((s) => [s.key, s]));
    const rows = [];
    const form = h('form.report-editor', { novalidate: true, 'aria-labelledby': 'editor-title' },
      h('h2#editor-title', t('publish_report'), ': ', scope === 'joint' ? t('joint_report') : ctxRef.store.actorName(actorId)));
    for (const key of SECTION_KEYS) {
      const p = prev.get(key);
      const initLevel = p && levels.includes(p.classification) ? p.classification : levels[0];
      const ta = h('textarea', { name: `sec-${key}`, rows: 3, dataset: { key } });
      ta.value = p ? p.body : '';
      ta.addEventListener('input', () => saveDraft());
      const aud = audiencePicker({ participants: participantIds(), ownActorId: me.actor.id, store: ctxRef.store, compact: true, ceilings: ceilingsOf(space) });
      if (p) { aud.setLevel(initLevel); aud.set(p.audience); } else aud.setDefault(initLevel);
      let fs = null;
      const lv = levelRadios({ levels, value: initLevel, name: `${nextId('seclvl')}-${key}`, onChange: (l) => {
        aud.setDefault(l);
        fs.className = `card section-editor editing-${l}`;
        saveDraft();
      } });
      aud.el.addEventListener('change', () => saveDraft());
      rows.push({ key, ta, lv, aud });
      fs = h(`fieldset.card.section-editor.editing-${initLevel}`, { dataset: { key } }, h('legend', t(`sec_${key}`)),
        field(t('body'), ta), lv.el, h('details.audience-details', h('summary', aud.count), aud.el),
        aud.summary); // who reads this section, by name, whatever is folded away
      form.append(fs);
    }
    function saveDraft() {
      ctxRef.store.drafts.set(draftKey(), { sections: rows.map((r) => ({
        key: r.key, body: r.ta.value, classification: r.lv.getValue(), audience: r.aud.selected(),
      })) });
    }
    const status = statusLine();
    if (draft) status.textContent = t('draft_kept');
    const submit = h('button.btn.btn-primary', { type: 'submit', id: 'publish-report' }, t('publish_report'));
    form.append(status, h('div.form-actions', submit, h('button.btn', { type: 'button', onclick: () => {
      editing = false; ctxRef.store.drafts.delete(draftKey()); render();
    } }, t('cancel'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const sections = rows.filter((r) => r.ta.value.trim()).map((r) => {
        const s = { key: r.key, classification: r.lv.getValue(), body: r.ta.value };
        const a = r.aud.getValue(s.classification);
        if (a !== null) s.audience = a;
        return s;
      });
      if (!sections.length) { showStatus(status, t('required'), 'error'); return; }
      submit.disabled = true;
      publishing = true;
      try {
        const rep = await api(`/spaces/${sp}/situation-reports`, { method: 'POST', body: { scope, sections } });
        ctxRef.store.drafts.delete(draftKey());
        editing = false;
        notice.replaceChildren();
        await fetchVersions();
        shown = rep;
        render();
        if (rep.kept_unreadable > 0) notice.replaceChildren(h('p.kept-unreadable', t('kept_unreadable', { n: rep.kept_unreadable })));
        announce(t('new_report_announce', { version: rep.version }));
      } catch (e) {
        showStatus(status, ctxRef.errorText(e), 'error');
      } finally { submit.disabled = false; publishing = false; }
    });
    body.replaceChildren(form);
    ctxRef.rendered();
    form.querySelector('textarea')?.focus();
  }

  function onEvent(ev, ctx) {
    if (!space || ev.space_id !== space.id) return;
    if (ev.type === 'revoked') { ctx.flash(t('error_not_found')); body?.replaceChildren(); ctx.navigate('#/spaces'); return; }
    if (ev.type === 'error' && ev.code === 'not_found') {
      // refused on resubscribe (the actor left the space while this screen was away)
      el.replaceChildren(h('p.breadcrumb', h('a', { href: '#/spaces' }, `← ${t('back_to_spaces')}`)),
        h('p.space-left-notice', { role: 'alert' }, t('membership_removed')));
      editing = false;
      space = null;
      ctx.setExercise(false);
      ctx.rendered();
      return;
    }
    if (ev.type === 'event' && ev.event === 'space.resync') {
      // the reader's rights narrowed after this view was loaded: load it again under today's
      body?.replaceChildren();
      space = null;
      ctx.navigate(window.location.hash);
      return;
    }
    if (ev.type === 'event' && ev.event === 'space.updated' && ev.data) {
      const wasClosed = space.status === 'closed';
      space = { ...space, ...ev.data };
      if (space.status === 'closed' && !wasClosed) {
        // closed by someone: the editor goes (its text stays in the in-memory draft) and says why
        editing = false;
        render();
        notice.replaceChildren(h('p.space-closed-notice', t('space_closed_notice')));
        announce(t('space_closed_notice'));
      } else if (wasClosed && space.status !== 'closed') { notice.replaceChildren(); render(); }
      return;
    }
    if (ev.type === 'event' && ev.event === 'situation_report.section_withdrawn' && ev.data) {
      // the reader's rights narrowed: the section leaves the screen at once (the server sends
      // only the report id and the section key)
      if (shown && shown.id === ev.data.id) {
        shown = { ...shown, sections: (shown.sections || []).filter((s) => s.key !== ev.data.key) };
        if (!editing) render();
      }
      return;
    }
    if (ev.type !== 'event' || ev.event !== 'situation_report.published' || !ev.data) return;
    const r = ev.data;
    const mine = r.scope === scope && (scope === 'joint' || r.actor_id === actorId);
    if (!mine) return;
    if (publishing || (shown && r.id === shown.id)) return;
    announce(t('new_report_announce', { version: r.version }));
    if (!editing) { showLatest().catch(() => {}); return; }
    notice.replaceChildren(h('p', t('report_updated_elsewhere'), ' ',
      h('button.btn.btn-small', { type: 'button', onclick: () => showLatest() }, t('show_latest'))));
  }

  return { el, load, onEvent, get followed() { return followed; }, destroy() { if (space) ctxRef?.stream?.unsubscribe(space.id); } };
}
