// The console's settings screens, KPIs and the fulfiller's view (docs/console.md) in
// Chromium against the real server (seed.py). Each effect is checked through the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, browserSuite, consoleAs, ok } from './helpers.mjs';

let seed;
const page = browserSuite((s) => { seed = s; });

const signedIn = (role, hash) => consoleAs(page, seed, role, hash);

const text = (p, sel) => p.textContent(sel);

test('connectors: an admin creates and updates one; secrets stay write-only; delete', async () => {
  const p = await signedIn('admin', '#/settings/connectors');
  await p.click('#new-connector');
  await p.fill('#cn-id', 'stripe_main');
  await p.selectOption('#cn-type', 'stripe');
  await p.fill('#cn-config', '{"api_key": "sk_test_abcdef1234"}');
  await p.click('form.connector-form button[type=submit]');
  await p.waitForSelector('.messages [role=status]:has-text("Connector stripe_main saved")');
  await p.waitForSelector('tr[data-connector=stripe_main]');
  assert.match(await text(p, 'tr[data-connector=stripe_main]'), /sk_\.\.\.1234/);
  assert.ok(!(await p.content()).includes('abcdef'), 'the secret is not in the page');
  // editing does not send the masked value back: the stored secret is kept
  await p.click('tr[data-connector=stripe_main] button.edit-connector');
  assert.deepEqual(JSON.parse(await p.inputValue('#cn-config')), {});
  assert.match(await text(p, 'form.connector-form'), /Stored secrets \(api_key\) are kept/);
  await p.click('form.connector-form button[type=submit]');
  await p.waitForSelector('.messages [role=status]:has-text("Connector stripe_main saved")');
  assert.equal((await ok(seed, seed.keys.admin, '/v1/connectors/stripe_main')).config.api_key, 'sk_...1234');
  // a bad configuration: the server's error, with the field
  await p.click('#new-connector');
  await p.fill('#cn-id', 'bad');
  await p.fill('#cn-config', '{"api_key": "sk_1", "colour": 1}');
  await p.click('form.connector-form button[type=submit]');
  await p.waitForSelector('form.connector-form [role=alert]:has-text("unknown_field")');
  assert.equal((await api(seed, seed.keys.admin, 'GET', '/v1/connectors/bad'))[0], 404);
  await p.fill('#cn-config', '{"api_key": ');
  await p.click('form.connector-form button[type=submit]');
  await p.waitForSelector('form.connector-form [role=alert]:has-text("The configuration is not JSON")');
  assert.equal(await p.evaluate(() => document.activeElement.id), 'cn-config');
  // delete asks first; each row's buttons are named after their connector
  assert.equal(await p.getAttribute('tr[data-connector=stripe_main] button.delete-connector', 'aria-label'),
    'Delete connector stripe_main');
  await p.click('tr[data-connector=stripe_main] button.delete-connector');
  await p.waitForSelector('tr[data-connector=stripe_main] .confirm:has-text("Delete connector stripe_main?")');
  assert.equal(await p.evaluate(() => document.activeElement.textContent), 'Delete stripe_main');
  await p.keyboard.press('Escape');
  assert.equal(await p.$$eval('.confirm', (x) => x.length), 0);
  assert.equal(await p.evaluate(() => document.activeElement.className), 'delete-connector');
  assert.equal((await api(seed, seed.keys.admin, 'GET', '/v1/connectors/stripe_main'))[0], 200, 'not deleted before the answer');
  await p.click('tr[data-connector=stripe_main] button.delete-connector');
  await p.click('tr[data-connector=stripe_main] .confirm-yes');
  await p.waitForSelector('.messages [role=status]:has-text("Connector stripe_main deleted")');
  assert.equal((await api(seed, seed.keys.admin, 'GET', '/v1/connectors/stripe_main'))[0], 404);
  // an operator reads connectors but has no buttons
  const o = await signedIn('operator', '#/settings/connectors');
  await o.waitForSelector('tr[data-connector=hook]');
  assert.equal(await o.$$eval('#new-connector, button.edit-connector, button.delete-connector', (b) => b.length), 0);
});

