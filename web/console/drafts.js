// drafts.js - writing programs (SPEC.md section 3, "Governance"; admin and operator):
// a program document edited as JSON and saved as a new draft version
// (PUT /v1/programs/{id}: 201 {"id","version","status":"draft"}), the server's
// validation error shown with the field it names (`param`, e.g. rewards[0].amount);
// and a version simulated against past events (POST .../versions/{n}/simulate: what
// the window's conversions would have earned, beside what they did). Approving and
// activating a draft is programs.js's (admin).

import { ApiError, api, post } from './api.js';
import { clear, describeError, h, table } from './dom.js';
import { formatMoney } from './format.js';

export const TEMPLATE = {
  name: 'Give $20, get $20', currency: 'USD', trigger: 'conversion',
  eligibility: { '>=': [{ var: 'conversion.amount' }, 5000] },
  rewards: [{ to: 'referrer', type: 'credit', amount: 2000 }, { to: 'referred', type: 'credit', amount: 2000 }],
  hold_days: 30, schedule: 'immediate', fulfillment: { credit: 'ledger' },
};

// An error under the document: the server's words and the field they are about.
function draftError(err, role) {
  return h('div', { class: 'alert error draft-error', role: 'alert', dataset: { param: err.param || '', code: err.code || '' } },
    err.param ? [h('strong', {}, 'Field ', h('code', {}, err.param)), ': '] : null, describeError(err, role));
}

// The editor: `id` fixed (a version of an existing program) or asked for (a new one).
// onSaved({id, version, status}).
export function draftEditor(ctx, { id, doc, onSaved }) {
  const idInput = id ? null : h('input', { id: 'draft-id', name: 'id', required: true, size: 20, pattern: '[A-Za-z0-9_.-]+',
    placeholder: 'give20get20' });
  const text = h('textarea', { id: 'draft-doc', name: 'document', rows: 18, cols: 80, spellcheck: 'false',
    'aria-describedby': 'draft-help' });
  text.value = JSON.stringify(doc || TEMPLATE, null, 2);
  const out = h('div', { class: 'draft-out', 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', id: 'draft-save' }, 'Save as a new draft version');
  const form = h('form', { class: 'draft', 'aria-label': id ? `New version of ${id}` : 'New program' },
    idInput ? h('p', {}, h('label', { for: 'draft-id' }, 'Program id'), ' ', idInput) : null,
    h('p', { id: 'draft-help', class: 'hint' }, 'The program document as JSON (docs/programs.md). Saving creates a draft ',
      'version; an admin approves it (a second admin when it changes payout economics) and activates it.'),
    h('label', { for: 'draft-doc' }, 'Document'), text, h('p', {}, save), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(out);
    let body;
    try {
      body = JSON.parse(text.value);
    } catch (e) {
      clear(out, h('div', { class: 'alert error draft-error', role: 'alert', dataset: { param: '' } },
        `The document is not JSON: ${e.message}`));
      return;
    }
    const pid = id || idInput.value.trim();
    if (body && typeof body === 'object' && !Array.isArray(body) && body.id === undefined) body = { id: pid, ...body };
    save.disabled = true;
    try {
      const got = await api('PUT', '/v1/programs/' + encodeURIComponent(pid), { body });
      clear(out, h('div', { class: 'alert ok', role: 'status' }, `Saved ${got.id} version ${got.version} as a ${got.status}.`));
      if (onSaved) await onSaved(got);
    } catch (e) {
      clear(out, e instanceof ApiError ? draftError(e, ctx.role) : String(e));
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function amounts(a) {
  return (a.amounts || []).map((x) => formatMoney(x.amount, x.currency)).join(', ') || '—';
}

// Simulate one of `versions` over a window.
export function simulator(ctx, id, versions, latest) {
  const sel = h('select', { id: 'sim-version', name: 'version' }, versions.map((v) =>
    h('option', { value: v.version, selected: v.version === latest }, `v${v.version} (${v.status})`)));
  const from = h('input', { id: 'sim-from', name: 'from', type: 'date', required: true });
  const to = h('input', { id: 'sim-to', name: 'to', type: 'date' });
  const out = h('div', { class: 'sim-out', 'aria-live': 'polite' });
  const form = h('form', { class: 'filters simulate', 'aria-label': 'Simulate a version' },
    h('label', { for: 'sim-version' }, 'Version'), ' ', sel, ' ', h('label', { for: 'sim-from' }, 'from'), ' ', from, ' ',
    h('label', { for: 'sim-to' }, 'to'), ' ', to, ' ', h('button', { type: 'submit' }, 'Simulate'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { from: from.value };
    if (to.value) body.to = to.value;
    try {
      const s = await post(`/v1/programs/${encodeURIComponent(id)}/versions/${sel.value}/simulate`, body);
      clear(out, h('div', { class: 'simulation', dataset: { conversions: s.conversions } },
        h('p', {}, `Version ${s.version} over ${s.conversions} conversion(s): would have earned `,
          h('strong', { class: 'sim-simulated' }, `${s.simulated.rewards} reward(s), ${amounts(s.simulated)}`),
          '; earned ', h('strong', { class: 'sim-actual' }, `${s.actual.rewards} reward(s), ${amounts(s.actual)}`), '.'),
        table({ caption: 'Conversions that would come out differently', rows: s.changes, empty: 'No conversion would change.',
          rowAttrs: (c) => ({ dataset: { conversion: c.conversion } }),
          columns: [
            { label: 'Conversion', cell: (c) => c.conversion },
            { label: 'Earned', num: true, cell: (c) => `${amounts(c.actual)} (${c.actual.rewards})` },
            { label: 'Would earn', num: true, cell: (c) => `${amounts(c.simulated)} (${c.simulated.rewards})` },
          ] })));
    } catch (e) {
      clear(out, e instanceof ApiError ? draftError(e, ctx.role) : String(e));
    }
  });
  return h('div', {}, h('p', { class: 'hint' }, 'Replays the window\'s referral and conversion events against the version; nothing is stored.'),
    form, out);
}
