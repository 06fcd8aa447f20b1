// Views: model list, model overview, neuron list of a hook, search results.

import { h, replace, fmt, pct, int, links, visibleToken, colour } from './dom.js';
import { api } from './api.js';
import { withLoading, kv, section, table, num } from './ui.js';
import { sparkline, stackedBars, legend, cellBar } from './charts.js';

const layerName = (layer) => (layer === null || layer === undefined || layer < 0 ? '—' : `L${layer}`);

// ---- #/ ---------------------------------------------------------------------------------------

export async function modelsView(ctx) {
  ctx.crumbs([]);
  ctx.title('Models');
  const slot = h('div');
  replace(ctx.main, h('h1', { tabindex: '-1' }, 'Models'),
    h('p', { class: 'muted intro' }, 'Each atlas says what every neuron of one model does: statistics over a dataset, the inputs that drive it hardest, and what each method found about it. Search with / for a token, a label, exemplar text or a neuron (hook:index).'),
    slot);
  const models = await withLoading(slot, 'models', () => api.models(), ctx);
  if (!models) return;
  if (!models.length) {
    replace(slot, h('p', { class: 'empty' }, 'The server holds no atlas. Start it with `golgi serve ATLAS.db`.'));
    return;
  }
  replace(slot, h('div', { class: 'cards' }, models.map((m) => h('a', { class: 'card model-card', href: links.overview(m.name) },
    h('h2', {}, m.name),
    h('p', { class: 'muted' }, [m.architecture, m.task, m.dataset && `${m.dataset} (${m.split})`].filter(Boolean).join(' · ')),
    h('p', {}, `${int(m.hooks)} hooks · ${int(m.neurons)} neurons · ${int(m.examples)} examples`),
    m.steerable ? h('span', { class: 'tag steer' }, 'steerable') : null))));
}

// ---- #/m/NAME ---------------------------------------------------------------------------------

function scalarEntries(obj) {
  return Object.entries(obj || {}).filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v));
}

function jsonDetails(summary, value) {
  if (value === null || value === undefined) return null;
  return h('details', { class: 'json' }, h('summary', {}, summary), h('pre', {}, JSON.stringify(value, null, 2)));
}

function modelCard(model, build) {
  const card = model.card || {};
  build = build || {};
  const shown = new Set(['architecture', 'task', 'dataset', 'examples', 'positions', 'steerable', 'command']);
  const scalars = scalarEntries(card).filter(([k]) => !shown.has(k));
  scalars.forEach(([k]) => shown.add(k));
  const config = model.config || {};
  const configScalars = scalarEntries(config.options || config).filter(([k]) => !shown.has(k)).slice(0, 16);
  return section('Model card',
    kv([
      ['architecture', model.architecture],
      ['task', model.task],
      ['dataset', model.dataset ? `${model.dataset} · split ${model.split}` : null],
      ['examples', int(model.examples)],
      ['positions', int(model.positions)],
      ['steerable', model.steerable ? 'yes' : 'no'],
      ...scalars.map(([k, v]) => [k, String(v)]),
      ...configScalars.map(([k, v]) => [k, String(v)]),
    ]),
    card.command ? h('div', { class: 'command' }, h('span', { class: 'muted small' }, 'trained with'), h('code', {}, card.command)) : null,
    jsonDetails('full card (JSON)', model.card),
    jsonDetails('config (JSON)', model.config),
    Object.keys(build).length ? h('h3', {}, 'Atlas build') : null,
    Object.keys(build).length ? kv([
      ['golgi', build.golgi_version !== undefined ? String(build.golgi_version) : null],
      ['build time', typeof build.seconds === 'number' ? `${fmt(build.seconds)} s` : null],
      ['complete', build.complete !== undefined ? String(build.complete) : null],
    ]) : null,
    jsonDetails('build options (JSON)', build.options));
}