test('webhook endpoints: created with its secret shown once, deliveries, deleted', async () => {
  const p = await signedIn('admin', '#/settings/webhooks');
  await p.fill('#we-url', 'https://93.184.216.34/hooks');
  await p.fill('#we-events', 'reward.fulfilled');
  await p.click('form.webhook-form button[type=submit]');
  const secret = await (await p.waitForSelector('#webhook-secret')).inputValue();
  assert.match(secret, /^whsec_/);
  const list = (await ok(seed, seed.keys.admin, '/v1/webhook-endpoints')).data;
  assert.equal(list.length, 1);
  const id = list[0].id;
  assert.ok(!JSON.stringify(await ok(seed, seed.keys.admin, '/v1/webhook-endpoints/' + id)).includes(secret));
  await p.click(`tr[data-endpoint="${id}"] a`);
  await p.waitForSelector('#deliveries p.empty, #deliveries table');
  assert.ok(!(await p.content()).includes(secret), 'the secret is gone once the screen is left');
  await p.evaluate(() => { location.hash = '#/settings/webhooks'; });
  await p.fill('#we-url', 'ftp://nope');
  await p.click('form.webhook-form button[type=submit]');
  await p.waitForSelector('.messages [role=alert]');
  await p.click(`tr[data-endpoint="${id}"] button.delete-endpoint`);
  await p.waitForSelector(`tr[data-endpoint="${id}"] .confirm:has-text("Delete endpoint ${id} (https://93.184.216.34/hooks)?")`);
  assert.equal((await ok(seed, seed.keys.admin, '/v1/webhook-endpoints')).data.length, 1, 'not deleted before the answer');
  await p.click(`tr[data-endpoint="${id}"] .confirm-yes`);
  await p.waitForSelector('.messages [role=status]:has-text("deleted")');
  assert.equal((await ok(seed, seed.keys.admin, '/v1/webhook-endpoints')).data.length, 0);
});

test('code pools: stock shown, codes uploaded as CSV release the held reward', async () => {
  const [held] = seed.pool_empty;
  assert.equal((await ok(seed, seed.keys.admin, '/v1/rewards/' + held)).reason, 'pool_empty');
  const p = await signedIn('operator', '#/settings/code-pools');
  await p.waitForSelector('tr[data-pool=spring]');
  assert.equal(await text(p, 'tr[data-pool=spring] .available'), '0');
  assert.match(await text(p, 'tr[data-pool=spring] .low'), /^low: 0 left \(alert at \d+ or fewer\)$/);
  await p.fill('#cu-pool', 'spring');
  await p.fill('#cu-csv', 'code\nSPRING-1\nSPRING-2\nSPRING-2\n');
  await p.click('form.upload-form button[type=submit]');
  await p.waitForSelector('.messages [role=status]:has-text("2 code(s) added to spring, 1 duplicate(s)")');
  await p.waitForFunction(() => document.querySelector('tr[data-pool=spring] .available').textContent === '2');
  assert.equal((await ok(seed, seed.keys.admin, '/v1/code-pools/spring')).available, 2);
  assert.equal((await ok(seed, seed.keys.admin, '/v1/rewards/' + held)).reason, 'awaiting_fulfillment');
  await p.fill('#cu-csv', 'a,b\n1,2\n');
  await p.click('form.upload-form button[type=submit]');
  await p.waitForSelector('.messages [role=alert]');
  // finance reads the stock, cannot upload
  const f = await signedIn('finance', '#/settings/code-pools');
  await f.waitForSelector('tr[data-pool=spring]');
  assert.equal(await f.$$eval('form.upload-form, form.pool-form', (x) => x.length), 0);
});

