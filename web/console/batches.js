// batches.js - payout batches (SPEC.md section 6): the list (status and fulfiller
// filters), a new batch of approved rewards, and one batch's page: totals, rewards,
// the report CSV, and the next step its status allows - close (open), fulfil with the
// fulfiller's reference (open, closed), reconcile against the credit memo (fulfilled,
// disputed). Finance and admin act; auditors read. A fulfiller key sees, creates,
// closes and fulfils its own batches only (the server answers 404 for any other), and
// reconciliation stays with finance.

import { api, get, post } from './api.js';
import { reconcileForm, reconcileResult } from './reconcile.js';
import { badge, clear, confirmAction, errorBox, facts, h, link, notice, pager, report, table, time } from './dom.js';
import { formatMoney } from './format.js';
import { download } from './download.js';

export const BATCH_STATUSES = ['open', 'closed', 'fulfilled', 'reconciled', 'disputed'];

function totals(b) {
  return (b.totals || []).map((t) => `${formatMoney(t.amount, t.currency)} (${t.count ?? ''})`).join(', ') || '—';
}

export async function render(view, ctx, { args, params }) {
  if (args[0]) return renderOne(view, ctx, args[0]);
  const status = params.get('status') || '';
  const own = ctx.me.fulfiller; // a fulfiller key's own fulfiller: the server filters by it
  const fulfiller = own ? '' : (params.get('fulfiller') || '');
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const list = h('div', { class: 'list' });
  const sel = h('select', { id: 'b-status', name: 'status' }, h('option', { value: '' }, 'any'),
    BATCH_STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)));
  const ful = h('input', { id: 'b-fulfiller', name: 'fulfiller', value: fulfiller, size: 16 });
  const filter = h('form', { class: 'filters', role: 'search' }, h('label', { for: 'b-status' }, 'Status'), ' ', sel, ' ',
    own ? null : [h('label', { for: 'b-fulfiller' }, 'Fulfiller'), ' ', ful, ' '], h('button', { type: 'submit' }, 'Filter'));
  filter.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (sel.value) q.set('status', sel.value);
    if (!own && ful.value.trim()) q.set('fulfiller', ful.value.trim());
    ctx.go('#/batches' + (q.toString() ? '?' + q : ''));
  });
  const p = pager((after) => get('/v1/batches', { status, fulfiller, limit: 50, starting_after: after }),
    (rows) => clear(list, table({ caption: 'Batches', rows, empty: 'No batch matches.',
      columns: [
        { label: 'Batch', cell: (b) => link('#/batches/' + encodeURIComponent(b.id), b.id) },
        { label: 'Status', cell: (b) => badge(b.status) },
        { label: 'Fulfiller', cell: (b) => b.fulfiller },
        { label: 'Connector', cell: (b) => b.connector },
        { label: 'Rewards', num: true, cell: (b) => String(b.count) },
        { label: 'Totals', num: true, cell: totals },
        { label: 'Created', cell: (b) => time(b.created_at) },
      ] })),
    (e) => clear(messages, errorBox(e, ctx.role)));
  clear(view, h('h1', {}, 'Batches'), ctx.can('batches.write') ? createForm(ctx, messages) : null, filter, messages, list, p.nav);
  try {
    await p.first();
  } catch (e) {
    clear(list, errorBox(e, ctx.role));
  }
}

function createForm(ctx, messages) {
  const f = (id, label, attrs = {}) => [h('label', { for: id }, label), ' ', h('input', { id, name: id.slice(3), ...attrs }), ' '];
  const form = h('form', { class: 'create', 'aria-labelledby': 'nb-title' },
    h('h2', { id: 'nb-title' }, 'New batch'),
    h('p', { class: 'hint' }, 'Rolls every approved reward of one fulfiller (and connector, currency, up to a time) into an open batch.'),
    f('nb-fulfiller', 'Fulfiller', { required: true, size: 16, value: ctx.me.fulfiller || undefined,
      readonly: !!ctx.me.fulfiller }), f('nb-connector', 'Connector', { size: 10, placeholder: 'manual' }),
    f('nb-currency', 'Currency', { size: 4, maxlength: 5, pattern: '[A-Za-z]{3,5}' }), f('nb-until', 'Until', { type: 'datetime-local' }),
    h('button', { type: 'submit' }, 'Create batch'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { fulfiller: form.elements.fulfiller.value.trim() };
    if (form.elements.connector.value.trim()) body.connector = form.elements.connector.value.trim();
    if (form.elements.currency.value.trim()) body.currency = form.elements.currency.value.trim().toUpperCase();
    if (form.elements.until.value) body.until = new Date(form.elements.until.value).toISOString();
    try {
      const b = await post('/v1/batches', body);
      ctx.go('#/batches/' + encodeURIComponent(b.id));
    } catch (e) {
      clear(messages, errorBox(e, ctx.role));
    }
  });
  return form;
}

async function downloadCsv(ctx, id, messages) {
  try {
    const text = await api('GET', `/v1/batches/${encodeURIComponent(id)}/report.csv`, { text: true });
    download(text, `${id}.csv`);
  } catch (e) {
    clear(messages, errorBox(e, ctx.role));
  }
}

