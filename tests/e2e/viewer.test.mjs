// End-to-end test of the atlas viewer in a real browser: Debian's chromium driven by
// playwright-core, against a running `golgi serve`.
//
//   node tests/e2e/viewer.test.mjs --url http://127.0.0.1:PORT [--models tiny-multilingual]
//        [--artifacts DIR] [--chromium /usr/bin/chromium]
//
// (or GOLGI_URL, GOLGI_MODELS, E2E_ARTIFACTS, CHROMIUM). Models default to every model the server
// lists. For a language model it opens the overview, searches a decoded token, opens a neuron page
// and checks its exemplars, sorts the neuron list, and runs one steering request (base and steered
// continuations). For an image model it checks that exemplar images and masks are drawn. Any
// console error, uncaught exception, request to another origin, failed or 4xx/5xx request in the
// page fails the test, except the one 404 it provokes on purpose to check the error display.
// Screenshots and e2e-report.json go to the artifacts folder.
// Exit status: 0 passed, 1 failed, 2 bad usage.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

function option(name, env, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  return process.env[env] || fallback;
}

const BASE = (option('url', 'GOLGI_URL', '') || '').replace(/\/$/, '');
const ARTIFACTS = path.resolve(option('artifacts', 'E2E_ARTIFACTS', 'e2e-artifacts'));
const CHROMIUM = option('chromium', 'CHROMIUM', '/usr/bin/chromium');
const MODELS = (option('models', 'GOLGI_MODELS', '') || '').split(',').map((s) => s.trim()).filter(Boolean);
const WAIT = Number(option('timeout', 'E2E_TIMEOUT_MS', '20000'));
const STEER_WAIT = Number(option('steer-timeout', 'E2E_STEER_TIMEOUT_MS', '120000'));

if (!BASE) {
  console.error('usage: node viewer.test.mjs --url http://127.0.0.1:PORT [--models a,b] [--artifacts DIR] [--chromium PATH]');
  process.exit(2);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`viewer e2e: chromium not found at ${CHROMIUM} (apt-get install chromium, or pass --chromium PATH)`);
  process.exit(2);
}
fs.mkdirSync(ARTIFACTS, { recursive: true });

class Failure extends Error {}
function check(cond, message) {
  if (!cond) throw new Failure(message);
}

async function apiGet(p) {
  const r = await fetch(BASE + p);
  const body = await r.json().catch(() => null);
  check(r.ok, `GET ${p} answered ${r.status}: ${body && body.error ? body.error : 'no JSON'}`);
  return body;
}

// The same whitespace rendering as the viewer's visibleToken (web/js/dom.js).
const visible = (t) => String(t).replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/\r/g, '␍');

// ---- browser and page problems ---------------------------------------------------------------

const problems = [];
let expected = []; // predicates for problems this test provokes on purpose

function problem(kind, text, url) {
  if (expected.some((f) => f(kind, text, url || ''))) return;
  problems.push(`${kind}: ${text}${url ? ` (${url})` : ''}`);
}

function watch(page) {
  page.on('console', (msg) => {
    if (msg.type() === 'error') problem('console error', msg.text(), msg.location() && msg.location().url);
  });
  page.on('pageerror', (err) => problem('uncaught exception', err.message));
  page.on('requestfailed', (req) => {
    const why = req.failure() ? req.failure().errorText : 'failed';
    // A navigation that replaces an in-flight fetch aborts it; that is not a failure of the page.
    if (why === 'net::ERR_ABORTED' && req.resourceType() === 'fetch') return;
    problem('request failed', `${req.method()} ${why}`, req.url());
  });
  // The viewer works offline: everything it loads comes from the server that served it.
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(BASE + '/') && !/^(data|blob|about):/.test(url)) problem('external request', req.method(), url);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problem(`HTTP ${res.status()}`, res.request().method(), res.url());
  });
}

// ---- steps -----------------------------------------------------------------------------------

const started = Date.now();
const results = [];
let page = null;

