// The web console (web/console, docs/console.md) in Debian's Chromium against the real
// server and a seeded database (seed.py). Each test acts through the page and checks
// the effect through the API as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, browserSuite, consoleAs, ok, rewardOfBlockedParticipant, rowIds, signIn } from './helpers.mjs';

let seed;
const page = browserSuite((s) => { seed = s; });

const signedIn = (role, hash) => consoleAs(page, seed, role, hash);

const text = (p, sel) => p.textContent(sel);
// The keyboard focus is inside `sel` (after an action whose button went away with its row).
const focusIn = (p, sel) => p.evaluate((s) => !!document.activeElement.closest(s), sel);

test('a wrong key is refused with the server\'s message and nothing is stored', async () => {
  const p = await page();
  await signIn(p, seed.base, 'console', 'fk_operator_thisisnotarealkeyatall0000');
  const alert = await p.waitForSelector('#signin-status [role=alert]');
  assert.match(await alert.textContent(), /not accepted/);
  assert.equal(await p.isHidden('#nav'), true);
  assert.equal(await p.evaluate(() => sessionStorage.length), 0);
});

test('a partner key cannot open the console', async () => {
  const p = await page();
  await signIn(p, seed.base, 'console', seed.keys.partner);
  const alert = await p.waitForSelector('#signin-status [role=alert]');
  assert.match(await alert.textContent(), /partner key cannot use the console/);
  assert.equal(await p.isHidden('#nav'), true);
  await p.evaluate(() => { location.hash = '#/review'; });
  await p.waitForTimeout(300);
  assert.equal(await p.$$eval('button[data-action]', (b) => b.length), 0, 'no reward action is offered');
  assert.equal(await p.evaluate(() => sessionStorage.length), 0);
});

test('operator: signed in, the key is not shown, and the role\'s screens only', async () => {
  const p = await signedIn('operator', '#/review');
  const key = seed.keys.operator;
  const html = await p.content();
  assert.ok(!html.includes(key), 'the full key is not in the page');
  assert.match(await text(p, '#who'), /operator/);
  const screens = await p.$$eval('#nav a', (as) => as.map((a) => a.dataset.screen));
  assert.deepEqual(screens, ['review', 'rewards', 'exceptions', 'programs', 'charts', 'kpis', 'settings']);
  assert.equal(await p.evaluate(() => sessionStorage.getItem('fulfill.api_key')), key);
  await p.click('#signout');
  await p.waitForSelector('form.signin');
  assert.equal(await p.evaluate(() => sessionStorage.length), 0);
});

test('review queue: approve, reject and bulk approve change the rewards\' status', async () => {
  const p = await signedIn('operator', '#/review');
  const [r0, r1, r2, r3] = seed.review;
  await p.waitForSelector(`tr[data-reward="${r0}"]`);
  assert.deepEqual((await rowIds(p, '.screen')).sort(), [...seed.review].sort());
  // amounts from integer minor units
  assert.match(await text(p, `tr[data-reward="${r0}"]`), /\$11\.00/);

  await p.click(`tr[data-reward="${r0}"] button[data-action=approve]`);
  await p.waitForSelector(`.messages [role=status]:has-text("${r0} is now approved")`);
  assert.equal((await ok(seed, seed.keys.admin, `/v1/rewards/${r0}`)).status, 'approved');
  await p.waitForSelector(`tr[data-reward="${r0}"]`, { state: 'detached' });
  assert.ok(await focusIn(p, '.messages'), 'the focus is on what happened, not lost with the row');

  await p.click(`tr[data-reward="${r1}"] button[data-action=reject]`);
  await p.fill(`#reason-reject-${r1}`, 'duplicate account');
  await p.click(`tr[data-reward="${r1}"] form button[type=submit]`);
  await p.waitForSelector(`.messages [role=status]:has-text("${r1} is now cancelled")`);
  const rejected = await ok(seed, seed.keys.admin, `/v1/rewards/${r1}`);
  assert.equal(rejected.status, 'cancelled');
  assert.match(rejected.history.at(-1).reason, /duplicate account/);

  // bulk reject asks first; "Never mind" rejects nothing and gives the focus back
  const status = async (id) => (await ok(seed, seed.keys.admin, `/v1/rewards/${id}`)).status;
  await p.waitForSelector(`tr[data-reward="${r2}"]`);
  await p.check(`tr[data-reward="${r2}"] input[type=checkbox]`);
  await p.check(`tr[data-reward="${r3}"] input[type=checkbox]`);
  await p.click('#bulk-reject');
  await p.waitForSelector('.bulk .confirm:has-text("Reject 2 rewards? They are cancelled and will not be paid.")');
  assert.equal(await p.evaluate(() => document.activeElement.className), 'confirm-yes');
  assert.deepEqual([await status(r2), await status(r3)], ['review', 'review'], 'nothing is rejected before the answer');
  await p.click('.bulk .confirm-no');
  assert.equal(await p.$$eval('.bulk .confirm', (x) => x.length), 0);
  assert.equal(await p.evaluate(() => document.activeElement.id), 'bulk-reject');
  assert.deepEqual([await status(r2), await status(r3)], ['review', 'review']);
  // changing the selection withdraws an open question
  await p.click('#bulk-reject');
  await p.waitForSelector('.bulk .confirm');
  await p.uncheck(`tr[data-reward="${r3}"] input[type=checkbox]`);
  assert.equal(await p.$$eval('.bulk .confirm', (x) => x.length), 0);
  // confirmed: only the selected reward is rejected, with the reason
  await p.fill('#bulk-reason', 'bulk duplicate');
  await p.click('#bulk-reject');
  await p.waitForSelector('.bulk .confirm:has-text("Reject 1 reward? It is cancelled and will not be paid.")');
  await p.click('.bulk .confirm-yes:has-text("Reject 1 reward")');
  await p.waitForSelector('.messages [role=status]:has-text("0 approved, 1 rejected")');
  assert.ok(await focusIn(p, '.messages'));
  const bulkRejected = await ok(seed, seed.keys.admin, `/v1/rewards/${r2}`);
  assert.equal(bulkRejected.status, 'cancelled');
  assert.match(bulkRejected.history.at(-1).reason, /bulk duplicate/);
  assert.equal(await status(r3), 'review');

  await p.waitForSelector(`tr[data-reward="${r3}"]`);
  await p.check(`tr[data-reward="${r3}"] input[type=checkbox]`);
  await p.click('#bulk-approve');
  await p.waitForSelector('.messages [role=status]:has-text("1 approved, 0 rejected")');
  assert.equal(await status(r3), 'approved');
  await p.waitForSelector('p.empty:has-text("review queue is empty")');
});

