// Shared view pieces: loading placeholders, inline errors, key-value lists, small tables.

import { h, replace } from './dom.js';

export function loading(what) {
  return h('div', { class: 'loading', role: 'status', 'aria-live': 'polite' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), `Loading ${what}…`);
}

// An API error shown where the content would have been, with what failed and a retry button.
export function errorBox(err, retry) {
  const box = h('div', { class: 'error', role: 'alert' },
    h('strong', {}, err && err.status ? `Error ${err.status}: ` : 'Error: '),
    err && err.message ? err.message : String(err));
  if (err && err.url) box.appendChild(h('div', { class: 'muted small' }, 'request: ', h('code', {}, err.url)));
  if (retry) box.appendChild(h('button', { type: 'button', class: 'btn small', onclick: retry }, 'Retry'));
  return box;
}

// Runs `load` with a loading placeholder in `slot`; on failure the placeholder becomes an error box
// with a retry. Returns the loaded value or null (the caller stops when null).
export async function withLoading(slot, what, load, ctx) {
  replace(slot, loading(what));
  slot.setAttribute('aria-busy', 'true');
  try {
    const value = await load();
    slot.removeAttribute('aria-busy');
    if (ctx && ctx.stale()) return null;
    return value;
  } catch (err) {
    slot.removeAttribute('aria-busy');
    if (ctx && ctx.stale()) return null;
    replace(slot, errorBox(err, () => ctx && ctx.rerender()));
    return null;
  }
}

export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter((p) => p && p[1] !== undefined && p[1] !== null && p[1] !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

// A table whose rows can be walked with j/k (see app.js); the first link of a row gets the focus.
export function table(headers, rows, attrs = {}) {
  return h('table', { class: 'data', 'data-nav': '', ...attrs },
    h('thead', {}, h('tr', {}, headers.map((x) => (x instanceof Node ? x : h('th', { scope: 'col' }, x))))),
    h('tbody', {}, rows));
}

export function num(x, cls) {
  return h('td', { class: ['num', cls] }, x);
}
