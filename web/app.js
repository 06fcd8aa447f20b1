// golgi atlas viewer: a hash router over the views in js/. No build step, no dependencies; the
// page talks only to the server that served it (see docs/atlas.md, "HTTP API" and "Viewer URLs").

import { h, replace, links } from './js/dom.js';
import { modelsView, overviewView, hookView, searchView } from './js/views.js';
import { neuronView } from './js/neuron.js';
import { steerView } from './js/steer.js';
import { errorBox } from './js/ui.js';

const main = document.getElementById('main');
const crumbs = document.getElementById('crumbs');
const searchForm = document.getElementById('search-form');
const searchInput = document.getElementById('search');

let generation = 0; // bumped on every navigation; views drop results that arrive late
let viewKeys = {};
let cleanups = [];
let lastPath = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const qi = raw.indexOf('?');
  const path = qi < 0 ? raw : raw.slice(0, qi);
  const q = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1));
  let parts;
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch (e) {
    parts = null; // a malformed %-escape
  }
  return { path, parts, q };
}

function setCrumbs(list) {
  const items = [{ text: 'models', href: links.models() }, ...list.filter(Boolean)];
  replace(crumbs, h('ol', {}, items.map((c, i) => h('li', {},
    c.href && i < items.length - 1 ? h('a', { href: c.href }, c.text) : h('span', { 'aria-current': i === items.length - 1 ? 'page' : null }, c.text)))));
}

function route(ctx, parts, q) {
  if (!parts) throw new Error('this URL is malformed');
  if (parts.length === 0) return modelsView(ctx);
  if (parts[0] === 'search' && parts.length === 1) return searchView(ctx, q);
  if (parts[0] === 'm' && parts.length >= 2) {
    const name = parts[1];
    if (parts.length === 2) return overviewView(ctx, name);
    if (parts[2] === 'hook' && parts.length === 4) return hookView(ctx, name, parts[3], q);
    if (parts[2] === 'n' && parts.length === 4) return neuronView(ctx, name, parts[3]);
    if (parts[2] === 'steer' && parts.length === 3) return steerView(ctx, name, q);
  }
  return notFound(ctx);
}

function notFound(ctx) {
  ctx.crumbs([{ text: 'not found' }]);
  ctx.title('Not found');
  replace(main, h('h1', { tabindex: '-1' }, 'No such page'),
    h('p', {}, 'This address does not name a view of the atlas. ', h('a', { href: links.models() }, 'Back to the models.')));
}

async function render() {
  const my = ++generation;
  cleanups.forEach((f) => f());
  cleanups = [];
  viewKeys = {};
  const { path, parts, q } = parseHash();
  const newPage = path !== lastPath;
  lastPath = path;
  if (!(parts && parts[0] === 'search') && document.activeElement !== searchInput) searchInput.value = '';
  const focusWasInMain = main.contains(document.activeElement) || document.activeElement === document.body;
  const ctx = {
    main,
    stale: () => my !== generation,
    rerender: () => render(),
    go: (hash) => { location.hash = hash; },
    crumbs: (list) => { if (my === generation) setCrumbs(list); },
    title: (t) => { if (my === generation) document.title = `${t} · golgi atlas`; },
    setSearch: (text) => { if (document.activeElement !== searchInput) searchInput.value = text; },
    keys: (map) => { if (my === generation) viewKeys = map; },
    cleanup: (f) => cleanups.push(f),
  };
  if (newPage) window.scrollTo(0, 0);
  try {
    await route(ctx, parts, q);
  } catch (err) {
    // A bug in a view must still leave the page usable and say what happened.
    console.error(err);
    if (my === generation) replace(main, h('h1', {}, 'Something went wrong'), errorBox(err));
  }
  // Keyboard users land on the new page's heading, as after a full page load.
  if (my === generation && newPage && focusWasInMain) {
    const h1 = main.querySelector('h1');
    if (h1) h1.focus({ preventScroll: true });
  }
}

// ---- search box -------------------------------------------------------------------------------

searchForm.addEventListener('submit', (e) => {
  e.preventDefault();
  // Not trimmed: decoded tokens often start with a space (" der") and that space is the point.
  const q = searchInput.value;
  if (!q.trim()) return;
  const target = links.search(q);
  if (location.hash === target) render(); else location.hash = target;
});

// ---- keyboard ---------------------------------------------------------------------------------

function editable(el) {
  return el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}

// j / k walk the rows of a data table: focus moves to the first link of the next / previous row.
function moveRow(delta) {
  const tableEl = main.querySelector('table[data-nav]');
  if (!tableEl) return false;
  const rows = [...tableEl.tBodies[0].rows].filter((r) => r.querySelector('a'));
  if (!rows.length) return false;
  const current = rows.findIndex((r) => r.contains(document.activeElement));
  const next = current < 0 ? (delta > 0 ? 0 : rows.length - 1) : Math.max(0, Math.min(rows.length - 1, current + delta));
  const link = rows[next].querySelector('td a, th a');
  if (!link) return false;
  link.focus();
  link.scrollIntoView({ block: 'nearest' });
  return true;
}

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === 'Escape' && document.activeElement === searchInput) { searchInput.blur(); return; }
  if (editable(document.activeElement)) return;
  if (e.key === '/') {
    e.preventDefault();
    searchInput.focus();
    searchInput.select();
  } else if (e.key === 'j' || e.key === 'k') {
    if (moveRow(e.key === 'j' ? 1 : -1)) e.preventDefault();
  } else if (viewKeys[e.key]) {
    e.preventDefault();
    viewKeys[e.key]();
  }
});

document.getElementById('skip').addEventListener('click', () => {
  const target = main.querySelector('h1') || main;
  target.focus();
});

window.addEventListener('hashchange', render);
render();
