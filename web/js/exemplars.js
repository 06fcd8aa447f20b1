// Exemplar rendering: text with per-token activation highlighting, images with the activation mask
// drawn over them as a colour overlay.

import { h, replace, fmt, int } from './dom.js';
import { imageUrl } from './api.js';

const BEFORE = 40; // characters shown before the peak token in the compact view
const AFTER = 20; //  and after it

// A byte-level tokenizer splits a multi-byte character over several tokens; the atlas keeps one
// display string per token (so activations stay aligned) and gives the whole character to one of
// them and "" to the others. Those "" tokens are folded into their character so the text reads
// normally, while every byte keeps its own activation (shown in the tooltip; the character takes
// the strongest one for its colour).
//
// Which neighbour a "" belongs to is inferred from the data, not assumed: `golgi atlas build`
// puts the character on the token that completes it ("" before it), a tokenizer that shows it on
// the lead byte puts "" after it. A run of k "" tokens fits a neighbour whose adjacent character
// is at least k + 1 bytes long in UTF-8; the side that fits more runs wins (ties: the builder's).
const encoder = new TextEncoder();
const cpBytes = (cp) => (cp === undefined ? 0 : encoder.encode(String.fromCodePoint(cp)).length);

function emptiesGoForward(tokens) {
  let forward = 0;
  let backward = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] !== '' || (i > 0 && tokens[i - 1] === '')) continue;
    let k = 0;
    while (i + k < tokens.length && tokens[i + k] === '') k++;
    const next = i + k < tokens.length ? tokens[i + k] : '';
    const prev = i > 0 ? tokens[i - 1] : '';
    if (next && cpBytes(next.codePointAt(0)) >= k + 1) forward++;
    if (prev) {
      const cps = [...prev];
      if (cpBytes(cps[cps.length - 1].codePointAt(0)) >= k + 1) backward++;
    }
  }
  return forward >= backward;
}

function glyphs(tokens, acts) {
  const forward = emptiesGoForward(tokens);
  const out = [];
  let pending = null; // "" tokens waiting for the character that completes them
  tokens.forEach((t, i) => {
    const a = acts && typeof acts[i] === 'number' ? acts[i] : null; // null: not stored
    if (t === '' && (forward || !out.length)) {
      if (!pending) pending = { idx: [], acts: [] };
      pending.idx.push(i);
      pending.acts.push(a);
    } else if (t === '') {
      const g = out[out.length - 1];
      g.idx.push(i);
      g.acts.push(a);
    } else {
      const g = { text: t, idx: [i], acts: [a] };
      if (pending) {
        g.idx = [...pending.idx, i];
        g.acts = [...pending.acts, a];
        pending = null;
      }
      out.push(g);
    }
  });
  if (pending) out.push({ text: '', idx: pending.idx, acts: pending.acts }); // a cut-off character
  for (const g of out) {
    const known = g.acts.filter((v) => v !== null);
    g.act = known.length ? known.reduce((m, v) => (Math.abs(v) > Math.abs(m) ? v : m)) : null;
  }
  return out;
}

// Orange for activation towards the neuron's max, blue towards its min (negative activations of
// SiLU/GELU neurons are real and small; they get their own scale so they stay visible).
function background(act, scale) {
  if (act === null) return null;
  if (act > 0 && scale.max > 0) return `rgba(255, 128, 14, ${Math.min(1, act / scale.max).toFixed(3)})`;
  if (act < 0 && scale.min < 0) return `rgba(31, 119, 230, ${(Math.min(1, act / scale.min) * 0.8).toFixed(3)})`;
  return null;
}

function tokenSpan(g, scale, view, whole) {
  const isPeak = g.idx.includes(view.peak);
  let text = g.text;
  let br = false;
  if (text === '\n') { text = '↵'; br = whole; }
  else if (text === '\t') text = '⇥ ';
  else if (text === '\r') text = '';
  const values = g.act === null ? 'not stored'
    : g.acts.length > 1 ? `${fmt(g.act)} (bytes: ${g.acts.map((a) => fmt(a)).join(', ')})` : fmt(g.act);
  const span = h('span', {
    // Tokens outside the stored activation window are greyed: unknown is not the same as zero.
    class: ['tok', isPeak && 'peak', (g.text === '\n' || g.text === '\t') && 'ws', g.act === null && 'unknown'],
    title: `${JSON.stringify(g.text)} · position ${view.base + g.idx[0]} · activation ${values}`,
  }, text);
  const bg = background(g.act, scale);
  if (bg) span.style.backgroundColor = bg;
  return br ? [span, h('br')] : [span];
}