// Layers × hook points: one row per layer, one column per hook kind; every cell links the hook's
// neuron list and says how many neurons it has.
function hookGrid(name, hooks) {
  const kinds = [...new Set(hooks.map((hk) => hk.kind))];
  const layers = [...new Set(hooks.map((hk) => hk.layer))].sort((a, b) => a - b);
  const rows = layers.map((layer) => h('tr', {},
    h('th', { scope: 'row' }, layerName(layer)),
    kinds.map((kind) => h('td', {}, hooks.filter((hk) => hk.layer === layer && hk.kind === kind).map((hk) =>
      h('div', {}, h('a', { href: links.hook(name, hk.name), class: 'mono' }, hk.name), ' ',
        h('span', { class: 'muted' }, `${int(hk.neurons)}`))))),
    num(int(hooks.filter((hk) => hk.layer === layer).reduce((a, hk) => a + hk.neurons, 0)))));
  return table([h('th', { scope: 'col' }, 'layer'), ...kinds.map((k) => h('th', { scope: 'col' }, k)), h('th', { scope: 'col', class: 'num' }, 'neurons')], rows, { class: 'data hooks' });
}

// The per-layer chart: for one annotation kind (language, label_selectivity, ...), how many
// neurons of each layer carry it, stacked by the annotation's label.
function layerChart(name, overview) {
  const counts = overview.annotation_counts || [];
  const kinds = [...new Set(counts.map((c) => c.kind))];
  const container = h('div');
  if (!kinds.length) {
    container.appendChild(h('p', { class: 'empty' }, 'This atlas has no annotations yet.'));
    return container;
  }
  // Language neurons are the headline of a multilingual model; otherwise the first kind.
  const preferred = ['language', 'label_selectivity', 'decoded_tokens'].find((k) => kinds.includes(k)) || kinds[0];
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'annotation kind' });
  const body = h('div', { class: 'chart-body' });
  const hooksByLayer = new Map();
  for (const hk of overview.hooks) {
    if (!hooksByLayer.has(hk.layer)) hooksByLayer.set(hk.layer, []);
    hooksByLayer.get(hk.layer).push(hk);
  }

  function show(kind) {
    for (const b of tabs.children) b.setAttribute('aria-selected', String(b.dataset.kind === kind));
    const rows = counts.filter((c) => c.kind === kind);
    // Every layer gets a slot, so a layer without any such neuron shows as an empty bar.
    const layers = [...new Set([...overview.hooks.map((hk) => hk.layer), ...rows.map((c) => c.layer)])].sort((a, b) => a - b);
    const byLabel = new Map();
    for (const c of rows) byLabel.set(c.label, (byLabel.get(c.label) || 0) + c.count);
    // Many labels (decoded tokens): keep the 11 largest and fold the rest into "other".
    let series = [...byLabel.entries()].sort((a, b) => b[1] - a[1]).map(([l]) => l);
    const folded = new Set();
    if (series.length > 12) {
      series.slice(11).forEach((l) => folded.add(l));
      series = [...series.slice(0, 11), 'other'];
    }
    const value = (layer, label) => rows.filter((c) => c.layer === layer &&
      (label === 'other' ? folded.has(c.label) : c.label === label)).reduce((a, c) => a + c.count, 0);
    const display = (l) => (kind === 'decoded_tokens' && l !== 'other' ? visibleToken(l) : l);
    const href = (layer) => {
      const hooks = hooksByLayer.get(layer) || [];
      const hk = hooks.find((x) => x.kind === 'mlp') || hooks[0];
      return hk ? links.hook(name, hk.name, { annotation: kind }) : null;
    };
    const shown = series.map(display);
    const totals = series.map((l) => layers.reduce((a, layer) => a + value(layer, l), 0));
    replace(body,
      stackedBars({ categories: layers, series, value, catLabel: layerName, href, yLabel: `${kind} annotations` }),
      legend(shown, totals),
      h('p', { class: 'muted small' }, `Neurons per layer with a ${kind} annotation, stacked by its label. Click a bar for the layer's neurons.`));
  }
  kinds.forEach((k) => tabs.appendChild(h('button', { type: 'button', role: 'tab', class: 'tab', dataset: { kind: k }, onclick: () => show(k) }, k)));
  container.append(tabs, body);
  if (overview.annotation_counts_truncated) container.appendChild(h('p', { class: 'notice small' }, 'The server truncated the annotation counts: the chart shows part of them.'));
  show(preferred);
  return container;
}

