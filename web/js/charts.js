// Charts drawn as inline SVG: activation histograms (full and sparkline) and the stacked per-layer
// bar chart of the overview. Every mark carries a <title>, so values are readable on hover and by
// screen readers without a tooltip library.

import { s, h, fmt, int, colour } from './dom.js';

function niceStep(max, ticks) {
  const raw = max / Math.max(1, ticks);
  const mag = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

// Bins of a histogram as estimated positions over the whole stream (counts are a uniform sample).
function binsOf(hist) {
  const counts = (hist && hist.counts) || [];
  const scale = hist && hist.sampled > 0 && hist.total > 0 ? hist.total / hist.sampled : 1;
  const lo = hist ? hist.lo : 0;
  const hi = hist ? hist.hi : 0;
  const width = counts.length ? (hi - lo) / counts.length : 0;
  return counts.map((c, i) => ({ a: lo + i * width, b: lo + (i + 1) * width, count: c, est: c * scale }));
}

// A 1-line histogram for tables. Heights are log-scaled: activation distributions put most mass in
// one bin (near zero), and a linear scale would hide the tail that makes a neuron interesting.
export function sparkline(hist, { width = 96, height = 20 } = {}) {
  const bins = binsOf(hist);
  const svg = s('svg', { class: 'spark', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': hist ? `histogram from ${fmt(hist.lo)} to ${fmt(hist.hi)}` : 'no histogram' });
  if (!bins.length) return svg;
  const maxLog = Math.max(...bins.map((b) => Math.log1p(b.count))) || 1;
  const bw = width / bins.length;
  bins.forEach((b, i) => {
    const bh = (Math.log1p(b.count) / maxLog) * (height - 1);
    if (bh <= 0) return;
    svg.appendChild(s('rect', { x: (i * bw).toFixed(2), y: (height - bh).toFixed(2), width: Math.max(bw - 0.3, 0.5).toFixed(2),
      height: bh.toFixed(2), class: b.b <= 0 ? 'bar neg' : 'bar' }));
  });
  if (hist.lo < 0 && hist.hi > 0) {
    const x = ((0 - hist.lo) / (hist.hi - hist.lo)) * width;
    svg.appendChild(s('line', { x1: x, x2: x, y1: 0, y2: height, class: 'zero' }));
  }
  svg.appendChild(s('title', {}, `${fmt(hist.lo)} … ${fmt(hist.hi)} (${int(hist.sampled)} sampled positions)`));
  return svg;
}

// The neuron page's histogram, with axes, a zero line, optional markers (mean, exemplar
// activations) and a log/linear switch owned by the caller.
export function histogram(hist, { log = true, markers = [], width = 420, height = 170 } = {}) {
  const bins = binsOf(hist);
  const m = { l: 46, r: 10, t: 8, b: 30 };
  const W = width - m.l - m.r;
  const H = height - m.t - m.b;
  const svg = s('svg', { class: 'histogram', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': 'activation histogram' });
  if (!bins.length || !(hist.hi > hist.lo)) {
    svg.appendChild(s('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'muted' }, 'no histogram'));
    return svg;
  }
  const maxEst = Math.max(...bins.map((b) => b.est)) || 1;
  const y = log ? (v) => (Math.log10(1 + v) / Math.log10(1 + maxEst)) * H : (v) => (v / maxEst) * H;
  const x = (v) => ((v - hist.lo) / (hist.hi - hist.lo)) * W;
  const g = s('g', { transform: `translate(${m.l},${m.t})` });
  svg.appendChild(g);

  // y axis: powers of ten on the log scale, nice steps on the linear one.
  const yTicks = [];
  if (log) {
    for (let p = 1; p <= maxEst * 1.0001; p *= 10) yTicks.push(p);
  } else {
    const step = niceStep(maxEst, 4);
    for (let v = 0; v <= maxEst * 1.0001; v += step) yTicks.push(v);
  }
  for (const v of yTicks) {
    const yy = H - y(v);
    g.appendChild(s('line', { x1: 0, x2: W, y1: yy, y2: yy, class: 'grid' }));
    g.appendChild(s('text', { x: -5, y: yy + 3, 'text-anchor': 'end', class: 'tick' }, v >= 1e4 ? v.toExponential(0) : fmt(v, 2)));
  }

  const bw = W / bins.length;
  bins.forEach((b, i) => {
    const bh = y(b.est);
    if (!(bh > 0)) return; // empty bin: no mark (its range is still on the axis)
    const rect = s('rect', { x: (i * bw).toFixed(2), y: (H - bh).toFixed(2), width: Math.max(bw - 0.5, 0.5).toFixed(2),
      height: Math.max(bh, 0).toFixed(2), class: b.b <= 0 ? 'bar neg' : 'bar' });
    rect.appendChild(s('title', {}, `[${fmt(b.a)}, ${fmt(b.b)}): ${int(b.count)} sampled ≈ ${int(Math.round(b.est))} positions`));
    g.appendChild(rect);
  });

  // x axis: the exact range plus zero when inside it.
  g.appendChild(s('line', { x1: 0, x2: W, y1: H, y2: H, class: 'axis' }));
  const xTicks = [hist.lo, hist.hi];
  // Zero gets a tick when it is inside the range and not crowding the end labels.
  if (hist.lo < 0 && hist.hi > 0 && x(0) > 40 && x(0) < W - 40) xTicks.push(0);
  for (const v of xTicks) {
    const xx = x(v);
    g.appendChild(s('line', { x1: xx, x2: xx, y1: H, y2: H + 4, class: 'axis' }));
    g.appendChild(s('text', { x: xx, y: H + 16, 'text-anchor': v === hist.lo ? 'start' : v === hist.hi ? 'end' : 'middle', class: 'tick' }, fmt(v)));
  }
  if (hist.lo < 0 && hist.hi > 0) g.appendChild(s('line', { x1: x(0), x2: x(0), y1: 0, y2: H, class: 'zero' }));
  for (const mk of markers) {
    if (!(mk.value >= hist.lo && mk.value <= hist.hi)) continue;
    const xx = x(mk.value);
    const line = s('line', { x1: xx, x2: xx, y1: 0, y2: H, class: 'marker ' + (mk.cls || '') });
    line.appendChild(s('title', {}, `${mk.label}: ${fmt(mk.value)}`));
    g.appendChild(line);
  }
  g.appendChild(s('text', { x: W, y: H + 28, 'text-anchor': 'end', class: 'tick muted' },
    `activation · ${log ? 'log' : 'linear'} count · ${int(hist.sampled)} of ${int(hist.total)} positions sampled`));
  return svg;
}

// Stacked bars: one bar per category (layer), one stack per series (label). `href(cat, series)`
// makes each segment a link (keyboard-focusable in SVG), e.g. to the layer's filtered neuron list.
export function stackedBars({ categories, series, value, catLabel, href, yLabel = 'neurons' }) {
  const height = 230;
  const width = Math.max(360, 70 + categories.length * 64);
  const m = { l: 46, r: 8, t: 10, b: 34 };
  const W = width - m.l - m.r;
  const H = height - m.t - m.b;
  const totals = categories.map((c) => series.reduce((acc, sr) => acc + (value(c, sr) || 0), 0));
  const maxTotal = Math.max(1, ...totals);
  const step = niceStep(maxTotal, 4);
  const top = Math.ceil(maxTotal / step) * step;
  const y = (v) => (v / top) * H;
  const svg = s('svg', { class: 'stacked', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${yLabel} per layer, stacked by label` });
  // CSSOM, not a style attribute: the server's Content-Security-Policy forbids inline styles.
  svg.style.maxWidth = `${width * 1.6}px`;
  const g = s('g', { transform: `translate(${m.l},${m.t})` });
  svg.appendChild(g);
  for (let v = 0; v <= top + 1e-9; v += step) {
    g.appendChild(s('line', { x1: 0, x2: W, y1: H - y(v), y2: H - y(v), class: 'grid' }));
    g.appendChild(s('text', { x: -6, y: H - y(v) + 3, 'text-anchor': 'end', class: 'tick' }, fmt(v, 3)));
  }
  const slot = W / categories.length;
  const bw = Math.min(44, slot * 0.7);
  categories.forEach((c, ci) => {
    const x0 = ci * slot + (slot - bw) / 2;
    let acc = 0;
    series.forEach((sr, si) => {
      const v = value(c, sr) || 0;
      if (v <= 0) return;
      const rect = s('rect', { x: x0.toFixed(2), y: (H - y(acc + v)).toFixed(2), width: bw.toFixed(2),
        height: Math.max(y(v), 0.5).toFixed(2), fill: colour(si), class: 'seg' });
      rect.appendChild(s('title', {}, `${catLabel(c)} · ${sr}: ${int(v)}`));
      const link = href ? href(c, sr) : null;
      g.appendChild(link ? s('a', { href: link, 'aria-label': `${catLabel(c)}, ${sr}: ${v}` }, rect) : rect);
      acc += v;
    });
    g.appendChild(s('text', { x: x0 + bw / 2, y: H + 14, 'text-anchor': 'middle', class: 'tick' }, catLabel(c)));
    if (totals[ci] > 0) g.appendChild(s('text', { x: x0 + bw / 2, y: H - y(totals[ci]) - 3, 'text-anchor': 'middle', class: 'tick strong' }, int(totals[ci])));
  });
  g.appendChild(s('line', { x1: 0, x2: W, y1: H, y2: H, class: 'axis' }));
  g.appendChild(s('text', { x: W / 2, y: H + 30, 'text-anchor': 'middle', class: 'tick muted' }, 'layer'));
  return svg;
}

export function legend(series, totals) {
  return h('ul', { class: 'legend' }, series.map((sr, i) =>
    h('li', {}, h('span', { class: 'swatch', style: { background: colour(i) } }), sr,
      totals ? h('span', { class: 'muted' }, ' ' + int(totals[i])) : null)));
}

// A horizontal bar inside a table cell: the number stays text, the bar is decoration.
export function cellBar(value, max, text) {
  const w = max > 0 ? Math.max(0, Math.min(1, value / max)) : 0;
  return h('span', { class: 'cellbar', style: { '--w': (w * 100).toFixed(1) + '%' } }, text);
}
