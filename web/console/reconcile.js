// reconcile.js - reconciliation (SPEC.md section 6): a provider's report or a
// distributor's credit memo (CSV: reward_id,amount,currency,reference) checked against
// what a batch or a connector paid. The screen lists the batches waiting for it and
// reconciles a connector's fulfilled rewards; a batch's own page uses the same form.
// Each result line is matched, amount_mismatch, missing, unexpected or duplicate.

import { api, get, query } from './api.js';
import { badge, clear, errorBox, h, link, notice, table, time } from './dom.js';
import { formatMoney } from './format.js';

const COUNTS = ['matched', 'amount_mismatch', 'missing', 'unexpected', 'duplicate', 'invalid', 'not_paid'];

function money(m) {
  return m ? formatMoney(m.amount, m.currency) : '—';
}

// The answer of a reconcile route, as a summary and its lines.
export function reconcileResult(res) {
  const counts = COUNTS.filter((k) => res[k] !== undefined && (res[k] > 0 || ['matched', 'amount_mismatch', 'missing', 'unexpected'].includes(k)));
  const problems = (res.lines || []).filter((l) => l.result !== 'matched').length;
  return h('section', { class: 'recon-result', 'aria-label': 'Reconciliation result', dataset: { status: res.status } },
    h('p', {}, 'Result: ', badge(res.status),
      res.status === 'reconciled' ? ' — every line matched.' : ` — ${problems} line${problems === 1 ? '' : 's'} to look at.`),
    h('ul', { class: 'counts' }, counts.map((k) => h('li', { dataset: { count: k } }, h('strong', {}, String(res[k])), ' ', k.replace('_', ' ')))),
    table({ caption: 'Report lines', rows: res.lines || [], empty: 'The report had no lines.',
      rowAttrs: (l) => ({ class: 'line-' + l.result, dataset: { result: l.result } }),
      columns: [
        { label: 'Line', num: true, cell: (l) => (l.line ?? '—') },
        { label: 'Reward', cell: (l) => (l.reward_id ? link('#/rewards/' + encodeURIComponent(l.reward_id), l.reward_id) : '—') },
        { label: 'Reference', cell: (l) => l.reference || '—' },
        { label: 'Result', cell: (l) => badge(l.result) },
        { label: 'Expected', num: true, cell: (l) => money(l.expected) },
        { label: 'Paid', num: true, cell: (l) => money(l.actual) },
        { label: 'Note', cell: (l) => (l.error && l.error.message) || l.message || '' },
      ] }),
    res.lines_truncated ? notice('Only the first lines are listed.', 'info') : null);
}

// A form that takes the CSV as a file or pasted text and posts it to `path` (+ query
// from extra fields); `onResult(res)`.
export function reconcileForm(ctx, { idPrefix, submitLabel, path, extra = [], onResult }) {
  const file = h('input', { id: idPrefix + '-file', name: 'file', type: 'file', accept: '.csv,text/csv' });
  const text = h('textarea', { id: idPrefix + '-csv', name: 'csv', rows: 6, cols: 70, spellcheck: 'false',
    placeholder: 'reward_id,amount,currency,reference' });
  const submit = h('button', { type: 'submit' }, submitLabel);
  const out = h('div', { class: 'recon-out', 'aria-live': 'polite' });
  const form = h('form', { class: 'recon-form' },
    extra.map((x) => x.node),
    h('p', {}, h('label', { for: idPrefix + '-file' }, 'Report file (CSV)'), ' ', file),
    h('p', {}, h('label', { for: idPrefix + '-csv' }, 'or paste it here'), h('br'), text),
    submit, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      const csv = file.files && file.files[0] ? await file.files[0].text() : text.value;
      if (!csv.trim()) {
        clear(out, h('div', { class: 'alert error', role: 'alert' }, 'Choose a CSV file or paste the report first.'));
        return;
      }
      const q = {};
      for (const x of extra) q[x.name] = x.value();
      const res = await api('POST', (typeof path === 'function' ? path(q) : path) + query(q.__query || {}), { csv });
      clear(out, reconcileResult(res));
      onResult && onResult(res);
    } catch (e) {
      clear(out, errorBox(e, ctx.role));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function render(view, ctx) {
  const waiting = h('div', { class: 'list' });
  const sections = [h('h1', {}, 'Reconciliation'),
    h('section', { 'aria-labelledby': 'rc-batches' }, h('h2', { id: 'rc-batches' }, 'Batches to reconcile'),
      h('p', { class: 'hint' }, 'Fulfilled batches wait for the fulfiller\'s credit memo; disputed ones for a corrected report. Open one to upload its report.'),
      waiting)];
  if (ctx.can('batches.reconcile')) {
    const conn = h('input', { id: 'rc-connector', name: 'connector', required: true, size: 16 });
    const from = h('input', { id: 'rc-from', name: 'from', type: 'date' });
    const to = h('input', { id: 'rc-to', name: 'to', type: 'date' });
    sections.push(h('section', { 'aria-labelledby': 'rc-conn' }, h('h2', { id: 'rc-conn' }, 'A connector against its provider\'s export'),
      h('p', { class: 'hint' }, 'The rewards a connector fulfilled in the window, matched by reward id or the provider\'s reference.'),
      reconcileForm(ctx, {
        idPrefix: 'rc', submitLabel: 'Reconcile connector',
        extra: [
          { name: 'connector', value: () => conn.value.trim(), node: h('p', {}, h('label', { for: 'rc-connector' }, 'Connector id'), ' ', conn) },
          { name: '__query', value: () => ({ from: from.value, to: to.value }),
            node: h('p', {}, h('label', { for: 'rc-from' }, 'From'), ' ', from, ' ', h('label', { for: 'rc-to' }, 'To'), ' ', to) },
        ],
        path: (q) => `/v1/connectors/${encodeURIComponent(q.connector)}/reconcile`,
      })));
  }
  clear(view, ...sections);
  try {
    const [fulfilled, disputed] = await Promise.all([
      get('/v1/batches', { status: 'fulfilled', limit: 100 }),
      get('/v1/batches', { status: 'disputed', limit: 100 }),
    ]);
    const rows = [...disputed.data, ...fulfilled.data];
    clear(waiting, table({ caption: 'Batches waiting for reconciliation', rows, empty: 'No batch is waiting for reconciliation.',
      columns: [
        { label: 'Batch', cell: (b) => link('#/batches/' + encodeURIComponent(b.id), b.id) },
        { label: 'Status', cell: (b) => badge(b.status) },
        { label: 'Fulfiller', cell: (b) => b.fulfiller },
        { label: 'Reference', cell: (b) => b.reference || '—' },
        { label: 'Fulfilled', cell: (b) => time(b.fulfilled_at) },
      ] }));
  } catch (e) {
    clear(waiting, errorBox(e, ctx.role));
  }
}