test('API keys: a new key is shown once with a copy button, works, and is revoked', async () => {
  const p = await signedIn('admin', '#/settings/api-keys');
  await p.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: seed.base });
  await p.selectOption('#k-role', 'partner');
  await p.fill('#k-name', 'bob portal 2');
  await p.fill('#k-scope', 'bob');
  await p.click('form.key-form button[type=submit]');
  const key = await (await p.waitForSelector('#new-key')).inputValue();
  assert.match(key, /^fk_partner_/);
  await p.click('button.copy');
  await p.waitForSelector('.copy-status:has-text("Copied")');
  assert.equal(await p.evaluate(() => navigator.clipboard.readText()), key);
  const me = await ok(seed, key, '/v1/me');
  assert.deepEqual([me.role, me.participant], ['partner', 'bob']);
  assert.equal(await p.evaluate(() => sessionStorage.getItem('fulfill.api_key')), seed.keys.admin, 'the new key is not stored');
  await p.click(`tr[data-prefix="${me.prefix}"] button.revoke-key`);
  await p.waitForSelector(`tr[data-prefix="${me.prefix}"] .confirm:has-text("Revoke key ${me.prefix}…? Whatever uses it is refused")`);
  assert.equal((await api(seed, key, 'GET', '/v1/me'))[0], 200, 'not revoked before the answer');
  await p.click(`tr[data-prefix="${me.prefix}"] .confirm-no`);
  assert.equal((await api(seed, key, 'GET', '/v1/me'))[0], 200);
  await p.click(`tr[data-prefix="${me.prefix}"] button.revoke-key`);
  await p.click(`tr[data-prefix="${me.prefix}"] .confirm-yes`);
  await p.waitForSelector(`.messages [role=status]:has-text("${me.prefix} revoked")`);
  assert.equal((await api(seed, key, 'GET', '/v1/me'))[0], 401);
  // revoking by prefix asks too
  const [, other] = await api(seed, seed.keys.admin, 'POST', '/v1/api-keys', { role: 'auditor', name: 'by prefix' });
  await p.fill('#k-prefix', other.prefix);
  await p.press('#k-prefix', 'Enter');
  await p.waitForSelector(`form.revoke-form .confirm:has-text("Revoke key ${other.prefix}…?")`);
  await p.press('#k-prefix', 'Enter'); // asked again: still one question
  assert.equal(await p.$$eval('form.revoke-form .confirm', (x) => x.length), 1);
  assert.equal((await api(seed, other.key, 'GET', '/v1/me'))[0], 200, 'not revoked before the answer');
  await p.click('form.revoke-form .confirm-yes');
  await p.waitForSelector(`.messages [role=status]:has-text("${other.prefix} revoked")`);
  assert.equal((await api(seed, other.key, 'GET', '/v1/me'))[0], 401);
  assert.equal(await p.inputValue('#k-prefix'), '');
  // a partner key without its participant: the server's error
  await p.selectOption('#k-role', 'fulfiller');
  await p.fill('#k-scope', ' ');
  await p.evaluate(() => { document.querySelector('#k-scope').required = false; });
  await p.click('form.key-form button[type=submit]');
  await p.waitForSelector('.messages [role=alert]');
  // the list belongs to this sign-in: the next person signing in in the tab does not see it
  assert.equal(await p.$$eval('#keys-made tr[data-prefix]', (x) => x.length), 1);
  await p.click('#signout');
  await p.fill('#key', seed.keys.admin2);
  await p.click('form.signin button[type=submit]');
  await p.waitForSelector('#nav a');
  await p.evaluate(() => { location.hash = '#/settings/api-keys'; });
  await p.waitForSelector('form.key-form');
  assert.equal(await p.$$eval('#keys-made tr', (x) => x.length), 0);
  assert.ok(!(await p.content()).includes(me.prefix));
  // only admins have the tab
  const o = await signedIn('operator', '#/settings');
  await o.waitForSelector('.tabs a');
  assert.ok(!(await o.$$eval('.tabs a', (as) => as.map((a) => a.dataset.tab))).includes('api-keys'));
});

test('a change carries an Idempotency-Key; a lost answer is sent again with it and acts once', async () => {
  const p = await signedIn('admin', '#/settings/api-keys');
  const records = async () => (await ok(seed, seed.keys.admin, '/v1/audit/verify')).records;
  const before = await records();
  const sent = [];
  let replayed = null;
  await p.route('**/v1/api-keys', async (route) => {
    const req = route.request();
    if (req.method() !== 'POST') return route.continue();
    sent.push(req.headers()['idempotency-key']);
    const resp = await route.fetch();
    if (sent.length === 1) return route.abort('connectionreset'); // acted, answer lost
    replayed = resp.headers()['idempotent-replayed'];
    return route.fulfill({ response: resp });
  });
  await p.selectOption('#k-role', 'auditor');
  await p.fill('#k-name', 'lost answer');
  await p.click('form.key-form button[type=submit]');
  const key = await (await p.waitForSelector('#new-key')).inputValue();
  assert.equal(sent.length, 2);
  assert.match(sent[0], /^web-[0-9a-f]{32}$/);
  assert.equal(sent[1], sent[0], 'the retry reuses the key');
  assert.equal(replayed, 'true', 'the second answer is the stored one');
  assert.equal((await ok(seed, key, '/v1/me')).role, 'auditor');
  assert.equal(await records(), before + 1, 'one key created (one audit record), not two');
  // each action has a key of its own
  await p.unroute('**/v1/api-keys');
  const next = p.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/v1/api-keys'));
  await p.fill('#k-name', 'second');
  await p.click('form.key-form button[type=submit]');
  const other = (await next).headers()['idempotency-key'];
  assert.match(other, /^web-[0-9a-f]{32}$/);
  assert.notEqual(other, sent[0]);
});