async function shot(name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function step(name, fn) {
  const t0 = Date.now();
  process.stdout.write(`… ${name}\n`);
  try {
    await fn();
    check(!problems.length, `the page reported problems:\n    ${problems.join('\n    ')}`);
    const s = ((Date.now() - t0) / 1000).toFixed(1);
    results.push({ step: name, ok: true, seconds: Number(s) });
    console.log(`✓ ${name} (${s} s)`);
  } catch (err) {
    // Problems the page reported explain most timeouts: say them with the failure.
    if (problems.length && !err.message.includes('the page reported problems')) {
      err.message += `\n  the page reported:\n    ${problems.join('\n    ')}`;
    }
    results.push({ step: name, ok: false, error: err.message });
    console.error(`✗ ${name}: ${err.message}`);
    err.reported = true;
    if (page) {
      try {
        const file = await shot(`failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`);
        console.error(`  screenshot of the failure: ${file}`);
        console.error(`  page URL: ${page.url()}`);
      } catch (e) { /* the page may be gone */ }
    }
    throw err;
  }
}

const hashOf = () => decodeURIComponent(new URL(page.url()).hash);

async function waitHash(prefix, what) {
  await page.waitForFunction((p) => decodeURIComponent(location.hash).startsWith(p), prefix, { timeout: WAIT })
    .catch(() => { throw new Failure(`${what}: URL hash is ${hashOf()}, expected it to start with ${prefix}`); });
}

async function waitFor(selector, what, timeout = WAIT, state = 'visible') {
  await page.waitForSelector(selector, { timeout, state }).catch(async () => {
    const err = await page.locator('.error').first().textContent({ timeout: 500 }).catch(() => null);
    throw new Failure(`${what}: ${selector} did not appear within ${timeout} ms${err ? ` (the page shows the error: ${err.trim()})` : ''}`);
  });
}

async function textModel(model, steerable) {
  const tag = model.replace(/[^a-z0-9]+/gi, '-');
  let token = null;
  let hooks = [];

  await step(`${model}: overview`, async () => {
    await page.goto(`${BASE}/#/`);
    await waitFor(`.model-card >> text="${model}"`, 'model list');
    await page.click(`.model-card:has(h2:text-is("${model}"))`);
    await waitHash(`#/m/${model}`, 'opening the model');
    await waitFor('table.hooks tbody tr', 'hook table');
    check((await page.textContent('main h1')).trim() === model, 'overview heading is not the model name');
    const ov = await apiGet(`/api/overview?model=${encodeURIComponent(model)}`);
    hooks = ov.hooks;
    const hookLinks = await page.locator('table.hooks a').count();
    check(hookLinks === ov.hooks.length, `overview links ${hookLinks} hooks, the atlas has ${ov.hooks.length}`);
    if ((ov.annotation_counts || []).length) {
      await waitFor('svg.stacked rect.seg', 'per-layer chart', WAIT, 'attached');
    }
    await shot(`${tag}-overview`);
  });

  await step(`${model}: search a decoded token`, async () => {
    // A decoded token from the atlas itself; letters preferred, they make a readable query.
    const candidates = [];
    for (const hk of hooks) {
      const data = await apiGet(`/api/neurons?model=${encodeURIComponent(model)}&hook=${encodeURIComponent(hk.name)}&annotation=decoded_tokens&limit=50`);
      for (const n of data.neurons) for (const t of n.tags || []) if (t.kind === 'decoded_tokens') candidates.push(t.label);
      if (candidates.length >= 20) break;
    }
    check(candidates.length, 'the atlas has no decoded_tokens annotation to search for');
    // Letters make a readable query; a token qualifies when the server's own search (prefix
    // match, capped) lists it, so the assertion below tests the viewer and not the cap.
    const rank = (t) => (/^ ?\p{L}{2,}$/u.test(t) ? 0 : /^ ?\p{L}$/u.test(t) ? 1 : /\p{L}/u.test(t) ? 2 : 3);
    const ordered = [...new Set(candidates)].sort((a, b) => rank(a) - rank(b)).slice(0, 12);
    for (const t of ordered) {
      const found = await apiGet(`/api/search?q=${encodeURIComponent(t)}&limit=200`);
      if (found.results.some((r) => r.kind === 'decoded_tokens' && r.label === t)) { token = t; break; }
    }
    check(token !== null, `the server's search finds none of the decoded tokens ${JSON.stringify(ordered)}`);
    console.log(`  searching the decoded token ${JSON.stringify(token)}`);
    // "/" focuses the search box from anywhere (keyboard navigation).
    await page.locator('main h1').click();
    await page.keyboard.press('/');
    check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'search'), '"/" did not focus the search box');
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await waitHash('#/search?q=', 'submitting the search');
    await waitFor('#search-results tbody tr', `results for ${JSON.stringify(token)}`);
    const rows = await page.$$eval('#search-results tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    const hit = rows.find((r) => r[1] === 'decoded_tokens' && r[2] === visible(token));
    check(hit, `no decoded_tokens result labelled ${JSON.stringify(visible(token))} among ${rows.length} results`);
    await shot(`${tag}-search`);
  });

  let ref = null;
  let neuronUrl = null;
  await step(`${model}: neuron page`, async () => {
    const link = page.locator('#search-results tbody tr', { has: page.locator('td:nth-child(2)', { hasText: /^decoded_tokens$/ }) })
      .filter({ has: page.locator(`td:nth-child(3):text-is("${visible(token).replace(/"/g, '\\"')}")`) }).first().locator('a.result-link');
    ref = (await link.textContent()).trim();
    await link.click();
    await waitHash(`#/m/${model}/n/`, 'opening the neuron');
    await page.waitForFunction((r) => document.querySelector('main h1') && document.querySelector('main h1').textContent === r, ref, { timeout: WAIT })
      .catch(() => { throw new Failure(`neuron page heading is not ${ref}`); });
    await waitFor('.exemplar', 'exemplars');
    const n = await apiGet(`/api/neuron?model=${encodeURIComponent(model)}&ref=${encodeURIComponent(ref)}`);
    const shown = await page.locator('.exemplar').count();
    check(shown === n.exemplars.length, `page shows ${shown} exemplars, the API has ${n.exemplars.length}`);
    check(n.exemplars.length > 0, 'the neuron has no exemplars');
    const tokens = await page.locator('.exemplar .tok').count();
    check(tokens > 0, 'no exemplar token is rendered');
    check(await page.locator('.exemplar .tok.peak').count() >= 1, 'the peak token of the exemplars is not marked');
    const lit = await page.$$eval('.exemplar .tok', (els) => els.filter((e) => e.style.backgroundColor).length);
    check(lit > 0, 'no exemplar token is highlighted by its activation');
    // In every exemplar the peak token is the most highlighted one: activations and tokens are
    // aligned (an exemplar's activation is the maximum over its text).
    if (n.max > 0) {
      const bad = await page.$$eval('.exemplar', (lis) => lis.map((li, rank) => {
        const alpha = (el) => {
          const m = /rgba?\(([^)]*)\)/.exec(el.style.backgroundColor || '');
          if (!m || !/255, 128, 14/.test(m[1])) return 0; // only the positive (orange) scale
          const parts = m[1].split(',').map(Number);
          return parts.length === 4 ? parts[3] : 1;
        };
        const toks = [...li.querySelectorAll('.tok')];
        const peak = Math.max(0, ...[...li.querySelectorAll('.tok.peak')].map(alpha));
        const max = Math.max(0, ...toks.map(alpha));
        return peak > 0 && peak >= max - 0.01 ? null : `exemplar ${rank + 1}: peak alpha ${peak}, strongest ${max}`;
      }).filter(Boolean));
      const positive = n.exemplars.filter((e) => e.activation > 0).length;
      check(bad.length <= n.exemplars.length - positive,
        `the peak token is not the most highlighted one (activations and tokens misaligned): ${bad.join('; ')}`);
    }
    // The strongest exemplar's peak token carries the exemplar's activation in its tooltip.
    const peakTitle = await page.locator('.exemplar').first().locator('.tok.peak').first().getAttribute('title');
    check(/activation/.test(peakTitle || ''), 'the peak token has no activation tooltip');
    await waitFor('svg.histogram rect.bar', 'activation histogram', WAIT, 'attached');
    const tokenShown = await page.locator('.annotation .chip a, .annotation strong').allTextContents();
    check(tokenShown.includes(visible(token)), `the decoded token ${JSON.stringify(visible(token))} is not among the annotations`);
    // The compact window and the whole text toggle, when the text is long enough to have one.
    const toggle = page.locator('.exemplar .ex-meta button').first();
    if (await toggle.count()) {
      const before = await page.locator('.exemplar').first().locator('.tok').count();
      await toggle.click();
      const after = await page.locator('.exemplar').first().locator('.tok').count();
      check(after >= before, 'the whole-text toggle shows fewer tokens');
      await toggle.click();
    }
    neuronUrl = page.url();
    await shot(`${tag}-neuron`);
  });

  await step(`${model}: neuron list, sorted by max`, async () => {
    await page.click('.page-head p a'); // the hook link under the neuron's heading
    await waitHash(`#/m/${model}/hook/`, 'opening the hook');
    await waitFor('#neuron-table tbody tr', 'neuron list');
    await page.click('#neuron-table thead a:text-is("max")');
    await page.waitForFunction(() => location.hash.includes('sort=max'), null, { timeout: WAIT });
    await waitFor('#neuron-table th[aria-sort] >> text=max', 'sorted header');
    const maxes = await page.$$eval('#neuron-table tbody tr', (trs) => trs.slice(0, 10).map((tr) => Number(tr.cells[3].textContent)));
    check(maxes.length >= 1, 'the sorted list is empty');
    check(maxes.every((v, i) => i === 0 || v <= maxes[i - 1] * (1 + 1e-6) + 1e-9), `not sorted by max (desc): ${maxes.join(', ')}`);
    check(await page.locator('#neuron-table svg.spark').count() > 0, 'no histogram sparkline in the list');
    // j moves the focus to a row's link (keyboard navigation of tables).
    await page.locator('main h1').click();
    await page.keyboard.press('j');
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.closest('#neuron-table tbody tr') !== null);
    check(focused, '"j" did not move the focus into the neuron table');
    await shot(`${tag}-neurons`);
    // Back twice (sorted list, list): history must hold every view.
    await page.goBack();
    await page.goBack();
    await waitHash(`#/m/${model}/n/`, 'going back to the neuron');
    check(page.url() === neuronUrl, `back did not return to ${neuronUrl}`);
    await waitFor('.exemplar', 'exemplars after going back');
  });

  if (!steerable) {
    console.log(`- ${model}: not steerable on this server, playground skipped`);
    return;
  }
  await step(`${model}: steer with this neuron`, async () => {
    await page.click('#steer-button');
    await waitHash(`#/m/${model}/steer?ref=`, 'opening the playground');
    await waitFor('form.steer-form .iv-row', 'playground form');
    check(await page.inputValue('.iv-row .iv-ref') === ref, 'the playground is not pre-filled with the neuron');
    check(await page.inputValue('.iv-row .iv-op') === 'clamp', 'the pre-filled operation is not clamp');
    check(Number(await page.inputValue('.iv-row .iv-value')) > 0, 'the pre-filled clamp value is not positive');
    await page.fill('#prompt', 'The ');
    await page.fill('#max-tokens', '24');
    await page.click('#run-steer');
    await waitFor('[data-testid="base-continuation"]', 'base continuation', STEER_WAIT);
    await waitFor('[data-testid="steered-continuation"]', 'steered continuation', STEER_WAIT);
    const base = await page.locator('[data-testid="base-continuation"] .cont').allTextContents();
    const steered = await page.locator('[data-testid="steered-continuation"] .cont').allTextContents();
    check(base.join('').length > 0, 'the base continuation is empty');
    check(steered.join('').length > 0, 'the steered continuation is empty');
    check(await page.locator('table.next-tokens').count() === 2, 'the two next-token tables are missing');
    check(await page.locator('table.next-tokens tbody tr').count() > 0, 'the next-token tables are empty');
    check(hashOf().includes('iv='), 'the run was not recorded in the URL');
    console.log(`  base:    ${JSON.stringify(base.join(''))}\n  steered: ${JSON.stringify(steered.join(''))}`);
    await shot(`${tag}-playground`);
  });
}