function layerSummary(overview) {
  const counts = overview.annotation_counts || [];
  const kinds = [...new Set(counts.map((c) => c.kind))];
  const layers = [...new Set(overview.hooks.map((hk) => hk.layer))].sort((a, b) => a - b);
  const rows = layers.map((layer) => h('tr', {},
    h('th', { scope: 'row' }, layerName(layer)),
    num(int(overview.hooks.filter((hk) => hk.layer === layer).length)),
    num(int(overview.hooks.filter((hk) => hk.layer === layer).reduce((a, hk) => a + hk.neurons, 0))),
    kinds.map((k) => num(int(counts.filter((c) => c.layer === layer && c.kind === k).reduce((a, c) => a + c.count, 0))))));
  return table(['layer', h('th', { class: 'num' }, 'hooks'), h('th', { class: 'num' }, 'neurons'), ...kinds.map((k) => h('th', { class: 'num' }, k))], rows, { class: 'data compact' });
}

function labelsPanel(overview) {
  const labels = overview.labels || [];
  if (!labels.length) return null;
  const max = Math.max(...labels.map((l) => l.examples || 0));
  return section(`Dataset labels (${labels.length})`, table(['label', h('th', { class: 'num' }, 'examples')],
    labels.map((l) => h('tr', {}, h('td', {}, l.name), h('td', { class: 'num' }, cellBar(l.examples, max, int(l.examples))))),
    { class: 'data compact' }));
}

function modelAnnotations(overview) {
  const list = overview.model_annotations || [];
  if (!list.length) return null;
  return section('Model-level findings', list.map((a) => h('div', { class: 'finding' },
    h('h3', {}, `${a.kind} `, h('span', { class: 'muted small' }, `by ${a.method}`)),
    a.value && typeof a.value === 'object' && scalarEntries(a.value).length ? kv(scalarEntries(a.value).map(([k, v]) => [k, typeof v === 'number' ? fmt(v) : String(v)])) : null,
    jsonDetails('value (JSON)', a.value))));
}

export async function overviewView(ctx, name) {
  ctx.crumbs([{ text: name }]);
  ctx.title(name);
  const slot = h('div');
  replace(ctx.main, slot);
  const ov = await withLoading(slot, `overview of ${name}`, () => api.overview(name), ctx);
  if (!ov) return;
  const m = ov.model;
  const neurons = ov.hooks.reduce((a, hk) => a + hk.neurons, 0);
  const layers = new Set(ov.hooks.filter((hk) => hk.layer >= 0).map((hk) => hk.layer)).size;
  replace(slot,
    h('div', { class: 'page-head' },
      h('h1', { tabindex: '-1' }, m.name),
      h('p', { class: 'muted' }, [m.architecture, m.task, m.dataset && `${m.dataset} · ${m.split}`].filter(Boolean).join(' · ')),
      m.steerable ? h('a', { class: 'btn primary', href: links.steer(m.name) }, 'Steering playground') : null),
    h('div', { class: 'stats' },
      stat('layers', int(layers)), stat('hook points', int(ov.hooks.length)), stat('neurons', int(neurons)),
      stat('examples', int(m.examples)), stat('positions', int(m.positions)), stat('labels', int((ov.labels || []).length))),
    h('div', { class: 'grid2' },
      h('div', {},
        section('Annotations per layer', layerChart(m.name, ov)),
        section('Per-layer summary', layerSummary(ov)),
        section('Layers × hook points', hookGrid(m.name, ov.hooks))),
      h('div', {}, modelCard(m, ov.build_info), labelsPanel(ov), modelAnnotations(ov))));
}

function stat(label, value) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
}

// ---- #/m/NAME/hook/HOOK -----------------------------------------------------------------------

const SORTS = { index: 'index', mean: 'mean', std: 'std', max: 'max', prob_active: 'P(active)', selectivity: 'selectivity' };
const PAGE = 100;

export function tagList(model, tags) {
  return h('span', { class: 'tags' }, (tags || []).map((t) => h('a', {
    class: ['tag', 'k-' + t.kind], href: links.search(t.label), title: `${t.kind}: ${t.label} (search)`,
  }, t.kind === 'decoded_tokens' ? visibleToken(t.label) : t.label)));
}