// Tokens and activations of a text exemplar, aligned: `acts[i]` belongs to `tokens[i]` (null where
// no activation is stored), `base` is the example position of `tokens[0]` and `peak` the index of
// the maximum. docs/atlas.md: the server sends the stored window only (tokens and acts of the same
// length, starting at `window_start`). Atlases or servers that send the whole text with a shorter
// window of activations are placed by `window_start`, or, without it, by the maximum (the
// exemplar's activation is the maximum over the text, so the window's maximum sits at `position`).
function textView(ex) {
  const tokens = ex.tokens;
  const acts = ex.acts || [];
  const ws = Number.isInteger(ex.window_start) ? ex.window_start : null;
  if (acts.length === tokens.length) {
    const base = ws !== null && ex.position - ws >= 0 && ex.position - ws < tokens.length ? ws : 0;
    return { tokens, acts, base, peak: ex.position - base };
  }
  let offset = ws;
  if (offset === null && acts.length) {
    let arg = 0;
    acts.forEach((v, i) => { if (v > acts[arg]) arg = i; });
    offset = Math.max(0, Math.min(tokens.length - acts.length, ex.position - arg));
  }
  const aligned = new Array(tokens.length).fill(null);
  acts.forEach((v, i) => { if (offset + i >= 0 && offset + i < tokens.length) aligned[offset + i] = v; });
  return { tokens, acts: aligned, base: 0, peak: ex.position };
}

function renderTokens(container, view, scale, whole) {
  const all = glyphs(view.tokens, view.acts);
  let shown = all;
  if (!whole) {
    // The window counts characters, not bytes: Cyrillic or Greek text would otherwise show half
    // as much context as Latin text.
    let peak = all.findIndex((g) => g.idx.includes(view.peak));
    if (peak < 0) peak = 0;
    shown = all.slice(Math.max(0, peak - BEFORE), peak + AFTER + 1);
  }
  // Text precedes what is shown when the window was cut here or the server sent a slice.
  const cutBefore = shown.length && (shown[0] !== all[0] || view.base > 0);
  const cutAfter = shown.length && shown[shown.length - 1] !== all[all.length - 1];
  replace(container,
    cutBefore ? h('span', { class: 'ellipsis', 'aria-hidden': 'true' }, '… ') : null,
    shown.map((g) => tokenSpan(g, scale, view, whole)),
    cutAfter ? h('span', { class: 'ellipsis', 'aria-hidden': 'true' }, ' …') : null);
}

function textExemplar(ex, scale) {
  const body = h('div', { class: 'tokens', lang: '' });
  const view = textView(ex);
  let whole = false;
  const n = ex.tokens.length;
  const toggle = glyphs(view.tokens, null).length > BEFORE + AFTER + 1
    ? h('button', { type: 'button', class: 'btn link small', 'aria-expanded': 'false', onclick: () => {
      whole = !whole;
      toggle.setAttribute('aria-expanded', String(whole));
      toggle.textContent = whole ? 'show window' : `whole text (${int(n)} tokens)`;
      body.classList.toggle('whole', whole);
      renderTokens(body, view, scale, whole);
    } }, `whole text (${int(n)} tokens)`)
    : null;
  renderTokens(body, view, scale, false);
  return { body, toggle };
}

function loadImage(model, id) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`image ${id} did not load`));
    img.src = imageUrl(model, id);
  });
}

// The mask is a grayscale activation map (white = strongest), possibly smaller than the input: it
// is turned into an orange layer whose alpha follows the gray level, then scaled over the image.
function maskLayer(mask) {
  const c = document.createElement('canvas');
  c.width = mask.naturalWidth;
  c.height = mask.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(mask, 0, 0);
  const data = g.getImageData(0, 0, c.width, c.height);
  const px = data.data;
  for (let i = 0; i < px.length; i += 4) {
    const v = px[i] / 255; // gray: R = G = B
    px[i] = 255; px[i + 1] = 90; px[i + 2] = 0;
    px[i + 3] = Math.round(255 * 0.8 * v);
  }
  g.putImageData(data, 0, 0);
  return c;
}

