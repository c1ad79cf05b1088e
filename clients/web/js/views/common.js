// Shared view helpers: labels for kinds/types/roles, audience picker, space header bits.
import { h, nextId } from '../dom.js';
import { t } from '../i18n.js';
import { badge, exerciseBadge, levelRank } from '../classification.js';

export const KINDS = ['note', 'decision', 'measure', 'need', 'incoming'];
export const TYPES = ['disruption', 'exercise', 'collaboration', 'internal'];
export const SECTION_KEYS = ['event', 'current_situation', 'consequences', 'measures_taken', 'planned_measures',
  'needs', 'communication', 'forecast', 'next_report'];

export function audienceText(audience, participants, level = null, ceilings = null) {
  const m = participants.length;
  const named = audience == null ? participants : audience.filter((id) => participants.includes(id));
  // only actors whose ceiling reaches the item's level can ever read it: they alone count
  const n = named.filter((id) => canReach(id, level, ceilings)).length;
  return t('audience_count', { n, m });
}

/** actor id → clearance ceiling, from a space's participants (the server sends each one's ceiling). */
export function ceilingsOf(space) {
  return new Map((space.participants || []).map((p) => [p.actor_id, p.clearance_ceiling]));
}

/** May an actor with this ceiling ever read an item of this level? Unknown ceilings count as able. */
function canReach(actorId, level, ceilings) {
  const ceiling = ceilings?.get(actorId);
  return !level || !ceiling || levelRank(ceiling) >= levelRank(level);
}

/**
 * Audience picker: a checkbox per participating actor, own actor first, with a live
 * "läsrätt hos N av M" count. getValue(level) → null only for a public item read by every participant
 * (the server's default for public); otherwise the explicit list, because for sekretess/hemlig the
 * server's default (no audience given) is the author's own actor only.
 */
export function audiencePicker({ participants, ownActorId, store, legend = t('audience'), compact = false, ceilings = null }) {
  let level = null;
  const ids = [...participants].sort((a, b) => (a === ownActorId ? -1 : b === ownActorId ? 1 : store.actorName(a).localeCompare(store.actorName(b), 'sv')));
  const count = h('p.audience-count', { 'aria-live': 'polite' });
  // who will read it, by name: shown beside the publish button whatever is folded away
  const summary = h('p.audience-summary', { 'aria-live': 'polite' });
  const changeListeners = [];
  const boxes = new Map();
  const notes = new Map();
  const list = h('ul.checklist');
  for (const id of ids) {
    const own = id === ownActorId;
    // the author's own actor always reads its own item: shown ticked and locked
    const cb = h('input', { type: 'checkbox', id: nextId('aud'), value: id, dataset: { actor: id }, checked: own, disabled: own });
    boxes.set(id, cb);
    const note = h('span.audience-cannot-read');
    notes.set(id, note);
    list.append(h('li', cb, h('label', { for: cb.id }, store.actorName(id), id === ownActorId ? ` ${t('own_actor')}` : '', note)));
  }
  // an actor whose ceiling is below the level can never read the item: not offered (the server refuses it)
  const applyLevel = () => {
    for (const [id, cb] of boxes) {
      if (id === ownActorId) continue;
      const reach = canReach(id, level, ceilings);
      if (!reach) cb.checked = false;
      cb.disabled = !reach;
      notes.get(id).textContent = reach ? '' : ` ${t('audience_cannot_read', { level: t(`level_${level}`) })}`;
    }
  };
  const selected = () => ids.filter((id) => boxes.get(id).checked);
  const update = () => {
    const sel = selected();
    count.textContent = audienceText(sel, ids, level, ceilings);
    summary.replaceChildren(h('span.audience-summary-label', `${t('audience_summary_label')}: `),
      ...sel.flatMap((id, i) => [i ? ', ' : '', h('span.audience-name', { title: store.actorName(id), dataset: { actor: id } }, store.actorName(id, true))]),
      ` (${audienceText(sel, ids, level, ceilings)})`);
    for (const fn of changeListeners) fn(sel);
  };
  const getValue = (lv) => {
    const sel = selected();
    return lv === 'public' && sel.length === ids.length ? null : sel;
  };
  const setDefault = (lv) => {
    level = lv;
    for (const [id, cb] of boxes) cb.checked = lv === 'public' || id === ownActorId;
    applyLevel();
    update();
  };
  const set = (audience) => {
    for (const [id, cb] of boxes) cb.checked = audience == null || audience.includes(id) || id === ownActorId;
    applyLevel();
    update();
  };
  /** The item's level changed without resetting the choice (an existing item's read right). */
  const setLevel = (lv) => { level = lv; applyLevel(); update(); };
  list.addEventListener('change', update);
  const quick = h('div.quick-buttons',
    h('button.btn.btn-small', { type: 'button', onclick: () => set(null) }, t('select_all')),
    h('button.btn.btn-small', { type: 'button', onclick: () => set([ownActorId]) }, t('select_own')));
  const fs = h(`fieldset.audience${compact ? '.audience-compact' : ''}`, h('legend', legend),
    h('p.hint', t('audience_hint')), quick, list, count);
  return { el: fs, getValue, setDefault, set, setLevel, count, summary, selected, onChange: (fn) => changeListeners.push(fn) };
}

/** Radio group of classification levels, each with its badge. */
export function levelRadios({ levels, value, name, legend = t('classification'), onChange }) {
  const fs = h('fieldset.level-radios', h('legend', legend));
  const inputs = [];
  for (const lv of levels) {
    const id = nextId('lvl');
    const input = h('input', { type: 'radio', name, id, value: lv, checked: lv === value });
    input.addEventListener('change', () => onChange?.(lv));
    inputs.push(input);
    fs.append(h(`div.level-choice.level-choice-${lv}`, input, h('label', { for: id }, badgeNoCount(lv), ' ', t(`level_${lv}_long`))));
  }
  return { el: fs, getValue: () => inputs.find((i) => i.checked)?.value };
}

/** A badge for form choices: does not count toward "highest level on screen". */
export function badgeNoCount(level) {
  const b = badge(level);
  delete b.dataset.classification;
  b.dataset.choice = level;
  return b;
}

/** "ÖVNING " before an exercise space's title, unless the title already says so. */
export function exercisePrefix(space) {
  if (!space.exercise || /^\s*(ÖVNING|EXERCISE)\b/iu.test(space.title || '')) return null;
  return h('span.exercise-prefix', `${t('exercise')} `);
}

export function spaceMeta(space) {
  return h('p.space-meta',
    space.exercise ? exerciseBadge() : null,
    h('span.tag', t(`type_${space.type}`)),
    h(`span.tag.status-${space.status}`, t(`status_${space.status}`)),
    h('span.ceiling', `${t('classification_ceiling')}: `, badgeNoCount(space.classification)));
}
