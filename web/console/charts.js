// charts.js - payouts over time (GET /v1/reports/payouts?group=day|week|month: what
// was earned against what was paid, per period and currency) and pending aging
// (GET /v1/reports/aging: pending and approved rewards by age bucket), each drawn as an
// SVG bar chart with the same numbers in a table beside it.

import { get } from './api.js';
import { barChart } from './svgchart.js';
import { clear, errorBox, h, notice, table } from './dom.js';
import { formatMoney } from './format.js';

export async function render(view, ctx, { params }) {
  const sections = [h('h1', {}, 'Charts')];
  const payouts = h('section', { id: 'payouts', 'aria-labelledby': 'ch-payouts' });
  const aging = h('section', { id: 'aging', 'aria-labelledby': 'ch-aging' });
  if (ctx.can('payouts.read')) sections.push(payouts);
  else sections.push(notice(`The payouts report is for admin, finance and auditor keys; yours is ${ctx.role}.`, 'info'));
  sections.push(aging);
  clear(view, ...sections);
  await Promise.all([ctx.can('payouts.read') ? payoutsChart(payouts, ctx, params) : null, agingChart(aging, ctx)]);
}

async function payoutsChart(section, ctx, params) {
  const group = params.get('group') || 'day';
  const groupSel = h('select', { id: 'p-group', name: 'group' }, ['day', 'week', 'month'].map((g) => h('option', { value: g, selected: g === group }, g)));
  const from = h('input', { id: 'p-from', name: 'from', type: 'date', value: params.get('from') || '' });
  const to = h('input', { id: 'p-to', name: 'to', type: 'date', value: params.get('to') || '' });
  const curSel = h('select', { id: 'p-currency', name: 'currency' });
  const out = h('div', { class: 'chart-out', 'aria-live': 'polite' });
  const form = h('form', { class: 'filters', 'aria-label': 'Payouts report' },
    h('label', { for: 'p-group' }, 'Per'), ' ', groupSel, ' ', h('label', { for: 'p-from' }, 'From'), ' ', from, ' ',
    h('label', { for: 'p-to' }, 'To'), ' ', to, ' ', h('button', { type: 'submit' }, 'Show'), ' ',
    h('label', { for: 'p-currency' }, 'Currency'), ' ', curSel);
  let report = null;
  const draw = () => {
    if (!report) return;
    const cur = curSel.value;
    const rows = cur === '*' ? report.converted : report.data.filter((r) => r.currency === cur);
    const money = (v) => formatMoney(v, cur === '*' ? report.reporting_currency : cur);
    const labels = rows.map((r) => r.period);
    clear(out,
      rows.length ? barChart({ title: `Payouts per ${report.group}${cur === '*' ? ` in ${report.reporting_currency}` : ` (${cur})`}: earned and paid`,
        labels, format: money, series: [
          { name: 'Earned (expected)', cls: 'bar-expected', values: rows.map((r) => BigInt(r.expected_amount)) },
          { name: 'Paid', cls: 'bar-paid', values: rows.map((r) => BigInt(r.actual_amount)) },
        ] }) : h('p', { class: 'empty' }, 'No payout in this window.'),
      cur === '*' && report.missing_rates.length ? notice(`Not converted (no FX rate): ${report.missing_rates.join(', ')}.`, 'info') : null,
      table({ caption: 'Payouts per period', rows, empty: '',
        columns: [
          { label: 'Period', cell: (r) => r.period },
          { label: 'Earned', num: true, cell: (r) => money(r.expected_amount) },
          { label: 'Paid', num: true, cell: (r) => money(r.actual_amount) },
          { label: 'Reconciled', num: true, cell: (r) => money(r.reconciled_amount) },
          { label: 'Difference', num: true, cell: (r) => (r.difference !== undefined ? money(r.difference) : money(BigInt(r.expected_amount) - BigInt(r.actual_amount))) },
        ] }));
  };
  const load = async () => {
    try {
      report = await get('/v1/reports/payouts', { group: groupSel.value, from: from.value, to: to.value });
      const currencies = [...new Set(report.data.map((r) => r.currency))].sort();
      const keep = curSel.value;
      clear(curSel, currencies.map((c) => h('option', { value: c }, c)),
        report.converted.length ? h('option', { value: '*' }, `all, in ${report.reporting_currency}`) : null);
      curSel.value = currencies.includes(keep) || keep === '*' ? keep
        : (currencies.includes(report.reporting_currency) ? report.reporting_currency : currencies[0] || '');
      draw();
    } catch (e) {
      clear(out, errorBox(e, ctx.role));
    }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  curSel.addEventListener('change', draw);
  clear(section, h('h2', { id: 'ch-payouts' }, 'Payouts over time'), form, out);
  await load();
}

async function agingChart(section, ctx) {
  const out = h('div', { class: 'chart-out' });
  clear(section, h('h2', { id: 'ch-aging' }, 'Pending aging'),
    h('p', { class: 'hint' }, 'Pending and approved rewards by days since they were created.'), out);
  try {
    const r = await get('/v1/reports/aging');
    const buckets = r.buckets;
    clear(out,
      barChart({ title: 'Pending and approved rewards by age in days', labels: buckets.map((b) => b + ' days'),
        format: (v) => String(v), series: [{ name: 'Rewards', cls: 'bar-aging', values: buckets.map((b) => BigInt(r.by_bucket[b] || 0)) }] }),
      table({ caption: 'Aging by status and reason', rows: r.data, empty: 'Nothing is pending or waiting.',
        columns: [
          { label: 'Status', cell: (x) => x.status },
          { label: 'Reason', cell: (x) => x.reason || '' },
          { label: 'Age (days)', cell: (x) => x.bucket },
          { label: 'Rewards', num: true, cell: (x) => String(x.count) },
          { label: 'Amount', num: true, cell: (x) => (x.currency ? formatMoney(x.amount, x.currency) : 'no amount') },
        ] }));
  } catch (e) {
    clear(out, errorBox(e, ctx.role));
  }
}
