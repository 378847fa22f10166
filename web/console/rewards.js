// rewards.js - rewards search (status, reason, participant, program, batch; 50 a page) and one
// reward's page: its fields, the actions its status allows, its history (every
// transition with actor and reason) and its explanation.

import { get } from './api.js';
import { actionBar } from './actions.js';
import { explanation } from './explain.js';
import { badge, clear, errorBox, facts, h, link, notice, pager, report, table, time } from './dom.js';
import { formatRewardValue } from './format.js';
import { reasonLabel } from './reasons.js';

export const STATUSES = ['pending', 'review', 'approved', 'issuing', 'fulfilled', 'reconciled', 'failed',
  'cancelled', 'reversed', 'expired'];
const FILTERS = ['status', 'reason', 'participant', 'program', 'batch'];

export async function render(view, ctx, { args, params }) {
  if (args[0]) return renderOne(view, ctx, args[0]);
  return renderSearch(view, ctx, params);
}

export function rewardColumns() {
  return [
    { label: 'Reward', cell: (r) => link('#/rewards/' + encodeURIComponent(r.id), r.id) },
    { label: 'Participant', cell: (r) => r.participant },
    { label: 'Program', cell: (r) => `${r.program} v${r.program_version}` },
    { label: 'Value', num: true, cell: (r) => formatRewardValue(r) },
    { label: 'Status', cell: (r) => [badge(r.status), r.reason ? h('span', { class: 'reason', title: r.reason }, ' ' + reasonLabel(r.reason)) : ''] },
    { label: 'Batch', cell: (r) => (r.batch ? link('#/batches/' + encodeURIComponent(r.batch), r.batch) : '—') },
    { label: 'Created', cell: (r) => time(r.created_at) },
  ];
}

async function renderSearch(view, ctx, params) {
  const values = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) || '']));
  const status = h('select', { id: 'f-status', name: 'status' },
    h('option', { value: '' }, 'any'), STATUSES.map((s) => h('option', { value: s, selected: s === values.status }, s)));
  const field = (name, label) => [h('label', { for: 'f-' + name }, label), ' ',
    h('input', { id: 'f-' + name, name, value: values[name], size: 18 }), ' '];
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Search rewards' },
    h('label', { for: 'f-status' }, 'Status'), ' ', status, ' ', field('reason', 'Reason'),
    field('participant', 'Participant'), field('program', 'Program'), field('batch', 'Batch'),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const f of FILTERS) {
      const v = form.elements[f].value.trim();
      if (v) q.set(f, v);
    }
    const s = q.toString();
    ctx.go('#/rewards' + (s ? '?' + s : ''));
  });
  const list = h('div', { class: 'list', 'aria-live': 'polite' });
  const messages = h('div', { class: 'messages' });
  const p = pager(
    (after) => get('/v1/rewards', { ...values, limit: 50, starting_after: after }),
    (rows) => clear(list, table({ caption: 'Rewards', rows, columns: rewardColumns(),
      rowAttrs: (r) => ({ dataset: { reward: r.id } }),
      empty: 'No reward matches these filters.' })),
    (e) => clear(messages, errorBox(e, ctx.role)));
  clear(view, h('h1', {}, 'Rewards'), form, messages, list, p.nav);
  try {
    await p.first();
  } catch (e) {
    clear(list, errorBox(e, ctx.role));
  }
}

async function renderOne(view, ctx, id) {
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const body = h('div');
  clear(view, h('p', {}, link('#/rewards', '← Rewards')), h('h1', {}, 'Reward ', h('code', {}, id)), messages, body);
  async function load() {
    const [r, ex] = await Promise.all([
      get('/v1/rewards/' + encodeURIComponent(id)),
      get(`/v1/rewards/${encodeURIComponent(id)}/explain`).catch((e) => ({ error: e })),
    ]);
    const actions = actionBar(ctx, r, {
      onDone: (got) => { report(messages, notice(`${got.id} is now ${got.status}${got.reason ? ` (${reasonLabel(got.reason)})` : ''}.`)); load().catch(show); },
      onError: (e) => clear(messages, errorBox(e, ctx.role)),
    });
    clear(body,
      h('section', { 'aria-labelledby': 'r-summary' }, h('h2', { id: 'r-summary' }, 'Summary'),
        h('p', { class: 'status-line' }, badge(r.status), r.reason ? h('span', { class: 'reason', title: r.reason }, ' ' + reasonLabel(r.reason)) : ''),
        facts([
          ['Value', formatRewardValue(r)],
          ['Participant', r.participant + (r.role ? ` (${r.role})` : '')],
          ['Program', `${r.program} version ${r.program_version}`],
          ['Type', r.type],
          ['Referral', r.referral],
          ['Conversion', r.conversion],
          ['Code', r.code],
          ['Connector', r.connector],
          ['Fulfiller', r.fulfiller],
          ['Batch', r.batch ? link('#/batches/' + encodeURIComponent(r.batch), r.batch) : null],
          ['External reference', r.external_reference],
          ['Hold until', r.hold_until ? time(r.hold_until) : null],
          ['Release at', r.release_at ? time(r.release_at) : null],
          ['Expires', r.expires_at ? time(r.expires_at) : null],
          ['Attempts', r.attempts ? String(r.attempts) : null],
          ['Last error', r.last_error ? h('span', { class: 'last-error' }, r.last_error) : null],
          ['Signals', (r.signals || []).length ? r.signals.map((s) => s.signal || s).join(', ') : null],
          ['Created', time(r.created_at)],
          ['Updated', time(r.updated_at)],
          ['Fulfilled', r.fulfilled_at ? time(r.fulfilled_at) : null],
        ]),
        actions || (ctx.can('rewards.act') ? h('p', { class: 'hint' }, `No action applies to a ${r.status} reward.`) : null)),
      h('section', { 'aria-labelledby': 'r-history', class: 'history' }, h('h2', { id: 'r-history' }, 'History'),
        table({ caption: 'Every transition of this reward', rows: r.history || [], empty: 'No history.',
          columns: [
            { label: 'When', cell: (x) => time(x.at) },
            { label: 'From', cell: (x) => x.from },
            { label: 'To', cell: (x) => badge(x.to) },
            { label: 'By', cell: (x) => x.actor },
            { label: 'Reason', cell: (x) => x.reason || '' },
          ] })),
      h('section', { 'aria-labelledby': 'r-why', class: 'why' }, h('h2', { id: 'r-why' }, 'Why'),
        ex.error ? errorBox(ex.error, ctx.role) : explanation(ex.explanation, r.currency)));
  }
  const show = (e) => clear(body, errorBox(e, ctx.role));
  await load().catch(show);
}
