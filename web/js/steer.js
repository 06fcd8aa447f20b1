// The steering playground: a prompt, a list of interventions on neurons, and the base and steered
// continuations side by side with both next-token distributions.
//
// URL: #/m/NAME/steer?ref=REF pre-fills one clamp on REF (at twice the neuron's max). After a run
// the URL is rewritten (without reloading) to ?prompt=...&iv=REF|op|value..., so a result can be
// shared and reproduced (with the same seed).

import { h, replace, fmt, pct, links, seg, visibleToken, parseRef } from './dom.js';
import { api } from './api.js';
import { withLoading, errorBox, table, num } from './ui.js';
import { cellBar } from './charts.js';

const OPS = ['clamp', 'zero', 'scale', 'add'];
const DEFAULT_PROMPT = 'The ';
const DEFAULT_VALUE = 5;

function interventionRow(iv, onRemove) {
  const ref = h('input', { type: 'text', class: 'mono iv-ref', value: iv.ref || '', placeholder: 'blocks.1.mlp.hook_post:7',
    'aria-label': 'neuron', required: true, spellcheck: 'false', autocomplete: 'off' });
  const op = h('select', { class: 'iv-op', 'aria-label': 'operation' }, OPS.map((o) => h('option', { value: o, selected: o === iv.op }, o)));
  const value = h('input', { type: 'number', class: 'iv-value', step: 'any', value: String(iv.value ?? DEFAULT_VALUE), 'aria-label': 'value' });
  const sync = () => { value.disabled = op.value === 'zero'; };
  op.addEventListener('change', sync);
  sync();
  const row = h('li', { class: 'iv-row' }, ref, op, value,
    h('button', { type: 'button', class: 'btn small iv-remove', 'aria-label': 'remove this intervention', title: 'remove', onclick: () => onRemove(row) }, '✕'));
  row.read = () => ({ ref: ref.value.trim(), op: op.value, value: op.value === 'zero' ? 0 : Number(value.value) });
  return row;
}

function continuation(title, result, prompt, divergeAt, cls) {
  const cont = (result && result.continuation) || '';
  const parts = divergeAt === null || divergeAt >= cont.length
    ? [h('span', { class: 'cont' }, cont)]
    : [h('span', { class: 'cont' }, cont.slice(0, divergeAt)), h('span', { class: 'cont diverged', title: 'differs from the base continuation from here' }, cont.slice(divergeAt))];
  return h('div', { class: ['panel', 'result', cls] },
    h('h2', {}, title),
    h('div', { class: ['continuation', cls], 'data-testid': `${cls}-continuation` }, h('span', { class: 'prompt' }, prompt), parts));
}

function nextTokens(title, rows, baseline) {
  const base = new Map((baseline || []).map((t) => [t.token, t.prob]));
  const max = Math.max(0, ...rows.map((t) => t.prob));
  return h('div', {}, h('h3', {}, title),
    table(['token', h('th', { class: 'num' }, 'P'), baseline ? h('th', { class: 'num' }, 'Δ vs base') : null].filter(Boolean),
      rows.map((t) => {
        const d = baseline && base.has(t.token) ? t.prob - base.get(t.token) : null;
        return h('tr', {}, h('td', { class: 'mono' }, visibleToken(t.token)), num(cellBar(t.prob, max, pct(t.prob))),
          baseline ? num(d === null ? 'new' : (d >= 0 ? '+' : '') + pct(d), d === null ? 'muted' : d > 0 ? 'up' : d < 0 ? 'down' : null) : null);
      }), { class: 'data compact next-tokens' }));
}

