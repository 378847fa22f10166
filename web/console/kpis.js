// kpis.js - the KPIs report (GET /v1/reports/kpis?from=&to=): payout accuracy from
// reconciliations, cycle time from earning to payment (p50, p95), cost per payout per
// connector and currency, and the size of the exception queue, as one table of the
// report's rows (metric, connector, currency, value) with the values in words.

import { get, query } from './api.js';
import { clear, errorBox, h, table } from './dom.js';
import { formatMoney, formatPercentBp } from './format.js';

const LABELS = {
  payout_accuracy_bp: 'Payout accuracy',
  cycle_time_p50_ms: 'Cycle time, median',
  cycle_time_p95_ms: 'Cycle time, 95th percentile',
  cost_per_payout: 'Cost per payout',
  exception_queue: 'Exception queue',
};

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(Number(ms) / 1000);
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${m} min`;
  return m ? `${m} min ${s % 60} s` : `${s} s`;
}

function value(r) {
  if (r.value === null || r.value === undefined) return '—';
  if (r.metric.endsWith('_bp')) return formatPercentBp(r.value);
  if (r.metric.endsWith('_ms')) return duration(r.value);
  if (r.metric === 'cost_per_payout') return formatMoney(r.value, r.currency);
  return String(r.value);
}

export async function render(view, ctx, { params }) {
  const from = h('input', { id: 'k-from', name: 'from', type: 'date', value: params.get('from') || '' });
  const to = h('input', { id: 'k-to', name: 'to', type: 'date', value: params.get('to') || '' });
  const form = h('form', { class: 'filters', 'aria-label': 'Window' }, h('label', { for: 'k-from' }, 'From'), ' ', from, ' ',
    h('label', { for: 'k-to' }, 'to'), ' ', to, ' ', h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    ctx.go('#/kpis' + query({ from: from.value, to: to.value }));
  });
  const out = h('div', { id: 'kpis-out' });
  clear(view, h('h1', {}, 'KPIs'), form, out);
  try {
    const rep = await get('/v1/reports/kpis', { from: params.get('from'), to: params.get('to') });
    clear(out, table({ caption: 'Key performance indicators', rows: rep.data, empty: 'No figure yet.',
      rowAttrs: (r) => ({ dataset: { metric: r.metric } }),
      columns: [
        { label: 'Metric', cell: (r) => LABELS[r.metric] || r.metric },
        { label: 'Connector', cell: (r) => r.connector || '' },
        { label: 'Currency', cell: (r) => r.currency || '' },
        { label: 'Value', num: true, cell: value },
      ] }),
    h('p', { class: 'hint' }, `Payout accuracy over ${rep.payout_accuracy.runs} reconciliation run(s); `,
      `cycle time over ${rep.cycle_time.count} paid reward(s).`));
  } catch (e) {
    clear(out, errorBox(e, ctx.role));
  }
}
