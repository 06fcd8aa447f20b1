// The viewer's only door to the server: every call goes through request(), which keeps a count of
// requests in flight (the top progress bar) and turns `{"error": ...}` answers into ApiError.

import { query } from './dom.js';

export class ApiError extends Error {
  constructor(message, status, url) {
    super(message);
    this.status = status;
    this.url = url;
  }
}

let inFlight = 0;
function busy(delta) {
  inFlight += delta;
  document.body.classList.toggle('busy', inFlight > 0);
  const bar = document.getElementById('progress');
  if (bar) bar.setAttribute('aria-hidden', inFlight > 0 ? 'false' : 'true');
}

async function request(url, options) {
  busy(+1);
  try {
    let response;
    try {
      response = await fetch(url, options);
    } catch (e) {
      throw new ApiError(`cannot reach the server (${e.message})`, 0, url);
    }
    const type = response.headers.get('content-type') || '';
    let body = null;
    if (type.includes('json')) {
      try { body = await response.json(); } catch (e) { body = null; }
    }
    if (!response.ok) {
      const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
      throw new ApiError(message, response.status, url);
    }
    if (body === null) throw new ApiError('the server answered with something that is not JSON', response.status, url);
    return body;
  } finally {
    busy(-1);
  }
}

export function get(path, params) {
  return request(path + query(params), { headers: { Accept: 'application/json' } });
}

export function post(path, body) {
  return request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
}

// Image ids are per atlas, so the model goes with the id (golgi serve answers 400 without it).
export function imageUrl(model, id) {
  return '/api/image' + query({ model, id });
}

// Overviews and the model list change only when the server restarts, so they are fetched once per
// page load (breadcrumbs, neuron lists and the playground all need them).
const cache = new Map();
function cached(key, load) {
  if (!cache.has(key)) {
    const p = load();
    cache.set(key, p);
    p.catch(() => cache.delete(key)); // a failure is retried on the next visit
  }
  return cache.get(key);
}

export const api = {
  health: () => cached('health', () => get('/api/health')),
  models: () => cached('models', () => get('/api/models')),
  overview: (model) => cached('overview:' + model, () => get('/api/overview', { model })),
  neurons: (params) => get('/api/neurons', params),
  neuron: (model, ref) => get('/api/neuron', { model, ref }),
  search: (q, limit = 100) => get('/api/search', { q, limit }),
  steer: (body) => post('/api/steer', body),
};