export async function hookView(ctx, name, hook, q) {
  const params = {
    sort: SORTS[q.get('sort')] ? q.get('sort') : 'index',
    order: q.get('order') === 'desc' ? 'desc' : q.get('order') === 'asc' ? 'asc' : null,
    offset: Math.max(0, parseInt(q.get('offset') || '0', 10) || 0),
    limit: Math.min(500, Math.max(1, parseInt(q.get('limit') || String(PAGE), 10) || PAGE)),
    label: q.get('label') || null,
    annotation: q.get('annotation') || null,
  };
  if (!params.order) params.order = params.sort === 'index' ? 'asc' : 'desc';
  ctx.crumbs([{ text: name, href: links.overview(name) }, { text: hook }]);
  ctx.title(`${hook} · ${name}`);
  const slot = h('div');
  replace(ctx.main, slot);
  const both = await withLoading(slot, `neurons of ${hook}`, () => Promise.all([
    api.overview(name), api.neurons({ model: name, hook, ...params })]), ctx);
  if (!both) return;
  const [ov, data] = both;
  const info = ov.hooks.find((hk) => hk.name === hook) || { layer: null, kind: '', neurons: data.total };
  // URLs of this list with some parameters changed (filters and sorting restart at the first
  // page); defaults are left out to keep shared links short.
  const urlWith = (change) => {
    const p = { ...params, offset: 0, ...change };
    const isDefaultOrder = p.order === (p.sort === 'index' ? 'asc' : 'desc');
    return links.hook(name, hook, {
      sort: p.sort === 'index' ? null : p.sort, order: isDefaultOrder ? null : p.order,
      offset: p.offset || null, limit: p.limit === PAGE ? null : p.limit, label: p.label, annotation: p.annotation,
    });
  };

  const sortHead = (key, label, cls) => {
    const active = params.sort === key;
    const nextOrder = active ? (params.order === 'asc' ? 'desc' : 'asc') : key === 'index' ? 'asc' : 'desc';
    return h('th', { scope: 'col', class: cls, 'aria-sort': active ? (params.order === 'asc' ? 'ascending' : 'descending') : null },
      h('a', { href: urlWith({ sort: key, order: nextOrder }), title: `sort by ${label}` }, label,
        active ? h('span', { class: 'arrow', 'aria-hidden': 'true' }, params.order === 'asc' ? ' ▲' : ' ▼') : null));
  };
  const maxOfPage = Math.max(0, ...data.neurons.map((n) => n.max || 0));
  const rows = data.neurons.map((n) => h('tr', {},
    h('td', { class: 'mono' }, h('a', { href: links.neuron(name, n.ref) }, n.ref)),
    num(fmt(n.mean)), num(fmt(n.std)), num(cellBar(n.max, maxOfPage, fmt(n.max))),
    num(cellBar(n.prob_active, 1, pct(n.prob_active))),
    h('td', {}, n.top_label || '–'),
    num(cellBar(n.selectivity, 1, fmt(n.selectivity, 2))),
    h('td', { class: 'sparkcell' }, sparkline(n.histogram)),
    h('td', {}, tagList(name, n.tags))));

  const labelSelect = h('select', { id: 'f-label', onchange: (e) => ctx.go(urlWith({ label: e.target.value })) },
    h('option', { value: '' }, 'any'), (ov.labels || []).map((l) => h('option', { value: l.name, selected: l.name === params.label }, l.name)));
  const kinds = [...new Set((ov.annotation_counts || []).map((c) => c.kind))];
  const annSelect = h('select', { id: 'f-ann', onchange: (e) => ctx.go(urlWith({ annotation: e.target.value })) },
    h('option', { value: '' }, 'any'), kinds.map((k) => h('option', { value: k, selected: k === params.annotation }, k)));

  const from = data.total ? data.offset + 1 : 0;
  const to = data.offset + data.neurons.length;
  const pager = h('nav', { class: 'pager', 'aria-label': 'pages' },
    data.offset > 0 ? h('a', { class: 'btn small', href: urlWith({ offset: Math.max(0, data.offset - params.limit) }), rel: 'prev' }, '← previous') : h('span', { class: 'btn small disabled' }, '← previous'),
    h('span', { class: 'muted' }, `${int(from)}–${int(to)} of ${int(data.total)}`),
    to < data.total ? h('a', { class: 'btn small', href: urlWith({ offset: data.offset + params.limit }), rel: 'next' }, 'next →') : h('span', { class: 'btn small disabled' }, 'next →'));

  replace(slot,
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1', class: 'mono' }, hook),
      h('p', { class: 'muted' }, `${name} · layer ${layerName(info.layer)} · ${info.kind} · ${int(info.neurons)} neurons`)),
    h('div', { class: 'toolbar' },
      h('label', { for: 'f-label' }, 'top label '), labelSelect,
      h('label', { for: 'f-ann' }, 'has annotation '), annSelect,
      h('span', { class: 'spacer' }), pager),
    data.neurons.length
      ? table([sortHead('index', 'ref'), sortHead('mean', 'mean', 'num'), sortHead('std', 'std', 'num'), sortHead('max', 'max', 'num'),
        sortHead('prob_active', 'P(active)', 'num'), h('th', { scope: 'col' }, 'top label'), sortHead('selectivity', 'selectivity', 'num'),
        h('th', { scope: 'col' }, 'histogram'), h('th', { scope: 'col' }, 'tags')], rows, { class: 'data neurons', id: 'neuron-table' })
      : h('p', { class: 'empty' }, 'No neuron matches these filters.'),
    data.neurons.length > 20 ? pager.cloneNode(true) : null,
    h('p', { class: 'muted small' }, 'Keys: j / k move between rows, Enter opens a neuron. Histograms are log-scaled counts over each neuron\'s own range.'));
}

