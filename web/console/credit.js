// credit.js - the credit-status report (GET /v1/reports/credit-status): per participant,
// fulfiller and currency, how many rewards and how much are new (approved, not in a
// batch), in a batch, fulfilled and reconciled. A fulfiller key sees its own fulfiller
// only (the server scopes it); the other roles may filter by fulfiller. CSV download.

import { api, get, query } from './api.js';
import { clear, errorBox, h, table } from './dom.js';
import { formatMoney } from './format.js';
import { download } from './download.js';

const STATES = [['new', 'New'], ['in_batch', 'In a batch'], ['fulfilled', 'Fulfilled'], ['reconciled', 'Reconciled']];

export async function render(view, ctx, { params }) {
  const own = ctx.me.fulfiller;
  const fulfiller = own || params.get('fulfiller') || '';
  const out = h('div', { id: 'credit-out', 'aria-live': 'polite' });
  const messages = h('div', { class: 'messages' });
  const input = h('input', { id: 'cs-fulfiller', name: 'fulfiller', value: fulfiller, size: 16 });
  const filter = own ? h('p', {}, `Fulfiller ${own}: the rewards your batches pay.`)
    : h('form', { class: 'filters', role: 'search' }, h('label', { for: 'cs-fulfiller' }, 'Fulfiller'), ' ', input, ' ',
      h('button', { type: 'submit' }, 'Filter'));
  if (!own) {
    filter.addEventListener('submit', (ev) => {
      ev.preventDefault();
      ctx.go('#/credit' + query({ fulfiller: input.value.trim() }));
    });
  }
  const csv = h('button', { type: 'button', id: 'credit-csv' }, 'Download CSV');
  csv.addEventListener('click', async () => {
    try {
      const text = await api('GET', '/v1/reports/credit-status' + query({ fulfiller: own ? '' : fulfiller, format: 'csv' }),
        { text: true });
      download(text, `credit-status${fulfiller ? '-' + fulfiller : ''}.csv`, 'text/csv');
    } catch (e) {
      clear(messages, errorBox(e, ctx.role));
    }
  });
  clear(view, h('h1', {}, 'Credit status'), filter, h('p', {}, csv), messages, out);
  try {
    const rep = await get('/v1/reports/credit-status', { fulfiller: own ? '' : fulfiller });
    clear(out, table({ caption: 'Rewards per participant, fulfiller and currency', rows: rep.data,
      empty: 'No reward is paid through a fulfiller yet.',
      rowAttrs: (r) => ({ dataset: { participant: r.participant, currency: r.currency } }),
      columns: [
        { label: 'Participant', cell: (r) => r.participant },
        { label: 'Fulfiller', cell: (r) => r.fulfiller },
        ...STATES.map(([k, label]) => ({ label, num: true,
          // rewards without a currency (codes, goods) have a count but no money amount
          cell: (r) => `${r.currency ? formatMoney(r[k + '_amount'], r.currency) : 'no amount'} (${r[k + '_count']})` })),
      ] }));
  } catch (e) {
    clear(out, errorBox(e, ctx.role));
  }
}