async function renderOne(view, ctx, id) {
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const body = h('div');
  clear(view, h('p', {}, link('#/batches', '← Batches')), h('h1', {}, 'Batch ', h('code', {}, id)), messages, body);
  const reload = () => load().catch((e) => clear(body, errorBox(e, ctx.role)));
  let lastResult = null; // the lines of a reconciliation run on this page, kept across the reload after it
  async function step(button, path, payload) {
    button.disabled = true;
    try {
      const b = await post(`/v1/batches/${encodeURIComponent(id)}/${path}`, payload);
      await reload();
      report(messages, notice(`Batch ${b.id} is now ${b.status}.`));
    } catch (e) {
      clear(messages, errorBox(e, ctx.role));
      button.disabled = false;
    }
  }
  async function load() {
    const b = await get('/v1/batches/' + encodeURIComponent(id));
    const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Batch actions' });
    if (ctx.can('batches.write')) {
      if (b.status === 'open') {
        const close = h('button', { type: 'button', id: 'batch-close' }, 'Close (exported to the fulfiller)');
        // a closed batch cannot be reopened: its rewards are fixed and it goes to the fulfiller
        close.addEventListener('click', () => confirmAction(close, {
          question: `Close this batch of ${b.count} reward${b.count === 1 ? '' : 's'} (${(b.totals || []).map((t) => formatMoney(t.amount, t.currency)).join(', ') || 'no amount'})? It cannot be reopened: no reward can be added or taken out.`,
          confirm: 'Close the batch',
          onConfirm: () => step(close, 'close'),
        }));
        actions.append(close, ' ');
      }
      if (b.status === 'open' || b.status === 'closed') {
        const ref = h('input', { id: 'batch-reference', name: 'reference', required: true, size: 16, placeholder: 'CM-1001' });
        const go = h('button', { type: 'submit' }, 'Mark fulfilled');
        const form = h('form', { class: 'inline-form' }, h('label', { for: 'batch-reference' }, 'Fulfiller\'s reference'), ' ', ref, ' ', go);
        form.addEventListener('submit', (ev) => { ev.preventDefault(); step(go, 'fulfill', { reference: ref.value.trim() }); });
        actions.append(form);
      }
    }
    const csv = h('button', { type: 'button', id: 'batch-csv' }, 'Download report CSV');
    csv.addEventListener('click', () => downloadCsv(ctx, id, messages));
    actions.append(' ', csv);
    const canReconcile = ctx.can('batches.reconcile') && (b.status === 'fulfilled' || b.status === 'disputed');
    clear(body,
      h('p', { class: 'status-line' }, badge(b.status)),
      facts([
        ['Fulfiller', b.fulfiller], ['Connector', b.connector], ['Currency', b.currency], ['Until', b.until ? time(b.until) : null],
        ['Rewards', String(b.count)], ['Totals', totals(b)], ['Reference', b.reference],
        ['By status', Object.entries(b.rewards_by_status || {}).map(([k, v]) => `${k} ${v}`).join(', ')],
        ['Created', time(b.created_at)], ['Created by', b.created_by], ['Closed', b.closed_at ? time(b.closed_at) : null],
        ['Fulfilled', b.fulfilled_at ? time(b.fulfilled_at) : null], ['Reconciled', b.reconciled_at ? time(b.reconciled_at) : null],
      ]),
      actions,
      b.reconciliation ? h('section', { 'aria-labelledby': 'b-last' }, h('h2', { id: 'b-last' }, 'Last reconciliation'),
        h('p', {}, badge(b.reconciliation.status), ` at `, time(b.reconciliation.at), ': ',
          ['matched', 'amount_mismatch', 'missing', 'unexpected', 'duplicate'].map((k) => `${b.reconciliation[k]} ${k.replace('_', ' ')}`).join(', '))) : null,
      canReconcile ? h('section', { 'aria-labelledby': 'b-rec' }, h('h2', { id: 'b-rec' }, 'Reconcile against the credit memo'),
        h('p', { class: 'hint' }, 'CSV with the header reward_id,amount,currency,reference (amounts in minor units or decimals).'),
        reconcileForm(ctx, { idPrefix: 'br', submitLabel: 'Reconcile batch', path: `/v1/batches/${encodeURIComponent(id)}/reconcile`,
          onResult: (res) => {
            clear(messages, notice(`Batch ${id} is ${res.status}.`));
            lastResult = res;
            return reload(); // the status, the last reconciliation and the next step change with it
          } })) : null,
      lastResult ? h('div', { class: 'recon-last' }, reconcileResult(lastResult)) : null,
      h('section', { 'aria-labelledby': 'b-rewards' }, h('h2', { id: 'b-rewards' }, 'Rewards'),
        h('ul', { class: 'ids' }, (b.rewards || []).map((r) => h('li', {},
          ctx.can('console.read') ? link('#/rewards/' + encodeURIComponent(r), r) : h('code', {}, r))))));
  }
  await reload();
}

export { reconcileResult };
