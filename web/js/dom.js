// DOM helpers. Every piece of data reaches the page through createTextNode / textContent /
// setAttribute, never through innerHTML, so atlas text (exemplars, labels, cards) cannot inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return el;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    // Styles go through the CSSOM: golgi serve's Content-Security-Policy (default-src 'self')
    // blocks style attributes, but not element.style.
    else if (key === 'style' && typeof value === 'object') {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, String(v));
    } else if (key === 'style') throw new Error('style attributes are blocked by the CSP; pass an object');
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'disabled') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  return el;
}

// h('a', {href: '#/'}, 'text', child, [more]) builds an HTML element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs instanceof Node || typeof attrs !== 'object' || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = null;
  }
  return append(setAttrs(el, attrs), children);
}

// s('rect', {...}) builds an SVG element (charts are drawn as inline SVG).
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'style') throw new Error('style attributes are blocked by the CSP; set el.style instead');
    else el.setAttribute(key, String(value));
  }
  return append(el, children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

// ---- formatting ------------------------------------------------------------------------------

export function fmt(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (typeof x !== 'number') return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(digits - 1);
  // Significant digits, but no trailing zeros that pretend precision.
  return String(Number(x.toPrecision(digits)));
}

export function pct(p, digits = 1) {
  if (p === null || p === undefined || Number.isNaN(p)) return '–';
  return (p * 100).toFixed(digits) + '%';
}

export function int(n) {
  if (n === null || n === undefined) return '–';
  return Number(n).toLocaleString('en-US');
}

// Tokens are shown with their whitespace made visible: a leading space matters for a decoded token.
export function visibleToken(t) {
  if (t === null || t === undefined) return '';
  return String(t).replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/\r/g, '␍');
}

// ---- URLs ------------------------------------------------------------------------------------

// Path segments are percent-encoded, but ':' stays readable (NeuronRefs are `hook:index`).
export function seg(x) {
  return encodeURIComponent(String(x)).replace(/%3A/gi, ':').replace(/%40/g, '@').replace(/%2C/gi, ',');
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === '') continue;
    q.set(k, String(v));
  }
  const str = q.toString();
  return str ? '?' + str : '';
}

export const links = {
  models: () => '#/',
  overview: (model) => `#/m/${seg(model)}`,
  hook: (model, hook, params) => `#/m/${seg(model)}/hook/${seg(hook)}${query(params)}`,
  neuron: (model, ref) => `#/m/${seg(model)}/n/${seg(ref)}`,
  search: (q) => `#/search${query({ q })}`,
  steer: (model, ref) => `#/m/${seg(model)}/steer${query({ ref })}`,
};

// A NeuronRef is `HOOK:INDEX[@POSITION]`.
export function parseRef(ref) {
  const m = /^(.*):(\d+)(@.*)?$/.exec(ref || '');
  if (!m) return null;
  return { hook: m[1], idx: Number(m[2]), at: m[3] || '' };
}

// Categorical colours for labels: evenly spread hues (golden angle) with fixed lightness so that
// neighbouring stacks stay distinguishable and text on top stays readable.
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948',
  '#b07aa1', '#ff9da7', '#9c755f', '#8cd17d', '#499894', '#d37295'];
export function colour(i) {
  if (i < PALETTE.length) return PALETTE[i];
  return `hsl(${(i * 137.508) % 360} 55% 55%)`;
}