test('blocklist: add and remove an entry', async () => {
  const p = await signedIn('operator', '#/settings/blocklist');
  await p.selectOption('#bl-kind', 'ip');
  await p.fill('#bl-value', '198.51.100.0/24');
  await p.fill('#bl-note', 'abuse');
  await p.click('form.blocklist-form button[type=submit]');
  await p.waitForSelector('tr[data-kind=ip][data-value="198.51.100.0/24"]');
  assert.deepEqual((await ok(seed, seed.keys.operator, '/v1/blocklist')).data.map((e) => e.value), ['198.51.100.0/24']);
  await p.selectOption('#bl-kind', 'email');
  await p.fill('#bl-value', 'not an address');
  await p.click('form.blocklist-form button[type=submit]');
  await p.waitForSelector('.messages [role=alert]');
  await p.click('tr[data-kind=ip] button.unblock');
  await p.waitForSelector('tr[data-kind=ip] .confirm:has-text("Unblock ip 198.51.100.0/24?")');
  assert.equal((await ok(seed, seed.keys.operator, '/v1/blocklist')).data.length, 1, 'not removed before the answer');
  await p.click('tr[data-kind=ip] .confirm-yes');
  await p.waitForSelector('.messages [role=status]:has-text("Removed ip 198.51.100.0/24")');
  await p.waitForSelector('p.empty:has-text("blocklist is empty")');
  assert.equal((await ok(seed, seed.keys.operator, '/v1/blocklist')).data.length, 0);
});

test('tax settings and FX rates: finance edits them, a bad rate shows the server\'s error', async () => {
  const p = await signedIn('finance', '#/settings/finance');
  await p.waitForSelector('tr[data-country=US]');
  await p.fill('#tt-country', 'ca');
  await p.fill('#tt-amount', '500.50');
  await p.fill('#tt-currency', 'CAD');
  await p.click('form.threshold-form button[type=submit]');
  await p.waitForSelector('tr[data-country=CA]');
  const tax = await ok(seed, seed.keys.finance, '/v1/settings/tax');
  assert.deepEqual(tax.thresholds.find((t) => t.country === 'CA'), { country: 'CA', amount: 50050, currency: 'CAD' });
  assert.match(await text(p, 'tr[data-country=CA]'), /CA\$500\.50/);
  await p.check('form.types-form input[value=points]');
  await p.click('form.types-form button[type=submit]');
  await p.waitForSelector('#reportable-types:has-text("points")');
  assert.ok((await ok(seed, seed.keys.finance, '/v1/settings/tax')).reportable_types.includes('points'));

  await p.fill('#fx-lines', 'EUR abc');
  await p.click('form.fx-form button[type=submit]');
  const alert = await p.waitForSelector('.messages [role=alert]');
  assert.match(await alert.textContent(), /\(rates\.EUR\) \[400 invalid_request\]/);
  await p.fill('#fx-lines', 'EUR 1.0845\nJPY 0.0067');
  await p.click('form.fx-form button[type=submit]');
  await p.waitForSelector('tr[data-currency=EUR]');
  const fx = await ok(seed, seed.keys.finance, '/v1/fx-rates');
  assert.deepEqual(fx.data.map((r) => [r.currency, r.rate]).sort(), [['EUR', '1.0845'], ['JPY', '0.0067']]);
  // an auditor reads, no forms
  const a = await signedIn('auditor', '#/settings/finance');
  await a.waitForSelector('tr[data-currency=EUR]');
  assert.equal(await a.$$eval('form.threshold-form, form.types-form, form.fx-form', (x) => x.length), 0);
});