test('review queue: a reward held because its participant is blocked is labelled so, and found by that reason', async () => {
  const { id } = await rewardOfBlockedParticipant(seed, 'quinn', 'rita');
  const p = await signedIn('operator', '#/review');
  await p.waitForSelector(`tr[data-reward="${id}"]`);
  assert.equal(await text(p, `tr[data-reward="${id}"] .badge-blocked`), 'held: participant blocked');
  assert.equal(await p.getAttribute(`tr[data-reward="${id}"] .badge-blocked`, 'data-reason'), 'review:participant_blocked');
  assert.equal(await p.isHidden('p.hint:has-text("participants are blocked")'), true, 'the hint is for the filtered queue');

  // filtered by that reason: only such rewards, with what approving and rejecting do
  await p.selectOption('#review-reason', 'review:participant_blocked');
  assert.equal(await p.$eval('#review-reason option:checked', (o) => o.textContent), 'held: participant blocked');
  await p.click('.filters button[type=submit]');
  await p.waitForFunction(() => location.hash === '#/review?reason=review%3Aparticipant_blocked');
  await p.waitForSelector('p.hint:has-text("participants are blocked: approving one is refused")');
  await p.waitForSelector(`tr[data-reward="${id}"]`);
  assert.deepEqual(await rowIds(p, '.screen'), [id]);
  // another reason leaves it out
  await p.evaluate(() => { location.hash = '#/review?reason=review%3Avelocity'; });
  await p.waitForSelector('p.empty:has-text("No reward is in review with reason review:velocity")');
  assert.deepEqual(await rowIds(p, '.screen'), []);

  // approving is refused with the server's reason; the reward stays held
  await p.evaluate(() => { location.hash = '#/review?reason=review%3Aparticipant_blocked'; });
  await p.click(`tr[data-reward="${id}"] button[data-action=approve]`);
  await p.waitForSelector('.messages .alert.error[data-code=participant_blocked]');
  assert.equal((await ok(seed, seed.keys.admin, `/v1/rewards/${id}`)).reason, 'review:participant_blocked');

  // the rewards screen says the same in its status column
  await p.evaluate(() => { location.hash = '#/rewards?reason=review%3Aparticipant_blocked'; });
  await p.waitForSelector(`tr[data-reward="${id}"]`);
  assert.match(await text(p, `tr[data-reward="${id}"]`), /review held: participant blocked/);

  // rejected, it leaves the queue (later tests start from an empty one)
  const [st] = await api(seed, seed.keys.operator, 'POST', `/v1/rewards/${id}/reject`, { reason: 'blocked for good' });
  assert.equal(st, 200);
});

