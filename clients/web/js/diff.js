// Small text diff for comparing situation-report versions: LCS over tokens (words with their
// trailing whitespace); falls back to lines for very large texts. Returns [{op:'='|'-'|'+', text}].

function tokenize(text, mode) {
  if (mode === 'line') return text.split(/(?<=\n)/);
  return text.match(/\s+|[^\s]+\s*/g) || [];
}

export function diffText(a, b) {
  a = a || ''; b = b || '';
  if (a === b) return a ? [{ op: '=', text: a }] : [];
  let mode = 'word';
  let x = tokenize(a, mode); let y = tokenize(b, mode);
  if (x.length * y.length > 2_000_000) { mode = 'line'; x = tokenize(a, mode); y = tokenize(b, mode); }
  if (x.length * y.length > 4_000_000) return [{ op: '-', text: a }, { op: '+', text: b }];
  // trim common prefix/suffix
  let pre = 0;
  while (pre < x.length && pre < y.length && x[pre] === y[pre]) pre += 1;
  let suf = 0;
  while (suf < x.length - pre && suf < y.length - pre && x[x.length - 1 - suf] === y[y.length - 1 - suf]) suf += 1;
  const xs = x.slice(pre, x.length - suf); const ys = y.slice(pre, y.length - suf);
  const n = xs.length; const m = ys.length;
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) L[i][j] = xs[i] === ys[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  }
  const out = [];
  const push = (op, text) => { const last = out[out.length - 1]; if (last && last.op === op) last.text += text; else out.push({ op, text }); };
  if (pre) push('=', x.slice(0, pre).join(''));
  let i = 0; let j = 0;
  while (i < n && j < m) {
    if (xs[i] === ys[j]) { push('=', xs[i]); i += 1; j += 1; } else if (L[i + 1][j] >= L[i][j + 1]) { push('-', xs[i]); i += 1; } else { push('+', ys[j]); j += 1; }
  }
  while (i < n) { push('-', xs[i]); i += 1; }
  while (j < m) { push('+', ys[j]); j += 1; }
  if (suf) push('=', x.slice(x.length - suf).join(''));
  return out;
}
