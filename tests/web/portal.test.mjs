// The referrer portal (web/portal, docs/console.md) in Debian's Chromium: a partner key
// sees its own participant and nothing of anyone else's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, browserSuite, ok, rewardOfBlockedParticipant, rowIds, signIn } from './helpers.mjs';

let seed;
const page = browserSuite((s) => { seed = s; });

async function portal(key) {
  const p = await page();
  await signIn(p, seed.base, 'portal', key);
  return p;
}

test('a partner sees its balance, referrals with why, rewards with payout dates - and nobody else\'s', async () => {
  const p = await portal(seed.keys.partner);
  await p.waitForSelector('#rewards table');
  const key = seed.keys.partner;
  assert.ok(!(await p.content()).includes(key), 'the key is not in the page');
  assert.match(await p.textContent('#who'), /alice/);

  // balances from integer minor units: USD 1000 -> $10.00, JPY 500 -> ¥500
  const balances = await p.$$eval('#balance li', (li) => li.map((x) => x.textContent));
  assert.deepEqual(balances.sort(), ['$10.00', '¥500']);

  const refs = (await ok(seed, key, '/v1/participants/alice/referrals')).data;
  assert.deepEqual(await rowIds(p, '#referrals', 'referral'), refs.map((r) => r.id));
  assert.match(await p.textContent('tr[data-referral=ref_self]'), /rejected.*Rejected: it looks like you referred yourself\./);
  assert.match(await p.textContent('tr[data-referral=ref_wait]'), /pending.*Waiting for pete's qualifying purchase/);
  assert.match(await p.textContent('tr[data-referral=ref_1]'), /successful.*Earned \$10\.00/);

  const rewards = (await ok(seed, key, '/v1/participants/alice/rewards')).data;
  assert.deepEqual(await rowIds(p, '#rewards'), rewards.map((r) => r.id));
  const held = seed.alice.held[0];
  const heldRow = await p.textContent(`tr[data-reward="${held}"]`);
  assert.match(heldRow, /\$7\.00/);
  assert.match(heldRow, /Waiting for the next payout date/);
  // the estimate is the engine's release_at (hold end -> the next monthly boundary)
  assert.ok(seed.held.release_at);
  const release = await p.getAttribute(`tr[data-reward="${held}"] .estimate time`, 'datetime');
  assert.equal(release, seed.held.release_at);
  const shown = await p.textContent(`tr[data-reward="${held}"] .estimate`);
  const expected = await p.evaluate((iso) => new Date(iso).toLocaleDateString(undefined, { dateStyle: 'medium' }), seed.held.release_at);
  assert.equal(shown, 'Estimated ' + expected);
  assert.match(await p.textContent(`tr[data-reward="${seed.alice.p1[0]}"]`), /Paid.*Paid \w{3} \d+, \d{4}/);

  // why: the explanation, loaded when opened
  await p.click(`tr[data-reward="${seed.alice.p1[0]}"] details summary`);
  await p.waitForSelector(`tr[data-reward="${seed.alice.p1[0]}"] .explanation`);
  // the program's rule and its result, not carol's order amount (docs/api-roles.md)
  const why = await p.textContent(`tr[data-reward="${seed.alice.p1[0]}"] .explanation`);
  assert.match(why, /conversion\.amount >= 5000: true/);
  for (const hidden of ['7500', '75.00', 'undefined', '()']) assert.ok(!why.includes(hidden), hidden);
  // carol's own reward: what the program gives her, not how it went
  assert.match(why, /referrer: credit \$10\.00 — \w+.*referred: credit$/);

  // nothing of bob's (his rewards, his referrals, the people he referred)
  const text = await p.textContent('main');
  for (const id of [...seed.bob.p1, ...seed.failed, 'ref_2', 'ref_hook']) assert.ok(!text.includes(id), id);
  for (const name of ['bob', 'dave', 'mona']) assert.ok(!text.includes(name), name);
  assert.deepEqual(p.seen.errors, []);

  await p.click('#signout');
  await p.waitForSelector('form.signin');
  assert.equal(await p.evaluate(() => sessionStorage.length), 0);
});

test('a friend\'s purchase that did not qualify: the program\'s condition it missed, not the purchase', async () => {
  const p = await portal(seed.keys.partner);
  await p.waitForSelector('#referrals table');
  // nina bought for $10.00, below p1's minimum of $50.00 (seed.py)
  const row = await p.textContent('tr[data-referral=ref_small]');
  assert.match(row, /pending.*nina's latest purchase did not qualify:.*\(checked .+\).*The purchase amount must be at least 50\.00 USD\./);
  assert.ok(!row.includes('10.00'), 'nina\'s order amount is not shown');
  assert.ok(!row.includes('ord_small'), 'nor her order');
  const reasons = await p.$$eval('tr[data-referral=ref_small] .why .reasons li', (li) => li.map((x) => x.textContent));
  assert.deepEqual(reasons, ['The purchase amount must be at least 50.00 USD.']);
  // what the API gave the portal is the same summary
  const ref = await ok(seed, seed.keys.partner, '/v1/referrals/ref_small');
  assert.deepEqual(ref.last_evaluation.reasons, reasons);
  assert.equal(ref.last_evaluation.outcome, 'not_eligible');
  // a friend who has not bought yet: nothing evaluated
  assert.equal((await ok(seed, seed.keys.partner, '/v1/referrals/ref_wait')).last_evaluation, null);
  assert.equal(await p.$('tr[data-referral=ref_wait] .why .reasons'), null);
  assert.deepEqual(p.seen.errors, []);
});

test('on a phone the tables become cards: every column on screen, under its name', async () => {
  const p = await page();
  await p.setViewportSize({ width: 390, height: 844 });
  await signIn(p, seed.base, 'portal', seed.keys.partner);
  await p.waitForSelector('#rewards table');
  const width = await p.evaluate(() => document.documentElement.clientWidth);
  assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth),
    'nothing wider than the screen');
  // the referral that did not qualify: its reason, labelled, inside the screen
  const why = await p.$('tr[data-referral=ref_1] td[data-label="Why"]');
  const box = await why.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= width, `the Why cell at ${box.x}+${box.width} of ${width}`);
  assert.equal(await why.evaluate((td) => getComputedStyle(td, '::before').content), '"Why"');
  assert.match(await why.textContent(), /Earned \$10\.00/);
  // every reward cell too, payout and why included
  for (const label of ['Reward', 'Status', 'Payout', 'Why']) {
    const cell = await p.$(`tr[data-reward="${seed.alice.p1[0]}"] td[data-label="${label}"]`);
    const b = await cell.boundingBox();
    assert.ok(b && b.x + b.width <= width, label);
  }
  // the header row is kept for screen readers, out of sight
  assert.ok(await p.$eval('#rewards thead', (t) => t.getBoundingClientRect().height <= 1));
  // on a wide screen it is a table as before
  await p.setViewportSize({ width: 1280, height: 900 });
  assert.equal(await p.$eval('#rewards tbody tr', (tr) => getComputedStyle(tr).display), 'table-row');
});