test('moving to another screen puts the keyboard focus on its content; a new search leaves it in the form', async () => {
  const p = await signedIn('operator', '#/review');
  await p.waitForSelector('.screen[data-screen=review] :is(table, p.empty)');
  await p.focus('#nav a[data-screen=rewards]');
  await p.keyboard.press('Enter');
  await p.waitForSelector('.screen[data-screen=rewards] tr[data-reward]');
  assert.equal(await p.evaluate(() => document.activeElement.id), 'main');
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.id), 'f-status', 'Tab goes on into the screen, not the nav');
  await p.fill('#f-participant', 'alice');
  await p.press('#f-participant', 'Enter');
  await p.waitForFunction(() => location.hash === '#/rewards?participant=alice');
  await p.waitForSelector('tr[data-reward]');
  assert.equal(await p.evaluate(() => document.activeElement.id), 'f-participant');
  await p.focus(`a[href="#/rewards/${seed.alice.p1[0]}"]`);
  await p.keyboard.press('Enter');
  await p.waitForSelector('.why');
  assert.equal(await p.evaluate(() => document.activeElement.id), 'main');
});

test('rewards search filters by status, participant and program', async () => {
  const p = await signedIn('operator', '#/rewards?status=failed');
  await p.waitForSelector('tr[data-reward]');
  assert.deepEqual(await rowIds(p, '.screen'), seed.failed);

  await p.fill('#f-participant', 'alice');
  await p.selectOption('#f-status', '');
  await p.click('form.filters button[type=submit]');
  await p.waitForFunction(() => location.hash === '#/rewards?participant=alice');
  await p.waitForSelector('tr[data-reward]');
  const alice = (await ok(seed, seed.keys.operator, '/v1/rewards?participant=alice')).data.map((r) => r.id);
  await p.waitForFunction((n) => document.querySelectorAll('tr[data-reward]').length === n, alice.length);
  assert.deepEqual(await rowIds(p, '.screen'), alice);
  assert.ok(alice.length === 3);

  await p.fill('#f-program', 'yen');
  await p.click('form.filters button[type=submit]');
  await p.waitForFunction(() => document.querySelectorAll('tr[data-reward]').length === 1);
  assert.deepEqual(await rowIds(p, '.screen'), seed.alice.yen);
  assert.match(await text(p, `tr[data-reward="${seed.alice.yen[0]}"]`), /¥500/);
  assert.doesNotMatch(await text(p, `tr[data-reward="${seed.alice.yen[0]}"]`), /¥500\.|¥5\.00/);

  await p.fill('#f-program', 'nothing-like-this');
  await p.click('form.filters button[type=submit]');
  await p.waitForSelector('p.empty:has-text("No reward matches")');

  // Search again with the same filters asks the server again (a refresh), and shows its answer
  await p.fill('#f-program', 'yen');
  await p.click('form.filters button[type=submit]');
  await p.waitForSelector('tr[data-reward]');
  const again = p.waitForRequest((r) => r.url().includes('/v1/rewards?') && r.url().includes('program=yen'));
  await p.click('form.filters button[type=submit]');
  await again;
  await p.waitForSelector(`tr[data-reward="${seed.alice.yen[0]}"]`);
  assert.equal(await p.evaluate(() => location.hash), '#/rewards?participant=alice&program=yen');
});

test('a reward\'s page shows its explanation and history', async () => {
  const id = seed.alice.p1[0];
  const p = await signedIn('operator', '#/rewards/' + id);
  await p.waitForSelector('.why .explanation');
  assert.match(await text(p, '.why'), /conversion\.amount \(7500\) >= 5000: true/);
  const r = await ok(seed, seed.keys.operator, '/v1/rewards/' + id);
  const rows = await p.$$eval('.history tbody tr', (trs) => trs.map((tr) => tr.children[2].textContent));
  assert.deepEqual(rows, r.history.map((x) => x.to));
  assert.match(await text(p, '.status-line'), /fulfilled/);
  // a fulfilled reward offers no action
  assert.equal(await p.$$eval('button[data-action]', (b) => b.length), 0);
});

test('exception queue lists the failed reward; a stale retry shows the server\'s 409', async () => {
  const id = seed.failed[0];
  const p = await signedIn('operator', '#/exceptions');
  await p.waitForSelector(`#ex-failed tr[data-reward="${id}"]`);
  assert.match(await text(p, `#ex-failed tr[data-reward="${id}"]`), /HTTP 400/);
  // someone else cancels it meanwhile: the retry is refused and the reason shown
  const [st] = await api(seed, seed.keys.admin, 'POST', `/v1/rewards/${id}/cancel`, { reason: 'paid by hand' });
  assert.equal(st, 200);
  await p.click(`#ex-failed tr[data-reward="${id}"] button[data-action=retry]`);
  const alert = await p.waitForSelector('.messages [role=alert]');
  assert.match(await alert.textContent(), /is cancelled, not failed/);
  assert.match(await alert.textContent(), /409 invalid_transition/);
  assert.equal((await ok(seed, seed.keys.admin, `/v1/rewards/${id}`)).status, 'cancelled');
});