async function imageModel(model) {
  const tag = model.replace(/[^a-z0-9]+/gi, '-');
  await step(`${model}: image exemplars`, async () => {
    const ov = await apiGet(`/api/overview?model=${encodeURIComponent(model)}`);
    check(ov.hooks.length, 'the atlas has no hooks');
    await page.goto(`${BASE}/#/m/${encodeURIComponent(model)}/hook/${encodeURIComponent(ov.hooks[0].name)}?sort=max&order=desc`);
    await waitFor('#neuron-table tbody tr a', 'neuron list');
    await page.locator('#neuron-table tbody tr a').first().click();
    await waitFor('.exemplar', 'exemplars');
    await waitFor('canvas.exemplar-image[data-drawn="true"]', 'an exemplar image drawn with its mask');
    const painted = await page.$eval('canvas.exemplar-image[data-drawn="true"]', (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let nonBlack = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 30) nonBlack++;
      return nonBlack;
    });
    check(painted > 0, 'the exemplar canvas is blank');
    await shot(`${tag}-neuron`);
  });
}

async function errorDisplay(model) {
  await step('error display', async () => {
    // The one failure provoked on purpose: an unknown neuron must show the API's error inline.
    const bad = `${model}/n/no.such.hook:0`;
    expected = [(kind, text, url) => url.includes('/api/neuron?') && url.includes('no.such.hook'),
      (kind, text) => kind === 'console error' && /404/.test(text)];
    await page.goto(`${BASE}/#/m/${bad}`);
    await waitFor('.error', 'the error box');
    const text = await page.textContent('.error');
    check(/404/.test(text), `the error box does not give the status: ${text}`);
    check(await page.locator('.error button', { hasText: 'Retry' }).count() === 1, 'the error box has no retry button');
    await page.waitForTimeout(200);
    expected = [];
    await shot('error');
  });
}