test('another partner sees only its own data', async () => {
  const p = await portal(seed.keys.partner_bob);
  await p.waitForSelector('#rewards table');
  const ids = await rowIds(p, '#rewards');
  assert.deepEqual(ids.sort(), [...seed.bob.p1, ...seed.failed].sort());
  const text = await p.textContent('main');
  for (const id of [...seed.alice.p1, ...seed.alice.yen, ...seed.alice.held, 'ref_1', 'ref_self']) assert.ok(!text.includes(id), id);
  assert.ok(!text.includes('¥'), 'alice\'s yen balance is not shown');
});

test('a wrong key, and a key of another role, are refused', async () => {
  const p = await portal('fk_partner_notarealkeynotarealkey000000');
  const alert = await p.waitForSelector('#signin-status [role=alert]');
  assert.match(await alert.textContent(), /not accepted/);
  const q = await portal(seed.keys.operator);
  const alert2 = await q.waitForSelector('#signin-status [role=alert]');
  assert.match(await alert2.textContent(), /for partner keys; this is an operator key/);
  assert.equal(await q.evaluate(() => sessionStorage.length), 0);
});

test('a partner key gets nothing from the operator routes the console calls', async () => {
  // the server is the authority: the console refuses the key, and so does the API
  for (const [method, path] of [['GET', '/v1/rewards?status=review'], ['POST', `/v1/rewards/${seed.review[0]}/approve`],
    ['GET', '/v1/reports/aging'], ['GET', '/v1/batches']]) {
    const r = await fetch(seed.base + path, { method, headers: { Authorization: 'Bearer ' + seed.keys.partner,
      'Content-Type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
    assert.equal(r.status, 403, `${method} ${path}`);
  }
});

test('a reward held because its partner is blocked reads "on hold, contact support", naming no block or check', async () => {
  const { id } = await rewardOfBlockedParticipant(seed, 'quinn', 'rita');
  const [st, created] = await api(seed, seed.keys.admin, 'POST', '/v1/api-keys',
    { role: 'partner', name: 'quinn portal', participant: 'quinn' });
  assert.equal(st, 201, JSON.stringify(created));
  const p = await portal(created.key);
  await p.waitForSelector(`tr[data-reward="${id}"]`);
  assert.equal(await p.textContent(`tr[data-reward="${id}"] .reason`), 'On hold: please contact support');
  assert.equal(await p.textContent(`tr[data-reward="${id}"] .estimate`), 'On hold');
  const row = (await p.textContent(`tr[data-reward="${id}"]`)).toLowerCase();
  for (const word of ['blocked', 'fraud', 'being reviewed', 'after review']) assert.ok(!row.includes(word), word);
  assert.deepEqual(p.seen.errors, []);
});