test('exception queue: held rewards are asked for by reason, not scanned', async () => {
  const p = await signedIn('auditor', '#/exceptions');
  const [id] = seed.pool_empty;
  await p.waitForSelector(`#ex-held tr[data-reward="${id}"][data-reason=pool_empty]`);
  const held = (await ok(seed, seed.keys.auditor, '/v1/rewards?status=approved&reason=pool_empty')).data.map((r) => r.id);
  assert.deepEqual(await rowIds(p, '#ex-held'), held);
  const asked = p.seen.requests.filter((u) => u.includes('/v1/rewards?'));
  for (const reason of ['outcome_unknown', 'connector_unavailable', 'pool_empty']) {
    assert.ok(asked.some((u) => u.includes('status=approved') && u.includes('reason=' + reason)), `asked for ${reason}: ${asked}`);
  }
  assert.ok(!asked.some((u) => u.includes('status=approved') && !u.includes('reason=')), 'no unfiltered scan of approved rewards');
  // the rewards screen filters by reason too
  await p.evaluate(() => { location.hash = '#/rewards?reason=pool_empty'; });
  await p.waitForSelector(`.screen[data-screen=rewards] tr[data-reward="${id}"]`);
  assert.deepEqual(await rowIds(p, '.screen'), held);
  await p.fill('#f-reason', 'no_such_reason');
  await p.click('form.filters button[type=submit]');
  const alert = await p.waitForSelector('.screen [role=alert]');
  assert.match(await alert.textContent(), /unknown reward reason.*\(reason\) \[400 invalid_request\]/);
});

test('program drafts: a bad document shows the server\'s error by field; a good one is saved, simulated, approved and activated', async () => {
  const p = await signedIn('operator', '#/programs/yen');
  await p.waitForSelector('#draft-doc');
  const doc = JSON.parse(await p.inputValue('#draft-doc'));
  assert.equal(doc.rewards[0].amount, 500, 'the editor starts from the latest version');
  doc.rewards[0].amount = -5;
  await p.fill('#draft-doc', JSON.stringify(doc));
  await p.click('#draft-save');
  const err = await p.waitForSelector('.draft-error');
  assert.equal(await err.getAttribute('data-param'), 'rewards[0].amount');
  assert.match(await err.textContent(), /rewards\[0\]\.amount.*must be between/);
  await p.fill('#draft-doc', '{"rewards": [');
  await p.click('#draft-save');
  await p.waitForSelector('.draft-error:has-text("not JSON")');
  assert.equal((await ok(seed, seed.keys.admin, '/v1/programs/yen')).versions.length, 1, 'nothing was saved');

  doc.rewards[0].amount = 800;
  await p.fill('#draft-doc', JSON.stringify(doc));
  await p.click('#draft-save');
  await p.waitForSelector('.messages [role=status]:has-text("Version 2 saved as a draft")');
  const prog = await ok(seed, seed.keys.admin, '/v1/programs/yen');
  assert.deepEqual(prog.versions.map((v) => [v.version, v.status]), [[1, 'active'], [2, 'draft']]);
  assert.equal((await ok(seed, seed.keys.admin, '/v1/programs/yen/versions/2')).document.rewards[0].amount, 800);
  // the operator may not approve: no button
  assert.equal(await p.$$eval('button.approve-version', (b) => b.length), 0);

  // simulate version 2 over the seeded events: alice's JPY conversion earns 800 instead of 500
  await p.selectOption('#sim-version', '2');
  await p.fill('#sim-from', '2026-01-01');
  await p.click('form.simulate button[type=submit]');
  await p.waitForSelector('.simulation');
  const sim = await api(seed, seed.keys.operator, 'POST', '/v1/programs/yen/versions/2/simulate', { from: '2026-01-01' });
  assert.equal(sim[0], 200);
  assert.equal(await p.getAttribute('.simulation', 'data-conversions'), String(sim[1].conversions));
  assert.match(await text(p, '.sim-simulated'), /¥800/);
  assert.match(await text(p, '.sim-actual'), /¥500/);
  assert.match(await text(p, '.simulation tr[data-conversion="ord_yen"]'), /¥500.*¥800/);
  await p.fill('#sim-from', '2099-01-01');
  await p.click('form.simulate button[type=submit]');
  await p.waitForSelector('.sim-out [role=alert]');

  // an admin (not the author) approves and activates it
  const a = await signedIn('admin', '#/programs/yen');
  await a.click('button.approve-version[data-version="2"]');
  await a.waitForSelector('.messages [role=status]:has-text("Version 2 approved")');
  await a.click('button.activate-version[data-version="2"]');
  await a.waitForSelector('.messages [role=status]:has-text("Version 2 is active")');
  assert.equal((await ok(seed, seed.keys.admin, '/v1/programs/yen')).active_version, 2);

  // a new program from the list page
  await a.evaluate(() => { location.hash = '#/programs'; });
  await a.click('details.new-program summary');
  await a.fill('#draft-id', 'fresh');
  await a.click('#draft-save');
  await a.waitForFunction(() => location.hash === '#/programs/fresh');
  assert.equal((await ok(seed, seed.keys.admin, '/v1/programs/fresh')).versions[0].status, 'draft');
  // finance reads programs but may not write them
  const f = await signedIn('finance', '#/programs/yen');
  await f.waitForSelector('tr[data-version="2"]');
  assert.equal(await f.$$eval('#draft-doc, form.simulate', (x) => x.length), 0);
});

