// audit.js - the tamper-evident audit log (SPEC.md section 9): verify the hash chain
// (GET /v1/audit/verify: ok and the number of records, or the first broken record) and
// read the records, 50 a page, oldest first.

import { get } from './api.js';
import { clear, errorBox, h, pager, table, time } from './dom.js';

export async function render(view, ctx) {
  const result = h('div', { id: 'verify-result', 'aria-live': 'polite' });
  const verify = h('button', { type: 'button', id: 'verify' }, 'Verify the audit chain');
  verify.addEventListener('click', async () => {
    verify.disabled = true;
    clear(result, h('p', {}, 'Recomputing the chain…'));
    try {
      const r = await get('/v1/audit/verify');
      clear(result, r.ok
        ? h('div', { class: 'alert ok', role: 'status', dataset: { ok: 'true' } }, `OK: the chain holds over ${r.records} records.`)
        : h('div', { class: 'alert error', role: 'alert', dataset: { ok: 'false' } },
          `Broken: record ${r.first_bad} does not match the chain. Everything from it on is suspect.`));
    } catch (e) {
      clear(result, errorBox(e, ctx.role));
    } finally {
      verify.disabled = false;
    }
  });
  const list = h('div');
  const p = pager((after) => get('/v1/audit', { limit: 50, starting_after: after }),
    (rows) => clear(list, table({ caption: 'Audit records', rows, empty: 'No audit record.',
      columns: [
        { label: 'Record', num: true, cell: (r) => r.id },
        { label: 'When', cell: (r) => time(r.at) },
        { label: 'Actor', cell: (r) => r.actor },
        { label: 'Action', cell: (r) => r.action },
        { label: 'Target', cell: (r) => r.target },
        { label: 'Hash', cell: (r) => h('code', { title: r.hash }, (r.hash || '').slice(0, 12) + '…') },
      ] })),
    (e) => clear(list, errorBox(e, ctx.role)));
  clear(view, h('h1', {}, 'Audit'), h('p', {}, verify), result, h('h2', {}, 'Records'), list, p.nav);
  try {
    await p.first();
  } catch (e) {
    clear(list, errorBox(e, ctx.role));
  }
}
