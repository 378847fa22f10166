// helpers.mjs - what the browser tests share: the seeded server (seed.py), Chromium
// (Debian's, driven by playwright-core), pages that record every request and console
// error, signing in, and API calls to check what the UI did.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = process.env.FULFILL_CHROMIUM || '/usr/bin/chromium';

// Start seed.py: resolves to its JSON line plus stop().
export function startServer() {
  return new Promise((resolve, reject) => {
    const proc = spawn('python3', [path.join(HERE, 'seed.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: proc.stdout });
    const timer = setTimeout(() => { proc.kill(); reject(new Error('seed.py did not answer in 90 s')); }, 90000);
    proc.on('exit', (code) => reject(new Error('seed.py exited with ' + code)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      const seed = JSON.parse(line);
      seed.stop = () => new Promise((done) => {
        proc.removeAllListeners('exit');
        proc.on('exit', done);
        proc.stdin.end();
        setTimeout(() => proc.kill(), 15000).unref();
      });
      resolve(seed);
    });
  });
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}

// A fresh context (its own sessionStorage) and page; `seen.requests` lists every URL
// the page asked for, `seen.errors` every console error and uncaught exception.
export async function newPage(browser) {
  const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1280, height: 900 },
    acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const seen = { requests: [], errors: [] };
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(m.text()); });
  page.on('pageerror', (e) => seen.errors.push('uncaught: ' + e.message));
  page.seen = seen;
  page.closeAll = () => context.close();
  return page;
}

export async function signIn(page, base, section, key) {
  await page.goto(`${base}/${section}`);
  await page.fill('#key', key);
  await page.click('form.signin button[type=submit]');
}

// GET/POST the API as `key`: [status, body].
export async function api(seed, key, method, p, body) {
  const headers = { Authorization: 'Bearer ' + key };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(seed.base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return [r.status, text ? JSON.parse(text) : null];
}

export async function ok(seed, key, p) {
  const [st, body] = await api(seed, key, 'GET', p);
  if (st !== 200) throw new Error(`GET ${p}: ${st} ${JSON.stringify(body)}`);
  return body;
}

// Every request went to the test server (loopback) or stayed inside the page.
export function foreignRequests(page, base) {
  return page.seen.requests.filter((u) => !u.startsWith(base + '/') && !u.startsWith('data:') && !u.startsWith('blob:'));
}

// The ids in the data-<attr> attributes of rows under `scope`.
export async function rowIds(page, scope, attr = 'reward') {
  return page.$$eval(`${scope} tr[data-${attr}]`, (rows, a) => rows.map((r) => r.dataset[a]), attr);
}

// The setup every browser test file shares: the seeded server and Chromium for the whole
// file (ready(seed) gets the server's description), and pages that, at the end, must not
// have loaded anything from another origin. Returns page(): a new recorded page.
export function browserSuite(ready) {
  let seed;
  let browser;
  const pages = [];
  before(async () => {
    seed = await startServer();
    browser = await launch();
    ready(seed);
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(foreignRequests(p, seed.base), [], 'a page loaded something from another origin');
    await browser?.close();
    await seed?.stop();
  });
  return async function page() {
    const p = await newPage(browser);
    pages.push(p);
    return p;
  };
}

// A console page signed in with seed's key for `role`, on the screen `hash` if given.
export async function consoleAs(page, seed, role, hash) {
  const p = await page();
  await signIn(p, seed.base, 'console', seed.keys[role]);
  await p.waitForSelector('#nav a');
  if (hash) await p.evaluate((h) => { location.hash = h; }, hash);
  return p;
}

// POST NDJSON events as seed's admin; each must be accepted.
export async function postEvents(seed, events) {
  const r = await fetch(seed.base + '/v1/events', { method: 'POST', body: events.map((e) => JSON.stringify(e) + '\n').join(''),
    headers: { Authorization: 'Bearer ' + seed.keys.admin, 'Content-Type': 'application/x-ndjson' } });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  assert.equal(body.rejected, 0, JSON.stringify(body));
}

// `who` (a new participant) refers `friend`, who buys: a reward in seed's program "held"
// (pending, a 30-day hold). Then `who` is blocked, which holds the reward for review
// with reason review:participant_blocked (docs/fraud.md). Resolves to the reward.
export async function rewardOfBlockedParticipant(seed, who, friend) {
  const person = (id, status) => ({ id: `evt_p_${id}_${status}`, type: 'participant',
    data: { id, email: `${id}@example.com`, name: id, country: 'US', currency: 'USD', status } });
  await postEvents(seed, [person(who, 'active'), person(friend, 'active'),
    { id: `evt_ref_${who}`, type: 'referral', occurred_at: '2026-10-05T09:00:00Z',
      data: { id: `ref_${who}`, program: 'held', referrer: who, referred: friend } },
    { id: `evt_ord_${who}`, type: 'conversion', occurred_at: '2026-10-06T12:00:00Z',
      data: { id: `ord_${who}`, participant: friend, amount: 7500, currency: 'USD' } }]);
  await postEvents(seed, [person(who, 'blocked')]);
  const mine = (await ok(seed, seed.keys.admin, `/v1/rewards?participant=${who}`)).data;
  assert.equal(mine.length, 1, JSON.stringify(mine));
  assert.equal(mine[0].status, 'review');
  assert.equal(mine[0].reason, 'review:participant_blocked');
  return mine[0];
}