test('finance: a batch is created, closed, fulfilled and reconciled; discrepancies are listed', async () => {
  const p = await signedIn('finance', '#/batches');
  await p.waitForSelector('form.create');
  await p.fill('#nb-fulfiller', 'acme');
  await p.fill('#nb-currency', 'USD');
  await p.click('form.create button[type=submit]');
  await p.waitForFunction(() => /^#\/batches\/bat_/.test(location.hash));
  const bid = decodeURIComponent(await p.evaluate(() => location.hash.split('/')[2]));
  await p.waitForSelector('#batch-close');
  assert.match(await text(p, '.facts'), /\$50\.00/);
  // closing asks first, saying what is closed; Never mind leaves it open
  await p.click('#batch-close');
  await p.waitForSelector('.actions .confirm:has-text("Close this batch of 2 rewards ($50.00)? It cannot be reopened")');
  await p.click('.actions .confirm-no');
  assert.equal(await p.evaluate(() => document.activeElement.id), 'batch-close');
  assert.equal((await ok(seed, seed.keys.finance, '/v1/batches/' + bid)).status, 'open');
  await p.click('#batch-close');
  await p.click('.actions .confirm-yes');
  await p.waitForSelector('.messages [role=status]:has-text("is now closed")');
  assert.equal((await ok(seed, seed.keys.finance, '/v1/batches/' + bid)).status, 'closed');
  assert.ok(await focusIn(p, '.messages'));
  await p.fill('#batch-reference', 'CM-1001');
  await p.click('.actions form button[type=submit]');
  await p.waitForSelector('.messages [role=status]:has-text("is now fulfilled")');
  const [a, b] = seed.cash;
  await p.fill('#br-csv', `reward_id,amount,currency,reference\n${a},2500,USD,CM-1001\n${b},2400,USD,CM-1001\nrwd_stranger,100,USD,CM-1001\n`);
  await p.click('form.recon-form button[type=submit]');
  await p.waitForSelector('.recon-result');
  const results = await p.$$eval('.recon-result tr[data-result]', (trs) => trs.map((tr) => tr.dataset.result));
  assert.deepEqual(results, ['matched', 'amount_mismatch', 'unexpected']);
  assert.equal(await p.getAttribute('.recon-result', 'data-status'), 'disputed');
  assert.match(await text(p, '.recon-result tr[data-result=amount_mismatch]'), /\$25\.00.*\$24\.00/);
  assert.equal((await ok(seed, seed.keys.finance, '/v1/batches/' + bid)).status, 'disputed');
  // the page follows: its status, its last reconciliation, and the lines stay on screen once
  await p.waitForSelector('.status-line .badge-disputed');
  await p.waitForSelector('section:has(#b-last):has-text("1 matched, 1 amount mismatch, 0 missing, 1 unexpected")');
  assert.equal(await p.$$eval('.recon-result', (x) => x.length), 1);
  assert.deepEqual(await p.$$eval('.recon-result tr[data-result]', (trs) => trs.map((tr) => tr.dataset.result)),
    ['matched', 'amount_mismatch', 'unexpected']);

  // the reconciliation screen and the exception queue list it as disputed
  await p.evaluate(() => { location.hash = '#/exceptions'; });
  await p.waitForSelector(`#ex-disputed a:has-text("${bid}")`);
  // finance has no reward actions
  assert.equal(await p.$$eval('button[data-action]', (x) => x.length), 0);
});

test('programs: the diff, the author\'s own approval refused with the server\'s message, a second admin approves', async () => {
  const p = await signedIn('admin', '#/programs/p1');
  await p.waitForSelector('.diff');
  assert.equal(await p.getAttribute('.diff', 'data-economics'), 'true');
  assert.match(await text(p, '.diff tbody'), /\/rewards\/0\/amount\s*changed\s*1000\s*1500/);
  await p.click('button.approve-version[data-version="2"]');
  const alert = await p.waitForSelector('.messages [role=alert]');
  const [st, refused] = await api(seed, seed.keys.admin, 'POST', '/v1/programs/p1/versions/2/approve', {});
  assert.equal(st, 403);
  assert.equal(refused.error.code, 'same_author');
  assert.ok((await alert.textContent()).includes(refused.error.message));

  const q = await signedIn('admin2', '#/programs/p1');
  await q.click('button.approve-version[data-version="2"]');
  await q.waitForSelector('.messages [role=status]:has-text("Version 2 approved")');
  assert.ok(await focusIn(q, '.messages'));
  await q.click('button.activate-version[data-version="2"]');
  await q.waitForSelector('.messages [role=status]:has-text("Version 2 is active")');
  assert.equal((await ok(seed, seed.keys.admin, '/v1/programs/p1')).active_version, 2);
  // now version 1 can be rolled back to
  await q.waitForSelector('button.rollback-version[data-version="1"]');

  // an operator sees the versions but no governance button
  const o = await signedIn('operator', '#/programs/p1');
  await o.waitForSelector('tr[data-version="2"]');
  assert.equal(await o.$$eval('button.approve-version, button.activate-version, button.rollback-version', (b) => b.length), 0);
});

test('audit verify shows the chain is intact', async () => {
  const p = await signedIn('auditor', '#/audit');
  await p.click('#verify');
  const res = await p.waitForSelector('#verify-result [data-ok]');
  assert.equal(await res.getAttribute('data-ok'), 'true');
  const v = await ok(seed, seed.keys.auditor, '/v1/audit/verify');
  assert.equal(v.ok, true);
  const shown = Number((await res.textContent()).match(/over (\d+) records/)[1]);
  assert.ok(shown > 0 && shown <= v.records, `${shown} of ${v.records}`);
  await p.waitForSelector('table caption:has-text("Audit records")');
  // paging by starting_after, 50 a page, and back
  const first = await p.$$eval('.screen tbody tr', (trs) => trs.map((tr) => tr.children[0].textContent));
  assert.equal(first.length, 50);
  assert.equal(first[0], '1');
  await p.click('nav.pager button:has-text("Next page")');
  await p.waitForFunction(() => document.querySelector('.screen tbody tr td').textContent === '51');
  await p.click('nav.pager button:has-text("Previous page")');
  await p.waitForFunction(() => document.querySelector('.screen tbody tr td').textContent === '1');
  assert.equal(await p.isDisabled('nav.pager button:has-text("Previous page")'), true);
});

test('charts: payouts per day and month and pending aging, one bar per value', async () => {
  const p = await signedIn('finance', '#/charts');
  await p.waitForSelector('#payouts svg.chart');
  const days = (await ok(seed, seed.keys.finance, '/v1/reports/payouts?group=day')).data.filter((r) => r.currency === 'USD');
  assert.ok(days.length >= 3, 'seeded payouts span at least three days');
  assert.equal(await p.inputValue('#p-currency'), 'USD');
  assert.equal(await p.$$eval('#payouts rect.bar.bar-paid', (r) => r.length), days.length);
  assert.equal(await p.$$eval('#payouts rect.bar.bar-expected', (r) => r.length), days.length);
  const paid = await p.$$eval('#payouts rect.bar.bar-paid', (r) => r.map((x) => x.dataset.value));
  assert.deepEqual(paid, days.map((r) => String(r.actual_amount)));
  // the tallest paid bar is the largest amount
  await p.selectOption('#p-group', 'month');
  await p.click('#payouts form button[type=submit]');
  const months = (await ok(seed, seed.keys.finance, '/v1/reports/payouts?group=month')).data.filter((r) => r.currency === 'USD');
  await p.waitForFunction((n) => document.querySelectorAll('#payouts rect.bar.bar-paid').length === n, months.length);
  await p.selectOption('#p-currency', 'JPY');
  await p.waitForSelector('#payouts svg.chart title:has-text("(JPY)")', { state: 'attached' });
  assert.match(await text(p, '#payouts table'), /¥500/);

  const aging = await ok(seed, seed.keys.finance, '/v1/reports/aging');
  const bars = await p.$$eval('#aging rect.bar.bar-aging', (r) => r.map((x) => x.dataset.value));
  assert.deepEqual(bars, aging.buckets.map((b) => String(aging.by_bucket[b])));
  assert.equal(aging.by_bucket['8-30'], 1, 'the held reward is ten days old');
  // the coupon waiting for a code has no currency: its amount is not a bare "0"
  const coupon = aging.data.find((x) => x.reason === 'pool_empty');
  assert.equal(coupon.currency, null);
  const cells = await p.$$eval('#aging tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent))
    .find((c) => c[1] === 'pool_empty'));
  assert.deepEqual(cells.slice(3), ['1', 'no amount']);
});

test('credit status: rewards without a currency show their count and no amount, not a bare 0', async () => {
  const p = await signedIn('finance', '#/credit');
  await p.waitForSelector('#credit-out tr[data-participant=olive]');
  const row = (await ok(seed, seed.keys.finance, '/v1/reports/credit-status')).data.find((r) => r.participant === 'olive');
  assert.equal(row.currency, null);
  const cells = await p.$$eval('#credit-out tr[data-participant=olive] td', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(cells.slice(2), ['no amount (1)', 'no amount (0)', 'no amount (0)', 'no amount (0)']);
  assert.match(await text(p, '#credit-out tr[data-participant=jack]'), /\$50\.00 \(2\)/);
});

test('operator charts: aging only, the payouts report is not offered', async () => {
  const p = await signedIn('operator', '#/charts');
  await p.waitForSelector('#aging svg.chart');
  assert.equal(await p.$$eval('#payouts', (x) => x.length), 0);
  assert.match(await text(p, '.screen'), /payouts report is for admin, finance and auditor keys/);
});

test('money and errors are formatted as documented', async () => {
  const p = await page();
  await p.goto(seed.base + '/console');
  const got = await p.evaluate(async () => {
    const f = await import('/console/format.js');
    const d = await import('/console/dom.js');
    const a = await import('/console/api.js');
    const x = await import('/console/explain.js');
    return {
      lim1: x.limitText({ limit: 'referrer_amount_per_month', value: 50000, used: 48000, applied: true }, 'USD'),
      lim2: x.limitText({ limit: 'referrer_rewards_per_year', value: 1, used: 1, applied: false }, 'USD'),
      lim3: x.limitText({ limit: 'something_else', value: 3 }, 'USD'),
      usd: f.formatMoney(2000, 'USD'), jpy: f.formatMoney(500, 'JPY'), bhd: f.formatMoney(1234567, 'BHD'),
      neg: f.formatMoney(-5, 'USD'), pts: f.formatMoney(1200, 'POINT'),
      huge: f.formatMoney('900719925474099312', 'USD'),
      sum: f.sumByCurrency([{ amount: 1, currency: 'USD' }, { amount: '9007199254740993', currency: 'USD' }, { amount: 5, currency: 'JPY' }])
        .map((x) => `${x.currency}:${x.amount}`),
      dec: f.decimalString(5, 'BHD'),
      e429: d.describeError(new a.ApiError(429, 'rate_limited', 'slow down', null, '7')),
      e403: d.describeError(new a.ApiError(403, 'forbidden', 'the operator role may not POST /v1/batches'), 'operator'),
      e400: d.describeError(new a.ApiError(400, 'invalid_request', 'amount must be an integer', 'amount')),
    };
  });
  assert.equal(got.lim1, 'At most $500.00 of rewards per month for each referrer ($480.00 earned already): this reward was not created.');
  assert.equal(got.lim2, 'At most 1 reward per year for each referrer (1 earned already).');
  assert.equal(got.lim3, '{"limit":"something_else","value":3}');
  assert.equal(got.usd, '$20.00');
  assert.equal(got.jpy, '¥500');
  assert.match(got.bhd, /^BHD\s1,234\.567$/);
  assert.equal(got.neg, '-$0.05');
  assert.equal(got.pts, '1,200 points');
  assert.equal(got.huge, '$9,007,199,254,740,993.12');
  assert.deepEqual(got.sum, ['JPY:5', 'USD:9007199254740994']);
  assert.equal(got.dec, '0.005');
  assert.match(got.e429, /wait 7 seconds/);
  assert.match(got.e403, /role \(operator\) may not do this/);
  assert.match(got.e400, /amount must be an integer \(amount\) \[400 invalid_request\]/);
});

test('every screen loads without a console error for each console role', async () => {
  const screens = ['review', 'rewards', 'exceptions', 'batches', 'reconcile', 'programs', 'programs/p1', 'charts', 'audit',
    'rewards/' + seed.alice.yen[0], 'credit', 'kpis', 'settings/connectors', 'settings/webhooks', 'settings/code-pools',
    'settings/blocklist', 'settings/finance', 'settings/fees', 'settings/api-keys'];
  for (const role of ['admin', 'operator', 'finance', 'auditor']) {
    const p = await signedIn(role);
    const allowed = await p.$$eval('#nav a', (as) => as.map((a) => a.dataset.screen));
    for (const s of screens) {
      if (!allowed.includes(s.split('/')[0])) continue;
      await p.evaluate((h) => { location.hash = h; }, '#/' + s);
      await p.waitForSelector(`.screen[data-screen="${s.split('/')[0]}"]`);
      await p.waitForLoadState('networkidle');
      assert.equal(await p.$$eval('.screen [role=alert]', (x) => x.length), 0, `${role} ${s}: an error is shown`);
    }
    assert.deepEqual(p.seen.errors, [], `${role}: console errors`);
  }
});

test('a narrow window: every form label stays beside its field, and no field runs off the screen', async () => {
  const p = await signedIn('admin');
  await p.setViewportSize({ width: 420, height: 900 });
  const screens = [['#/review', '#bulk-reason'], ['#/rewards', '#f-batch'], ['#/batches', '#nb-until'], ['#/charts', '#p-currency'],
    ['#/kpis', '#k-to'], ['#/credit', '#cs-fulfiller'], ['#/settings/webhooks', '#we-description'], ['#/settings/blocklist', '#bl-note'],
    ['#/settings/code-pools', '#cp-per'], ['#/settings/fees', '#fee-percent'], ['#/settings/api-keys', '#k-scope']];
  for (const [hash, last] of screens) {
    await p.evaluate((h) => { location.hash = h; }, hash);
    if (hash === '#/settings/fees') await p.click('#new-fee');
    if (hash === '#/settings/api-keys') await p.selectOption('#k-role', 'partner');
    await p.waitForSelector(last);
    const bad = await p.$$eval(':is(.filters, .bulk, .create) label[for]', (labels) => labels.flatMap((l) => {
      const field = document.getElementById(l.htmlFor);
      if (!field || !field.offsetParent) return [];
      const a = l.getBoundingClientRect();
      const b = field.getBoundingClientRect();
      const beside = Math.abs((a.top + a.bottom) / 2 - (b.top + b.bottom) / 2) < 8 && a.right <= b.left + 1;
      return beside && b.right <= window.innerWidth ? [] : [`${l.textContent}: label ${Math.round(a.left)},${Math.round(a.top)} field ${Math.round(b.left)},${Math.round(b.top)}-${Math.round(b.right)}`];
    }));
    assert.deepEqual(bad, [], hash);
  }
  assert.deepEqual(p.seen.errors, []);
});

test('review queue on its second page: an approval keeps the operator on that page', async () => {
  // 52 more rewards for review: more than a page of 50
  const lines = [];
  for (let i = 0; i < 52; i++) {
    lines.push({ id: `evt_ref_pg${i}`, type: 'referral', occurred_at: '2026-10-05T09:00:00Z',
      data: { id: `ref_pg${i}`, program: 'rev', referrer: 'ivan', referred: `pg${i}` } });
    lines.push({ id: `evt_ord_pg${i}`, type: 'conversion', occurred_at: '2026-10-06T12:00:00Z',
      data: { id: `ord_pg${i}`, participant: `pg${i}`, amount: 7500, currency: 'USD' } });
  }
  const r = await fetch(seed.base + '/v1/events', { method: 'POST', body: lines.map((l) => JSON.stringify(l) + '\n').join(''),
    headers: { Authorization: 'Bearer ' + seed.keys.admin, 'Content-Type': 'application/x-ndjson' } });
  assert.equal(r.status, 200, await r.text());
  const queue = (await ok(seed, seed.keys.operator, '/v1/rewards?status=review&limit=1000')).data.map((x) => x.id);
  assert.ok(queue.length >= 52);
  const second = queue.slice(50);
  const count = (n) => p.waitForFunction((k) => document.querySelectorAll('tr[data-reward]').length === k, n);

  const p = await signedIn('operator', '#/review');
  await count(50);
  await p.click('.pager button:has-text("Next page")');
  await count(second.length);
  assert.deepEqual(await rowIds(p, '.screen'), second);
  await p.click(`tr[data-reward="${second[0]}"] button[data-action=approve]`);
  await p.waitForSelector(`.messages [role=status]:has-text("${second[0]} is now approved")`);
  await count(second.length - 1);
  assert.deepEqual(await rowIds(p, '.screen'), second.slice(1), 'still on the second page, without the approved reward');
  assert.equal(await p.isEnabled('.pager button:has-text("Previous page")'), true);
  // the page's last rewards approved at once: the page before it is shown
  for (const id of second.slice(1)) await p.check(`tr[data-reward="${id}"] input[type=checkbox]`);
  await p.click('#bulk-approve');
  await p.waitForSelector(`.messages [role=status]:has-text("${second.length - 1} approved, 0 rejected")`);
  await p.waitForFunction((first) => !!document.querySelector(`tr[data-reward="${first}"]`), queue[0]);
  assert.deepEqual(await rowIds(p, '.screen'), queue.slice(0, 50));
  assert.equal(await p.isEnabled('.pager button:has-text("Previous page")'), false);
  for (const id of second) assert.equal((await ok(seed, seed.keys.admin, '/v1/rewards/' + id)).status, 'approved');
});