test('payout fees: finance lists, creates, updates and deletes one; the server\'s error shows by its field', async () => {
  const fees = async () => (await ok(seed, seed.keys.finance, '/v1/fees')).data
    .map((f) => [f.connector, f.currency, f.fixed_amount, f.percent_bp]);
  const p = await signedIn('finance', '#/settings/fees');
  await p.waitForSelector('#fees-list p.empty:has-text("No payout fee")');
  // create: $0.30 + 2.9%, typed as decimals, sent as 30 cents and 290 basis points
  await p.click('#new-fee');
  await p.fill('#fee-connector', 'manual');
  await p.fill('#fee-currency', 'usd');
  await p.fill('#fee-fixed', '0.30');
  await p.fill('#fee-percent', '2.9');
  await p.click('form.fee-form button[type=submit]');
  await p.waitForSelector('.messages [role=status]:has-text("The USD fee of manual is saved")');
  assert.deepEqual(await fees(), [['manual', 'USD', 30, 290]]);
  const row = 'tr[data-connector=manual][data-currency=USD]';
  assert.equal(await text(p, `${row} .fixed`), '$0.30');
  assert.equal(await text(p, `${row} .percent`), '2.90%');
  // bad input: 150% is refused by the server, whose error stands by the percent field
  await p.click(`${row} button.edit-fee`);
  assert.equal(await p.getAttribute('#fee-connector', 'readonly'), '');
  assert.deepEqual([await p.inputValue('#fee-fixed'), await p.inputValue('#fee-percent')], ['0.30', '2.90']);
  await p.fill('#fee-percent', '150');
  await p.click('form.fee-form button[type=submit]');
  const err = await p.waitForSelector('#fee-percent-error[data-param=percent_bp]');
  assert.match(await err.textContent(), /percent_bp must be 0\.\.10000 \(percent_bp\) \[400 invalid_request\]/);
  assert.equal(await p.getAttribute('#fee-percent', 'aria-invalid'), 'true');
  assert.deepEqual(await fees(), [['manual', 'USD', 30, 290]], 'nothing changed');
  // a fixed amount with more digits than the currency has is caught before sending
  await p.fill('#fee-percent', '3.5');
  await p.fill('#fee-fixed', '0.255');
  await p.click('form.fee-form button[type=submit]');
  await p.waitForSelector('#fee-fixed-error:has-text("0.255 is not an amount of USD")');
  assert.equal(await p.$$eval('#fee-percent-error', (x) => x.length), 0, 'the old error is gone');
  // update
  await p.fill('#fee-fixed', '0.25');
  await p.click('form.fee-form button[type=submit]');
  await p.waitForSelector('.messages [role=status]:has-text("The USD fee of manual is saved")');
  assert.deepEqual(await fees(), [['manual', 'USD', 25, 350]]);
  await p.waitForSelector(`${row} .percent:has-text("3.50%")`);
  assert.equal(await text(p, `${row} .fixed`), '$0.25');
  // delete
  await p.click(`${row} button.delete-fee`);
  await p.waitForSelector(`${row} .confirm:has-text("Delete the USD fee of manual?")`);
  assert.deepEqual(await fees(), [['manual', 'USD', 25, 350]], 'not deleted before the answer');
  await p.click(`${row} .confirm-yes`);
  await p.waitForSelector('.messages [role=status]:has-text("The USD fee of manual is deleted")');
  await p.waitForSelector('#fees-list p.empty');
  assert.deepEqual(await fees(), []);

  // an auditor reads the fees and has no write controls; an operator has no fees tab
  assert.equal((await api(seed, seed.keys.finance, 'PUT', '/v1/fees/ledger',
    { currency: 'JPY', fixed_amount: 5, percent_bp: 0 }))[0], 200);
  const a = await signedIn('auditor', '#/settings/fees');
  await a.waitForSelector('tr[data-connector=ledger][data-currency=JPY]');
  assert.equal(await text(a, 'tr[data-connector=ledger] .fixed'), '¥5');
  assert.equal(await a.$$eval('#new-fee, button.edit-fee, button.delete-fee, form.fee-form', (x) => x.length), 0);
  const o = await signedIn('operator', '#/settings/fees');
  await o.waitForSelector('.settings-body[data-tab=connectors]');
  assert.equal(await o.$$eval('.tabs a[data-tab=fees]', (x) => x.length), 0);
  assert.equal((await api(seed, seed.keys.finance, 'PUT', '/v1/fees/ledger',
    { currency: 'JPY', fixed_amount: 0, percent_bp: 0 }))[0], 200);
  for (const x of [p, a, o]) assert.deepEqual(x.seen.errors.filter((e) => !/400/.test(e)), []);
});