// ---- main ------------------------------------------------------------------------------------

let context = null;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'golgi-e2e-profile-'));
let failed = false;
try {
  const health = await apiGet('/api/health').catch((e) => { throw new Failure(`the server at ${BASE} is not answering: ${e.message}`); });
  check(health.ok === true, '/api/health is not ok');
  const listed = await apiGet('/api/models');
  const names = MODELS.length ? MODELS : listed.map((m) => m.name);
  for (const name of names) check(listed.some((m) => m.name === name), `the server has no model ${name} (it has ${listed.map((m) => m.name).join(', ')})`);

  // A fresh profile per run: no cache, cookies or service workers from earlier runs.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    viewport: { width: 1366, height: 800 },
  });
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(WAIT);
  watch(page);

  for (const name of names) {
    const info = listed.find((m) => m.name === name);
    if (info.task === 'language-model') await textModel(name, (health.steering || []).includes(name) && info.steerable !== false);
    else await imageModel(name);
  }
  await errorDisplay(names[0]);
} catch (err) {
  failed = true;
  if (!err.reported) console.error(err instanceof Failure ? `✗ ${err.message}` : err.stack || String(err));
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
}

const seconds = ((Date.now() - started) / 1000).toFixed(1);
fs.writeFileSync(path.join(ARTIFACTS, 'e2e-report.json'), JSON.stringify({ base: BASE, passed: !failed, seconds: Number(seconds), steps: results }, null, 2));
if (failed) {
  console.error(`viewer e2e FAILED after ${seconds} s; screenshots and e2e-report.json in ${ARTIFACTS}`);
  process.exit(1);
}
console.log(`viewer e2e passed: ${results.length} steps in ${seconds} s; screenshots in ${ARTIFACTS}`);
