// codepools.js - code pools (docs/connectors.md "Code pools"): every pool with its stock
// (available, assigned, redeemed, void, low); for admins and operators, a new pool or
// new limits (PUT /v1/code-pools/{id}) and codes uploaded as CSV (one code per line or
// a "code" column; POST /v1/code-pools/{id}/codes as text/csv), chosen as a file or
// pasted. An upload releases rewards the empty pool held (reason pool_empty).

import { api, get } from './api.js';
import { clear, errorBox, h, notice, table, time } from './dom.js';

export async function render(view, ctx) {
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const list = h('div', { id: 'pools-list' });
  const write = ctx.can('pools.write');
  clear(view, h('h2', {}, 'Code pools'), messages, list, write ? poolForm() : null, write ? uploadForm() : null);
  const say = (node) => clear(messages, node);
  function poolForm() {
    const id = h('input', { id: 'cp-id', name: 'id', required: true, size: 16 });
    const low = h('input', { id: 'cp-low', name: 'low_stock_threshold', type: 'number', min: 0, step: 1, size: 6 });
    const per = h('input', { id: 'cp-per', name: 'per_participant_limit', type: 'number', min: 1, step: 1, size: 6 });
    const form = h('form', { class: 'create pool-form', 'aria-labelledby': 'cp-title' }, h('h3', { id: 'cp-title' }, 'New pool or new limits'),
      h('label', { for: 'cp-id' }, 'Pool'), ' ', id, ' ', h('label', { for: 'cp-low' }, 'Low-stock alert below'), ' ', low, ' ',
      h('label', { for: 'cp-per' }, 'Codes per participant'), ' ', per, ' ', h('button', { type: 'submit' }, 'Save pool'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = {};
      if (low.value !== '') body.low_stock_threshold = Number(low.value);
      if (per.value !== '') body.per_participant_limit = Number(per.value);
      try {
        const p = await api('PUT', '/v1/code-pools/' + encodeURIComponent(id.value.trim()), { body });
        say(notice(`Pool ${p.id} saved.`));
        await load();
      } catch (e) {
        say(errorBox(e, ctx.role));
      }
    });
    return form;
  }
  function uploadForm() {
    const pool = h('input', { id: 'cu-pool', name: 'pool', required: true, size: 16 });
    const file = h('input', { id: 'cu-file', name: 'file', type: 'file', accept: '.csv,text/csv,text/plain' });
    const text = h('textarea', { id: 'cu-csv', name: 'csv', rows: 6, cols: 50, spellcheck: 'false', placeholder: 'code\nSPRING-0001\nSPRING-0002' });
    file.addEventListener('change', async () => { if (file.files[0]) text.value = await file.files[0].text(); });
    const form = h('form', { class: 'upload-form', 'aria-labelledby': 'cu-title' }, h('h3', { id: 'cu-title' }, 'Upload codes'),
      h('p', {}, h('label', { for: 'cu-pool' }, 'Pool'), ' ', pool, ' ', h('label', { for: 'cu-file' }, 'CSV file'), ' ', file),
      h('label', { for: 'cu-csv' }, 'or paste the CSV (one code per line, or a header with a "code" column)'), text,
      h('p', {}, h('button', { type: 'submit' }, 'Upload codes')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const r = await api('POST', `/v1/code-pools/${encodeURIComponent(pool.value.trim())}/codes`, { csv: text.value });
        say(notice(`${r.added} code(s) added to ${pool.value.trim()}, ${r.duplicates} duplicate(s) skipped.`));
        await load();
      } catch (e) {
        say(errorBox(e, ctx.role));
      }
    });
    return form;
  }
  async function load() {
    const res = await get('/v1/code-pools', { limit: 1000 });
    clear(list, table({ caption: 'Code pools and their stock', rows: res.data, empty: 'No code pool yet.',
      rowAttrs: (p) => ({ dataset: { pool: p.id } }),
      columns: [
        { label: 'Pool', cell: (p) => p.id },
        { label: 'Available', num: true, cell: (p) => h('span', { class: 'available' }, String(p.available)) },
        { label: 'Assigned', num: true, cell: (p) => String(p.assigned) },
        { label: 'Redeemed', num: true, cell: (p) => String(p.redeemed) },
        { label: 'Void', num: true, cell: (p) => String(p.void) },
        { label: 'Low stock', cell: (p) => (p.low_stock
          ? h('strong', { class: 'low' }, `low: ${p.available} left (alert at ${p.low_stock_threshold} or fewer)`) : 'no') },
        { label: 'Per participant', num: true, cell: (p) => (p.per_participant_limit ?? '—') },
        { label: 'Updated', cell: (p) => time(p.updated_at) },
      ] }));
  }
  await load().catch((e) => clear(list, errorBox(e, ctx.role)));
}
