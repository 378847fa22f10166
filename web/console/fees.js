// fees.js - payout fees (docs/finance.md "Fees"): what one payout through a connector
// costs in one currency, a fixed amount plus a percent of the payout, which the
// cost-per-payout KPI uses. GET /v1/fees lists them; admin and finance set one
// (PUT /v1/fees/{connector} {"currency","fixed_amount","percent_bp"}) and delete one
// (the same PUT with both 0: the API's way to remove a fee); auditors read. The fixed
// amount is typed as a decimal of the currency and the percent with up to two decimals;
// both are sent as integers (minor units, basis points) cut from the digits, never
// through a binary float. A validation error is shown beside the field it names
// (`param`, the form's field names being the API's).

import { api, get } from './api.js';
import { clear, confirmAction, describeError, errorBox, h, notice, table, time } from './dom.js';
import { bpFromPercent, decimalString, formatMoney, formatPercentBp, percentFromBp, toMinorUnits } from './format.js';

// Forget the field errors of `form`.
function clearFieldErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) el.remove();
  for (const el of form.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-describedby');
  }
}

// `err` ({message, param} or an ApiError) beside the form field named by its param;
// false when the form has no such field (the caller shows it elsewhere).
function showFieldError(form, err, role) {
  clearFieldErrors(form);
  const input = err.param ? form.elements.namedItem(err.param) : null;
  if (!input) return false;
  const id = input.id + '-error';
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', id);
  input.after(h('span', { id, class: 'field-error', role: 'alert', dataset: { param: err.param, code: err.code || '' } },
    describeError(err, role)));
  input.focus();
  return true;
}

export async function render(view, ctx) {
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const list = h('div', { id: 'fees-list' });
  const editor = h('div', { id: 'fee-editor' });
  const write = ctx.can('fees.write');
  const say = (node) => clear(messages, node);
  clear(view, h('h2', {}, 'Payout fees'),
    h('p', { class: 'hint' }, 'The cost of one payout through a connector: a fixed amount plus a percent of the payout. ',
      'The cost-per-payout KPI uses it; payouts in a currency without a fee have no cost.'),
    messages, list, editor);

  async function load() {
    const res = await get('/v1/fees');
    clear(list, table({ caption: 'Fees per connector and currency', rows: res.data, empty: 'No payout fee is set.',
      rowAttrs: (f) => ({ dataset: { connector: f.connector, currency: f.currency } }),
      columns: [
        { label: 'Connector', cell: (f) => f.connector },
        { label: 'Currency', cell: (f) => f.currency },
        { label: 'Fixed', num: true, cell: (f) => h('span', { class: 'fixed' }, formatMoney(f.fixed_amount, f.currency)) },
        { label: 'Percent', num: true, cell: (f) => h('span', { class: 'percent' }, formatPercentBp(f.percent_bp)) },
        { label: 'Updated', cell: (f) => time(f.updated_at) },
        ...(write ? [{ label: 'Actions', cell: (f) => h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'edit-fee', 'aria-label': `Edit the ${f.currency} fee of ${f.connector}`,
            onclick: () => edit(f) }, 'Edit'), ' ',
          h('button', { type: 'button', class: 'delete-fee', 'aria-label': `Delete the ${f.currency} fee of ${f.connector}`,
            onclick: (ev) => confirmAction(ev.currentTarget, {
              question: `Delete the ${f.currency} fee of ${f.connector}? Its payouts then cost nothing in the KPIs.`,
              confirm: 'Delete the fee', onConfirm: (b) => remove(b, f) }) }, 'Delete')) }] : []),
      ] }));
  }
  async function remove(button, f) {
    button.disabled = true;
    try {
      await api('PUT', '/v1/fees/' + encodeURIComponent(f.connector),
        { body: { currency: f.currency, fixed_amount: 0, percent_bp: 0 } });
      say(notice(`The ${f.currency} fee of ${f.connector} is deleted.`));
      await load();
    } catch (e) {
      say(errorBox(e, ctx.role));
      button.disabled = false;
    }
  }
  // The form for a new fee (f null) or one to update (its connector and currency fixed).
  function edit(f) {
    const connector = h('input', { id: 'fee-connector', name: 'connector', required: true, size: 16, maxlength: 31,
      placeholder: 'stripe', value: f ? f.connector : '', readonly: !!f });
    const currency = h('input', { id: 'fee-currency', name: 'currency', required: true, size: 5, maxlength: 5,
      value: f ? f.currency : 'USD', readonly: !!f });
    const fixed = h('input', { id: 'fee-fixed', name: 'fixed_amount', required: true, size: 10, inputmode: 'decimal',
      placeholder: '0.30', value: f ? decimalString(f.fixed_amount, f.currency) : '' });
    const percent = h('input', { id: 'fee-percent', name: 'percent_bp', required: true, size: 6, inputmode: 'decimal',
      placeholder: '2.9', value: f ? percentFromBp(f.percent_bp) : '' });
    const save = h('button', { type: 'submit' }, 'Save fee');
    const form = h('form', { class: 'create fee-form', 'aria-labelledby': 'fee-title' },
      h('h3', { id: 'fee-title' }, f ? `Update the ${f.currency} fee of ${f.connector}` : 'New fee'),
      h('label', { for: 'fee-connector' }, 'Connector'), ' ', connector, ' ',
      h('label', { for: 'fee-currency' }, 'Currency'), ' ', currency, ' ',
      h('label', { for: 'fee-fixed' }, 'Fixed amount'), ' ', fixed, ' ',
      h('label', { for: 'fee-percent' }, 'Percent'), ' ', h('span', { class: 'with-unit' }, percent, ' %'), ' ',
      save, ' ', h('button', { type: 'button', onclick: () => clear(editor, newButton()) }, 'Cancel'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      const cur = currency.value.trim().toUpperCase();
      const minor = toMinorUnits(fixed.value, cur);
      if (minor === null) {
        return showFieldError(form, { param: 'fixed_amount', message: `${fixed.value} is not an amount of ${cur}.` });
      }
      const bp = bpFromPercent(percent.value);
      if (bp === null) {
        return showFieldError(form, { param: 'percent_bp', message: `${percent.value} is not a percent with at most two decimals.` });
      }
      const id = connector.value.trim();
      save.disabled = true;
      try {
        await api('PUT', '/v1/fees/' + encodeURIComponent(id),
          { body: { currency: cur, fixed_amount: Number(minor), percent_bp: Number(bp) } });
        say(notice(`The ${cur} fee of ${id} is saved.`));
        clear(editor, newButton());
        await load();
      } catch (e) {
        if (showFieldError(form, e, ctx.role)) say();
        else say(errorBox(e, ctx.role));
      } finally {
        save.disabled = false;
      }
    });
    say();
    clear(editor, form);
    (f ? fixed : connector).focus();
  }
  const newButton = () => (write ? h('button', { type: 'button', id: 'new-fee', onclick: () => edit(null) }, 'New fee') : '');
  clear(editor, newButton());
  await load().catch((e) => clear(list, errorBox(e, ctx.role)));
}