function commonPrefix(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

export async function steerView(ctx, name, q) {
  ctx.crumbs([{ text: name, href: links.overview(name) }, { text: 'steer' }]);
  ctx.title(`steer · ${name}`);
  const slot = h('div');
  replace(ctx.main, h('h1', { tabindex: '-1' }, 'Steering playground'), slot);
  const refs = q.getAll('ref').filter(Boolean);
  const ov = await withLoading(slot, 'the model', async () => {
    const overview = await api.overview(name);
    // The clamp value for a pre-filled neuron is twice its max over the dataset: strong enough to
    // matter, still in the range the network has seen the neuron take.
    // A ref the atlas does not know still pre-fills its row (the server may steer hooks the atlas
    // did not record); the reason is shown above the form.
    const problems = [];
    const neurons = await Promise.all(refs.map((r) => api.neuron(name, r).catch((err) => {
      problems.push(`${r}: ${err.message}`);
      return { ref: r, max: null };
    })));
    return { overview, neurons, problems };
  }, ctx);
  if (!ov) return;
  const model = ov.overview.model;

  let ivs = q.getAll('iv').map((s) => {
    const [ref, op, value] = s.split('|');
    return { ref, op: OPS.includes(op) ? op : 'clamp', value: Number(value) };
  });
  ivs = ivs.concat(ov.neurons.map((n) => ({ ref: n.ref, op: 'clamp', value: n.max > 0 ? Number((n.max * 2).toPrecision(3)) : DEFAULT_VALUE })));
  if (!ivs.length) ivs.push({ ref: '', op: 'clamp', value: DEFAULT_VALUE });

  const list = h('ol', { class: 'iv-list' });
  const remove = (row) => { row.remove(); if (!list.children.length) addRow({ op: 'clamp' }); };
  const addRow = (iv) => { const row = interventionRow(iv, remove); list.appendChild(row); return row; };
  ivs.forEach(addRow);

  const prompt = h('textarea', { id: 'prompt', rows: 3, spellcheck: 'false', value: q.get('prompt') ?? DEFAULT_PROMPT });
  const maxTokens = h('input', { id: 'max-tokens', type: 'number', min: 1, max: 128, value: q.get('max_new_tokens') || '48' });
  const temperature = h('input', { id: 'temperature', type: 'number', min: 0, step: '0.1', value: q.get('temperature') || '0' });
  const seed = h('input', { id: 'seed', type: 'number', min: 0, step: '1', value: q.get('seed') || '0' });
  const runButton = h('button', { type: 'submit', class: 'btn primary', id: 'run-steer', disabled: !model.steerable }, 'Run');
  const status = h('span', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
  const output = h('div', { id: 'steer-output', 'aria-live': 'polite' });

  let timer = null;
  async function run(e) {
    if (e) e.preventDefault();
    const interventions = [...list.children].map((row) => row.read());
    const bad = interventions.find((iv) => !parseRef(iv.ref) || !Number.isFinite(iv.value));
    if (bad) {
      replace(output, errorBox(new Error(`intervention “${bad.ref || '(empty)'}” needs a NeuronRef (HOOK:INDEX) and a number`)));
      return;
    }
    const body = {
      model: name, prompt: prompt.value, interventions,
      max_new_tokens: Math.max(1, Math.min(128, parseInt(maxTokens.value, 10) || 48)),
      temperature: Math.max(0, Number(temperature.value) || 0),
      seed: parseInt(seed.value, 10) || 0,
      top_n: 10,
    };
    // Make this run shareable without re-rendering the view (replaceState fires no hashchange).
    const share = new URLSearchParams();
    share.set('prompt', body.prompt);
    for (const iv of interventions) share.append('iv', `${iv.ref}|${iv.op}|${iv.value}`);
    if (body.max_new_tokens !== 48) share.set('max_new_tokens', String(body.max_new_tokens));
    if (body.temperature) share.set('temperature', String(body.temperature));
    if (body.seed) share.set('seed', String(body.seed));
    history.replaceState(null, '', `#/m/${seg(name)}/steer?${share}`);
    runButton.disabled = true;
    runButton.textContent = 'Running…';
    const started = performance.now();
    status.textContent = '';
    timer = setInterval(() => { status.textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`; }, 100);
    replace(output, h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Generating base and steered continuations…'));
    output.setAttribute('aria-busy', 'true');
    try {
      const r = await api.steer(body);
      if (ctx.stale()) return;
      const at = commonPrefix(r.base.continuation || '', r.steered.continuation || '');
      const same = (r.base.continuation || '') === (r.steered.continuation || '');
      replace(output,
        same ? h('p', { class: 'notice' }, 'The intervention did not change the continuation (next-token probabilities below may still differ).') : null,
        h('div', { class: 'grid2 even' },
          continuation('Base', r.base, body.prompt, null, 'base'),
          continuation('Steered', r.steered, body.prompt, same ? null : at, 'steered')),
        h('div', { class: 'grid2 even' },
          h('section', { class: 'panel' }, nextTokens('Next token after the prompt · base', (r.next_tokens && r.next_tokens.base) || [], null)),
          h('section', { class: 'panel' }, nextTokens('Next token after the prompt · steered', (r.next_tokens && r.next_tokens.steered) || [], (r.next_tokens && r.next_tokens.base) || []))),
        h('p', { class: 'muted small' }, `server time ${fmt(r.seconds)} s · seed ${body.seed} · temperature ${body.temperature}`));
    } catch (err) {
      if (ctx.stale()) return;
      replace(output, errorBox(err.status === 503 ? Object.assign(err, { message: err.message + ' — the steering queue is full; try again in a moment' }) : err));
    } finally {
      clearInterval(timer);
      output.removeAttribute('aria-busy');
      runButton.disabled = !model.steerable;
      runButton.textContent = 'Run';
    }
  }
  prompt.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(e); });
  ctx.cleanup(() => clearInterval(timer));

  replace(slot,
    ov.problems.length ? h('p', { class: 'notice' }, `Could not look up ${ov.problems.join('; ')} (the clamp value is a default).`) : null,
    model.steerable ? null : h('p', { class: 'notice' }, `The server has no steerable model for ${name}: start golgi serve with --model pointing at its folder.`),
    h('form', { class: 'panel steer-form', onsubmit: run },
      h('label', { for: 'prompt' }, 'Prompt ', h('span', { class: 'muted small' }, '(Ctrl+Enter runs)')), prompt,
      h('fieldset', {}, h('legend', {}, 'Interventions'), list,
        h('button', { type: 'button', class: 'btn small', id: 'add-iv', onclick: () => addRow({ op: 'clamp', value: DEFAULT_VALUE }).querySelector('input').focus() }, '+ add intervention'),
        h('p', { class: 'muted small' }, 'clamp sets the neuron to value; zero sets it to 0; scale multiplies it; add adds value along its direction. Applied at every position.')),
      h('div', { class: 'row' },
        h('label', {}, 'max tokens ', maxTokens), h('label', {}, 'temperature ', temperature), h('label', {}, 'seed ', seed),
        h('span', { class: 'spacer' }), status, runButton)),
    output);
}
