// Classification marking: colour AND text AND shape, so it cannot be missed or confused
// (colour-blind safe): öppen = ring, sekretess = triangle, hemlig = diamond. Also keeps the page header's "highest level on screen" banner.
import { h, svg, clear } from './dom.js';
import { t } from './i18n.js';

export const LEVELS = ['public', 'sekretess', 'hemlig'];
export const levelRank = (l) => LEVELS.indexOf(l);
export const maxLevel = (a, b) => (levelRank(a) >= levelRank(b) ? a : b);
export const levelsUpTo = (ceiling) => LEVELS.slice(0, levelRank(ceiling) + 1);

function shape(level) {
  const s = svg('svg', { viewBox: '0 0 16 16', width: 14, height: 14, 'aria-hidden': 'true', focusable: 'false', class: 'lvl-icon' });
  if (level === 'public') s.append(svg('circle', { cx: 8, cy: 8, r: 6, fill: 'none', stroke: 'currentColor', 'stroke-width': 2.5 }));
  else if (level === 'sekretess') s.append(svg('path', { d: 'M8 1.5 15 14.5H1Z', fill: 'currentColor' }));
  else s.append(svg('path', { d: 'M8 0.5 15.5 8 8 15.5 0.5 8Z', fill: 'currentColor' }));
  return s;
}

/** Badge: e.g. [▲ SEKRETESS]. data-classification lets the header compute the highest level. */
export function badge(level, { large = false } = {}) {
  const lv = LEVELS.includes(level) ? level : 'hemlig'; // unknown → treat as highest, never as public
  return h(`span.lvl.lvl-${lv}${large ? '.lvl-large' : ''}`, {
    dataset: { classification: lv },
    title: t(`level_${lv}_long`),
  }, shape(lv), h('span.lvl-text', t(`level_${lv}`)),
  h('span.sr-only', ` – ${t(`level_${lv}_long`)}`));
}

export function exerciseBadge() {
  return h('span.exercise-tag', { dataset: { exercise: '1' } }, t('exercise'));
}

/** Recompute the header banner from every marking currently in <main>. */
export function updateHighestLevel() {
  const banner = document.getElementById('level-banner');
  if (!banner) return;
  let top = null;
  for (const el of document.querySelectorAll('main [data-classification]')) {
    const lv = el.dataset.classification;
    top = top === null ? lv : maxLevel(top, lv);
  }
  clear(banner);
  banner.className = `level-banner level-banner-${top || 'none'}`;
  banner.dataset.level = top || 'none';
  if (!top) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  banner.append(h('span.level-banner-label', t('highest_level')), ' ', badge(top, { large: true }));
}

export function levelLabel(level) { return t(`level_${level}`); }