function imageExemplar(model, ex, state) {
  const size = 136;
  const canvas = h('canvas', { class: 'exemplar-image', width: size, height: size, role: 'img',
    'aria-label': `example ${ex.example_id}${ex.label ? ', ' + ex.label : ''}, activation ${fmt(ex.activation)}` });
  const note = h('div', { class: 'small muted' });
  let img = null;
  let layer = null;
  const draw = () => {
    if (!img) return;
    const ratio = img.naturalWidth / img.naturalHeight;
    canvas.width = ratio >= 1 ? size : Math.round(size * ratio);
    canvas.height = ratio >= 1 ? Math.round(size / ratio) : size;
    const g = canvas.getContext('2d');
    // Small inputs (28×28) are enlarged without smoothing: pixels are data, not texture.
    g.imageSmoothingEnabled = false;
    g.drawImage(img, 0, 0, canvas.width, canvas.height);
    if (layer && state.overlay) {
      // Dim the input a little so the map reads as the foreground.
      g.fillStyle = 'rgba(0, 0, 0, 0.3)';
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.imageSmoothingEnabled = true; // the mask is a coarse map: smooth it when enlarging
      g.drawImage(layer, 0, 0, canvas.width, canvas.height);
    }
  };
  state.redraw.push(draw);
  (async () => {
    try {
      img = await loadImage(model, ex.image_id);
      if (ex.mask_image_id !== null && ex.mask_image_id !== undefined) layer = maskLayer(await loadImage(model, ex.mask_image_id));
      draw();
      canvas.dataset.drawn = 'true';
    } catch (e) {
      note.textContent = e.message;
      note.classList.add('error-text');
    }
  })();
  return h('div', { class: 'image-wrap' }, canvas, note);
}

// The exemplar list of a neuron page.
export function exemplarList(model, neuron) {
  const exemplars = neuron.exemplars || [];
  const scale = { max: neuron.max, min: neuron.min };
  if (!exemplars.length) return h('p', { class: 'empty' }, 'No exemplars stored for this neuron.');
  const isImage = exemplars.some((e) => e.image_id !== null && e.image_id !== undefined);
  if (isImage) {
    const state = { overlay: true, redraw: [] };
    const toggle = h('input', { type: 'checkbox', id: 'overlay-toggle', checked: true, onchange: (e) => {
      state.overlay = e.target.checked;
      state.redraw.forEach((f) => f());
    } });
    return h('div', {},
      h('div', { class: 'toolbar' }, toggle, h('label', { for: 'overlay-toggle' }, ' activation mask overlay')),
      h('ol', { class: 'exemplars images' }, exemplars.map((ex) => h('li', { class: 'exemplar' },
        imageExemplar(model, ex, state),
        h('div', { class: 'ex-meta' }, h('strong', {}, fmt(ex.activation)), ' ', ex.label ? h('span', { class: 'tag' }, ex.label) : null,
          h('span', { class: 'muted small' }, ` #${ex.example_id}`))))));
  }
  const key = h('p', { class: 'muted small scale-key' },
    h('span', { class: 'ramp pos', 'aria-hidden': 'true' }), ` 0 … ${fmt(neuron.max)} (the neuron's max)`,
    neuron.min < 0 ? [h('span', { class: 'ramp neg', 'aria-hidden': 'true' }), ` 0 … ${fmt(neuron.min)}`] : null,
    ' · outlined: the peak token · hover a token for its activation',
    exemplars.some((ex) => ex.tokens && ex.acts && ex.acts.length < ex.tokens.length)
      ? [' · ', h('span', { class: 'tok unknown' }, 'grey'), ': activation not stored (the atlas keeps a window around the peak)'] : null);
  return h('div', {}, key, h('ol', { class: 'exemplars texts' }, exemplars.map((ex) => {
    const meta = h('div', { class: 'ex-meta' },
      h('span', { class: 'rank' }, `${ex.rank + 1}`),
      h('strong', { title: 'activation at the peak token' }, fmt(ex.activation)),
      ex.label ? h('span', { class: 'tag' }, ex.label) : null,
      h('span', { class: 'muted small' }, `example ${ex.example_id} · token ${ex.position}`));
    if (!ex.tokens || !ex.tokens.length) return h('li', { class: 'exemplar' }, meta, h('p', { class: 'muted' }, 'no tokens stored'));
    const { body, toggle } = textExemplar(ex, scale);
    if (toggle) meta.appendChild(toggle);
    return h('li', { class: 'exemplar' }, meta, body);
  })));
}
