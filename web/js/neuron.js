// The neuron page: statistics, histogram, per-label responses, every method's annotations and the
// exemplars, with a button that opens the steering playground on this neuron.

import { h, replace, fmt, pct, int, links, parseRef, visibleToken } from './dom.js';
import { api, imageUrl } from './api.js';
import { withLoading, kv, section, table, num } from './ui.js';
import { histogram, cellBar } from './charts.js';
import { exemplarList } from './exemplars.js';
import { layerName, tagList } from './views.js';

function stat(label, value, title) {
  return h('div', { class: 'stat', title }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
}

function histogramPanel(n) {
  let log = true;
  const holder = h('div');
  const markers = [{ value: n.mean, label: 'mean', cls: 'mean' }];
  const ex = n.exemplars || [];
  if (ex.length) markers.push({ value: ex[ex.length - 1].activation, label: `weakest of the top ${ex.length} exemplars`, cls: 'kth' });
  const draw = () => replace(holder, histogram(n.histogram, { log, markers }));
  const toggle = h('button', { type: 'button', class: 'btn link small', 'aria-pressed': 'true', onclick: () => {
    log = !log;
    toggle.setAttribute('aria-pressed', String(log));
    toggle.textContent = log ? 'linear scale' : 'log scale';
    draw();
  } }, 'linear scale');
  draw();
  return section('Activation histogram', holder,
    h('p', { class: 'muted small' }, h('span', { class: 'key mean' }), ' mean  ', h('span', { class: 'key kth' }), ' weakest exemplar  ', toggle));
}

function labelsPanel(n) {
  const labels = [...(n.labels || [])].sort((a, b) => b.mean - a.mean);
  if (!labels.length) return null;
  const maxMean = Math.max(0, ...labels.map((l) => l.mean));
  return section('Response per label', table(['label', h('th', { class: 'num' }, 'mean'), h('th', { class: 'num' }, 'P(active)'), h('th', { class: 'num' }, 'max')],
    labels.map((l) => h('tr', { class: l.name === n.top_label ? 'top' : null },
      h('td', {}, l.name), num(cellBar(l.mean, maxMean, fmt(l.mean))), num(cellBar(l.prob_active, 1, pct(l.prob_active))), num(fmt(l.max)))),
    { class: 'data compact' }));
}

// Each annotation kind has its own small rendering; unknown kinds (reserved for later methods)
// fall back to their scalar fields, any images they reference and the raw JSON.
const renderers = {
  decoded_tokens(a) {
    const v = a.value || {};
    return h('div', {},
      v.side ? h('p', { class: 'muted small' }, `${v.side} side`) : null,
      h('ol', { class: 'chips' }, (v.tokens || []).map((t) => h('li', { class: 'chip', title: `id ${t.id}` },
        h('a', { href: links.search(t.token), class: 'mono' }, visibleToken(t.token)),
        t.prob !== undefined ? h('span', { class: 'muted small' }, ' ' + pct(t.prob)) : null))));
  },
  language(a) {
    const v = a.value || {};
    return kv([['language', h('a', { href: links.search(v.language || a.label) }, v.language || a.label)],
      ['P(active | language)', pct(v.p)], ['best other language', pct(v.p_rest_max)], ['entropy', fmt(v.entropy)]]);
  },
  label_selectivity(a, n) {
    const v = a.value || {};
    const means = v.means || [];
    const names = (n.labelOrder || []).length === means.length ? n.labelOrder : means.map((_, i) => String(i));
    const max = Math.max(0, ...means);
    return h('div', {}, kv([['label', v.label || a.label], ['selectivity', fmt(v.selectivity)]]),
      means.length ? table(['label', h('th', { class: 'num' }, 'mean')], means.map((m, i) =>
        h('tr', {}, h('td', {}, names[i]), num(cellBar(m, max, fmt(m))))), { class: 'data compact' }) : null);
  },
  description(a) {
    return h('p', { class: 'description' }, (a.value && a.value.text) || a.label);
  },
};

function imagesIn(value) {
  const ids = [];
  if (value && typeof value === 'object') {
    if (value.image_id !== undefined) ids.push(value.image_id);
    if (Array.isArray(value.image_ids)) ids.push(...value.image_ids);
  }
  return ids;
}

function genericAnnotation(a, n) {
  const v = a.value;
  const scalars = v && typeof v === 'object' ? Object.entries(v).filter(([, x]) => ['string', 'number', 'boolean'].includes(typeof x)) : [];
  return h('div', {},
    a.label ? h('p', {}, a.label) : null,
    scalars.length ? kv(scalars.map(([k, x]) => [k, typeof x === 'number' ? fmt(x) : String(x)])) : null,
    imagesIn(v).map((id) => h('img', { class: 'facet', src: imageUrl(n.model, id), alt: `${a.kind} image ${id}` })),
    v !== null && v !== undefined ? h('details', { class: 'json' }, h('summary', {}, 'value (JSON)'), h('pre', {}, JSON.stringify(v, null, 2))) : null);
}

function annotationsPanel(n) {
  const list = n.annotations || [];
  if (!list.length) return section('Annotations', h('p', { class: 'empty' }, 'No method annotated this neuron.'));
  const methods = [...new Set(list.map((a) => a.method))];
  return section('Annotations', methods.map((m) => h('div', { class: 'finding' },
    h('h3', {}, m),
    list.filter((a) => a.method === m).map((a) => h('div', { class: 'annotation' },
      h('div', { class: 'ann-head' }, h('span', { class: ['tag', 'k-' + a.kind] }, a.kind), ' ',
        h('strong', { class: a.kind === 'decoded_tokens' ? 'mono' : null }, a.kind === 'decoded_tokens' ? visibleToken(a.label) : a.label),
        a.score !== null && a.score !== undefined ? h('span', { class: 'muted small' }, ` score ${fmt(a.score)}`) : null),
      (renderers[a.kind] || genericAnnotation)(a, n))))));
}

export async function neuronView(ctx, name, ref) {
  const parsed = parseRef(ref);
  const hookName = parsed ? parsed.hook : null;
  ctx.crumbs([{ text: name, href: links.overview(name) }, hookName ? { text: hookName, href: links.hook(name, hookName) } : null, { text: parsed ? `#${parsed.idx}` : ref }]);
  ctx.title(`${ref} · ${name}`);
  const slot = h('div');
  replace(ctx.main, slot);
  const both = await withLoading(slot, `neuron ${ref}`, () => Promise.all([api.neuron(name, ref), api.overview(name)]), ctx);
  if (!both) return;
  const [n, ov] = both;
  n.model = name;
  n.labelOrder = [...(ov.labels || [])].sort((a, b) => a.id - b.id).map((l) => l.name);
  const hook = ov.hooks.find((hk) => hk.name === n.hook);
  const prev = parsed && parsed.idx > 0 ? links.neuron(name, `${n.hook}:${parsed.idx - 1}`) : null;
  const next = parsed && hook && parsed.idx + 1 < hook.neurons ? links.neuron(name, `${n.hook}:${parsed.idx + 1}`) : null;
  const steerHref = links.steer(name, n.ref);
  ctx.keys({ '[': () => prev && ctx.go(prev), ']': () => next && ctx.go(next), s: () => ov.model.steerable && ctx.go(steerHref) });

  // Copying the ref is the usual next step (a command line, a notebook); the clipboard API works
  // on 127.0.0.1 (a secure context) and the button says so when it does not.
  const copy = h('button', { type: 'button', class: 'btn link small', title: 'copy the NeuronRef', onclick: async () => {
    try {
      await navigator.clipboard.writeText(n.ref);
      copy.textContent = 'copied';
    } catch (e) {
      copy.textContent = 'copy failed';
    }
    setTimeout(() => { copy.textContent = 'copy'; }, 1500);
  } }, 'copy');
  // What the methods say, at a glance (the full findings are in the Annotations panel).
  const glance = (n.annotations || []).filter((a) => a.kind !== 'description' && a.label).slice(0, 8)
    .map((a) => ({ kind: a.kind, label: a.label }));
  const description = (n.annotations || []).find((a) => a.kind === 'description');
  replace(slot,
    h('div', { class: 'page-head' },
      h('h1', { tabindex: '-1', class: 'mono' }, n.ref), copy,
      h('p', { class: 'muted' }, h('a', { href: links.hook(name, n.hook), class: 'mono' }, n.hook), ` · layer ${layerName(n.layer)} · neuron ${n.idx} · ${name}`),
      h('div', { class: 'actions' },
        prev ? h('a', { class: 'btn small', href: prev, title: 'previous neuron ([)' }, '← prev') : null,
        next ? h('a', { class: 'btn small', href: next, title: 'next neuron (])' }, 'next →') : null,
        ov.model.steerable
          ? h('a', { class: 'btn primary', id: 'steer-button', href: steerHref, title: 'open the playground with this neuron clamped (s)' }, 'Steer with this neuron')
          : h('span', { class: 'btn disabled', title: 'the server has no steerable model for this atlas' }, 'Steering unavailable'))),
    glance.length || description ? h('div', { class: 'glance' }, tagList(name, glance),
      description ? h('span', { class: 'description' }, (description.value && description.value.text) || description.label) : null) : null,
    h('div', { class: 'stats' },
      stat('mean', fmt(n.mean)), stat('std', fmt(n.std)), stat('min', fmt(n.min)), stat('max', fmt(n.max)),
      stat('P(active)', pct(n.prob_active)), stat('top label', n.top_label || '–'),
      stat('selectivity', fmt(n.selectivity, 2), 'class-selectivity index of the per-label means, in [0, 1]')),
    h('div', { class: 'grid2 neuron' },
      section(`Top exemplars (${int((n.exemplars || []).length)})`, exemplarList(name, n)),
      h('div', {}, histogramPanel(n), annotationsPanel(n), labelsPanel(n))));
}