// ---- #/search?q= ------------------------------------------------------------------------------

const SEARCH_LIMIT = 200;

// The matched text, with the query marked (case-insensitively) in exemplar snippets.
function matchText(r, q) {
  const label = r.label === null || r.label === undefined ? '' : String(r.label);
  if (r.kind === 'decoded_tokens') return visibleToken(label);
  if (r.kind !== 'exemplar') return label;
  const at = label.toLowerCase().indexOf(q.toLowerCase());
  if (at < 0 || !q) return label;
  return [label.slice(0, at), h('mark', {}, label.slice(at, at + q.length)), label.slice(at + q.length)];
}

export async function searchView(ctx, q) {
  const text = q.get('q') || '';
  ctx.crumbs([{ text: 'search' }]);
  ctx.title(text ? `“${text}” · search` : 'Search');
  ctx.setSearch(text);
  const slot = h('div');
  replace(ctx.main, h('h1', { tabindex: '-1' }, 'Search ', text ? h('q', { class: 'mono' }, visibleToken(text)) : null), slot);
  if (!text.trim()) {
    replace(slot, h('p', { class: 'empty' }, 'Search for a decoded token (e.g. “ der”), a label (a language code, a class), a hook name, a NeuronRef (blocks.1.mlp.hook_post:7) or text from the exemplars. Press / to focus the search box.'));
    return;
  }
  const data = await withLoading(slot, 'results', () => api.search(text, SEARCH_LIMIT), ctx);
  if (!data) return;
  const results = data.results || [];
  if (!results.length) {
    replace(slot, h('p', { class: 'empty' }, 'No neuron, hook or label matches this query.'));
    return;
  }
  const kinds = [...new Set(results.map((r) => r.kind))];
  const kindIndex = (k) => kinds.indexOf(k);
  replace(slot,
    h('p', { class: 'muted' }, `${int(results.length)} result${results.length === 1 ? '' : 's'}`,
      kinds.length > 1 ? ` · ${kinds.map((k) => `${results.filter((r) => r.kind === k).length} ${k}`).join(', ')}` : '',
      results.length >= SEARCH_LIMIT ? ' (the first ' + SEARCH_LIMIT + '; refine the query for more)' : ''),
    table(['neuron', 'kind', 'match', h('th', { class: 'num', title: 'annotation score, or the activation of the matching exemplar' }, 'score'), 'model'], results.map((r) => {
      // Search hits are neurons (HOOK:INDEX) except for hook-name hits, which open the hook's list.
      const isNeuron = r.kind !== 'hook' && /:\d+/.test(r.ref || '');
      const href = isNeuron ? links.neuron(r.model, r.ref) : links.hook(r.model, r.ref);
      return h('tr', {},
        h('td', { class: 'mono' }, h('a', { href, class: 'result-link' }, r.ref)),
        h('td', {}, h('span', { class: ['tag', 'k-' + r.kind], style: { 'border-left': `3px solid ${colour(kindIndex(r.kind))}` } }, r.kind)),
        h('td', { class: ['match', r.kind === 'decoded_tokens' || r.kind === 'exemplar' ? 'mono' : null] }, matchText(r, text)),
        num(r.score === null || r.score === undefined ? '–' : fmt(r.score)),
        h('td', {}, h('a', { href: links.overview(r.model) }, r.model)));
    }), { class: 'data results', id: 'search-results' }));
}

export { layerName };