test('KPIs: one row per metric of the report', async () => {
  const p = await signedIn('auditor', '#/kpis');
  await p.waitForSelector('#kpis-out table');
  const rep = await ok(seed, seed.keys.auditor, '/v1/reports/kpis');
  assert.deepEqual(await p.$$eval('#kpis-out tr[data-metric]', (trs) => trs.map((t) => t.dataset.metric)), rep.data.map((r) => r.metric));
  assert.match(await text(p, 'tr[data-metric=exception_queue]'), new RegExp(String(rep.exception_queue)));
  assert.match(await text(p, 'tr[data-metric=cycle_time_p50_ms]'), /\d+ d \d+ h/);
  await p.fill('#k-from', '2030-01-01');
  await p.click('#kpis-out ~ form button, form.filters button');
  await p.waitForFunction(() => location.hash.includes('from=2030-01-01'));
});

test('fulfiller: signs in, sees and works its own batches and its credit status only', async () => {
  const p = await signedIn('fulfiller');
  assert.deepEqual(await p.$$eval('#nav a', (as) => as.map((a) => a.dataset.screen)), ['batches', 'credit']);
  await p.waitForFunction(() => location.hash === '#/batches');
  assert.match(await text(p, '#who'), /fulfiller \(acme\)/);
  assert.equal(await p.getAttribute('#nb-fulfiller', 'readonly'), '');
  assert.equal(await p.inputValue('#nb-fulfiller'), 'acme');
  assert.equal(await p.$$eval('#b-fulfiller', (x) => x.length), 0);
  // credit status before: two new rewards for jack
  await p.evaluate(() => { location.hash = '#/credit'; });
  await p.waitForSelector('#credit-out tr[data-participant=jack]');
  assert.match(await text(p, '#credit-out tr[data-participant=jack]'), /\$50\.00 \(2\)/);
  const [dl] = await Promise.all([p.waitForEvent('download'), p.click('#credit-csv')]);
  const creditCsv = await (await import('node:fs/promises')).readFile(await dl.path(), 'utf8');
  assert.match(creditCsv, /^participant,fulfiller,currency/);

  await p.evaluate(() => { location.hash = '#/batches'; });
  await p.click('form.create button[type=submit]');
  await p.waitForFunction(() => /^#\/batches\/bat_/.test(location.hash));
  const bid = decodeURIComponent(await p.evaluate(() => location.hash.split('/')[2]));
  await p.waitForSelector('#batch-close');
  assert.equal(await p.$$eval('.screen a[href^="#/rewards/"]', (x) => x.length), 0, 'no link to screens it may not open');
  const [csv] = await Promise.all([p.waitForEvent('download'), p.click('#batch-csv')]);
  const report = await (await import('node:fs/promises')).readFile(await csv.path(), 'utf8');
  for (const id of seed.cash) assert.ok(report.includes(id));
  await p.click('#batch-close');
  await p.click('.actions .confirm-yes');
  await p.waitForSelector('.messages [role=status]:has-text("is now closed")');
  await p.fill('#batch-reference', 'ACME-77');
  await p.click('.actions form button[type=submit]');
  await p.waitForSelector('.messages [role=status]:has-text("is now fulfilled")');
  const b = await ok(seed, seed.keys.fulfiller, '/v1/batches/' + bid);
  assert.deepEqual([b.status, b.reference], ['fulfilled', 'ACME-77']);
  assert.equal(await p.$$eval('form.recon-form', (x) => x.length), 0, 'reconciling is finance\'s');
  const list = (await ok(seed, seed.keys.fulfiller, '/v1/batches')).data.map((x) => x.id);
  await p.evaluate(() => { location.hash = '#/batches'; });
  await p.waitForSelector(`.screen a:has-text("${bid}")`);
  assert.deepEqual(await p.$$eval('.screen tbody tr td:first-child', (tds) => tds.map((t) => t.textContent)), list);
  await p.evaluate(() => { location.hash = '#/credit'; });
  await p.waitForSelector('#credit-out tr[data-participant=jack]');
  assert.match(await text(p, '#credit-out tr[data-participant=jack]'), /Fulfilled|\$50\.00 \(2\)/);
  // screens it may not open say so; another fulfiller's batch is not found
  await p.evaluate(() => { location.hash = '#/review'; });
  await p.waitForSelector('main .alert.error:has-text("role (fulfiller) has no access to review queue")');
  await p.evaluate(() => { location.hash = '#/batches/bat_0000000000000000000000'; });
  await p.waitForSelector('.screen [role=alert][data-status="404"]');
  assert.deepEqual(p.seen.errors.filter((e) => !/404/.test(e)), []);
});
