// taxfx.js - finance settings (docs/finance.md): tax-report thresholds per country
// (PUT /v1/settings/tax/thresholds/{country} {"amount","currency"}), the reportable
// reward types (PUT /v1/settings/tax/reportable-types {"types"}), and the FX rates into
// the reporting currency (PUT /v1/fx-rates {"reporting","rates"}: decimal strings).
// Admin and finance edit; auditors read. Amounts are typed as decimals and sent as
// integer minor units, converted on the digits (no binary float).

import { api, get } from './api.js';
import { clear, errorBox, h, notice, table, time } from './dom.js';
import { formatMoney, toMinorUnits } from './format.js';

const TYPES = ['credit', 'percent_discount', 'coupon', 'gift_card', 'cash', 'points', 'custom'];

export async function render(view, ctx) {
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const tax = h('div', { id: 'tax-settings' });
  const fx = h('div', { id: 'fx-rates' });
  const write = ctx.can('tax.write');
  const say = (node) => clear(messages, node);
  const fail = (e) => say(errorBox(e, ctx.role));
  clear(view, h('h2', {}, 'Tax and FX rates'), messages, h('h3', {}, 'Tax reporting'), tax, h('h3', {}, 'FX rates'), fx);

  async function loadTax() {
    const t = await get('/v1/settings/tax');
    const nodes = [table({ caption: 'Thresholds per country (a participant\'s yearly total at or above it is reported)',
      rows: t.thresholds, empty: 'No threshold.', rowAttrs: (r) => ({ dataset: { country: r.country } }),
      columns: [
        { label: 'Country', cell: (r) => r.country },
        { label: 'Threshold', num: true, cell: (r) => formatMoney(r.amount, r.currency) },
      ] }),
    h('p', {}, 'Reportable reward types: ', h('span', { id: 'reportable-types' }, t.reportable_types.join(', ') || 'none'))];
    if (write) nodes.push(thresholdForm(), typesForm(t.reportable_types));
    clear(tax, nodes);
  }
  function thresholdForm() {
    const country = h('input', { id: 'tt-country', name: 'country', required: true, size: 3, maxlength: 2, placeholder: 'US' });
    const amount = h('input', { id: 'tt-amount', name: 'amount', required: true, size: 10, inputmode: 'decimal', placeholder: '600.00' });
    const currency = h('input', { id: 'tt-currency', name: 'currency', required: true, size: 4, value: 'USD' });
    const form = h('form', { class: 'threshold-form' }, h('label', { for: 'tt-country' }, 'Country'), ' ', country, ' ',
      h('label', { for: 'tt-amount' }, 'Threshold'), ' ', amount, ' ', h('label', { for: 'tt-currency' }, 'Currency'), ' ', currency, ' ',
      h('button', { type: 'submit' }, 'Set threshold'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const cur = currency.value.trim().toUpperCase();
      const minor = toMinorUnits(amount.value, cur);
      if (minor === null) return say(h('div', { class: 'alert error', role: 'alert' }, `${amount.value} is not an amount of ${cur}.`));
      try {
        await api('PUT', '/v1/settings/tax/thresholds/' + encodeURIComponent(country.value.trim().toUpperCase()),
          { body: { amount: Number(minor), currency: cur } });
        say(notice(`Threshold for ${country.value.trim().toUpperCase()} set.`));
        await loadTax();
      } catch (e) {
        fail(e);
      }
    });
    return form;
  }
  function typesForm(current) {
    const boxes = TYPES.map((t) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'types', value: t,
      checked: current.includes(t) }), ' ', t));
    const form = h('form', { class: 'types-form' }, h('fieldset', {}, h('legend', {}, 'Reportable reward types'), boxes.flatMap((b) => [b, ' '])),
      h('button', { type: 'submit' }, 'Save types'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const types = [...form.querySelectorAll('input[name=types]:checked')].map((b) => b.value);
      try {
        await api('PUT', '/v1/settings/tax/reportable-types', { body: { types } });
        say(notice('Reportable types saved.'));
        await loadTax();
      } catch (e) {
        fail(e);
      }
    });
    return form;
  }

  async function loadFx() {
    const r = await get('/v1/fx-rates');
    const nodes = [h('p', {}, 'Reporting currency: ', h('strong', { id: 'fx-reporting' }, r.reporting_currency || '—')),
      table({ caption: 'Rates into the reporting currency', rows: r.data, empty: 'No FX rate.',
        rowAttrs: (x) => ({ dataset: { currency: x.currency } }),
        columns: [
          { label: 'Currency', cell: (x) => x.currency },
          { label: 'Rate', num: true, cell: (x) => `1 ${x.currency} = ${x.rate} ${x.reporting}` },
          { label: 'Updated', cell: (x) => time(x.updated_at) },
        ] })];
    if (write) nodes.push(fxForm(r.reporting_currency));
    clear(fx, nodes);
  }
  function fxForm(reporting) {
    const rep = h('input', { id: 'fx-rep', name: 'reporting', required: true, size: 5, value: reporting || 'USD' });
    const rates = h('textarea', { id: 'fx-lines', name: 'rates', rows: 4, cols: 30, spellcheck: 'false', placeholder: 'EUR 1.0845\nGBP 1.27' });
    const form = h('form', { class: 'fx-form' }, h('p', {}, h('label', { for: 'fx-rep' }, 'Reporting currency'), ' ', rep),
      h('label', { for: 'fx-lines' }, 'Rates, one "CUR rate" a line'), rates, h('p', {}, h('button', { type: 'submit' }, 'Save rates')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const out = {};
      for (const line of rates.value.split('\n').map((l) => l.trim()).filter(Boolean)) {
        const [cur, rate] = line.split(/[\s=:,]+/);
        out[(cur || '').toUpperCase()] = rate ?? '';
      }
      try {
        await api('PUT', '/v1/fx-rates', { body: { reporting: rep.value.trim().toUpperCase(), rates: out } });
        say(notice('FX rates saved.'));
        await loadFx();
      } catch (e) {
        fail(e);
      }
    });
    return form;
  }
  await Promise.all([loadTax().catch((e) => clear(tax, errorBox(e, ctx.role))),
    loadFx().catch((e) => clear(fx, errorBox(e, ctx.role)))]);
}
