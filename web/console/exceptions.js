// exceptions.js - the exception queue: what needs a person beyond review.
// - failed rewards (attempts exhausted or a permanent error), with retry and cancel;
// - rewards whose delivery outcome is unknown (a call went out without an answer:
//   approved with reason outcome_unknown; the worker settles them with the same
//   idempotency key), and rewards held by an unavailable connector or an empty code
//   pool (they resume by themselves), asked for by reason
//   (GET /v1/rewards?status=approved&reason=...: the server reads them from an index);
// - disputed batches (reconciliation found discrepancies) for roles that read batches;
// - connectors whose circuit breaker is open, for roles that read connectors.

import { get } from './api.js';
import { actionBar } from './actions.js';
import { badge, clear, errorBox, h, link, notice, pager, report, table, time } from './dom.js';
import { formatRewardValue } from './format.js';

const HELD_REASONS = ['outcome_unknown', 'connector_unavailable', 'pool_empty'];
const HELD_LIMIT = 200; // per reason; more is said, not shown

export async function render(view, ctx) {
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const failed = h('div', { id: 'ex-failed' });
  const held = h('div', { id: 'ex-held' });
  const disputed = h('div', { id: 'ex-disputed' });
  const breakers = h('div', { id: 'ex-breakers' });
  const p = pager((after) => get('/v1/rewards', { status: 'failed', limit: 50, starting_after: after }),
    (rows) => clear(failed, table({ caption: 'Failed rewards', rows, empty: 'No failed reward.',
      rowAttrs: (r) => ({ dataset: { reward: r.id } }),
      columns: [
        { label: 'Reward', cell: (r) => link('#/rewards/' + encodeURIComponent(r.id), r.id) },
        { label: 'Participant', cell: (r) => r.participant },
        { label: 'Value', num: true, cell: (r) => formatRewardValue(r) },
        { label: 'Connector', cell: (r) => r.connector },
        { label: 'Attempts', num: true, cell: (r) => String(r.attempts ?? '') },
        { label: 'Last error', cell: (r) => h('span', { class: 'last-error' }, r.last_error || r.reason || '') },
        { label: 'Since', cell: (r) => time(r.updated_at) },
        ...(ctx.can('rewards.act') ? [{ label: 'Actions', cell: (r) => actionBar(ctx, r, { only: ['retry', 'cancel'],
          onDone: (got) => { report(messages, notice(`${got.id} is now ${got.status}.`)); p.reload().catch(show(failed)); },
          onError: (e) => clear(messages, errorBox(e, ctx.role)) }) }] : []),
      ] })),
    (e) => clear(messages, errorBox(e, ctx.role)));
  const show = (region) => (e) => clear(region, errorBox(e, ctx.role));

  clear(view, h('h1', {}, 'Exceptions'), messages,
    h('section', { 'aria-labelledby': 'ex-h-failed' }, h('h2', { id: 'ex-h-failed' }, 'Failed rewards'),
      h('p', { class: 'hint' }, 'Retry sends a failed reward back to fulfilment (same idempotency key: never paid twice); cancel gives up on it.'),
      failed, p.nav),
    h('section', { 'aria-labelledby': 'ex-h-held' }, h('h2', { id: 'ex-h-held' }, 'Outcome unknown, or held by a connector or code pool'), held),
    ctx.can('batches.read') ? h('section', { 'aria-labelledby': 'ex-h-disputed' }, h('h2', { id: 'ex-h-disputed' }, 'Disputed batches'), disputed) : null,
    ctx.can('connectors.read') ? h('section', { 'aria-labelledby': 'ex-h-breakers' }, h('h2', { id: 'ex-h-breakers' }, 'Connectors'), breakers) : null);

  await Promise.all([
    p.first().catch(show(failed)),
    loadHeld().then(({ rows, more }) => clear(held, table({ caption: 'Approved rewards waiting on a connector', rows,
      empty: 'None: no delivery outcome is unknown and no connector or code pool holds rewards.',
      rowAttrs: (r) => ({ dataset: { reward: r.id, reason: r.reason } }),
      columns: [
        { label: 'Reward', cell: (r) => link('#/rewards/' + encodeURIComponent(r.id), r.id) },
        { label: 'Participant', cell: (r) => r.participant },
        { label: 'Value', num: true, cell: (r) => formatRewardValue(r) },
        { label: 'Reason', cell: (r) => badge(r.reason) },
        { label: 'Connector', cell: (r) => r.connector },
        { label: 'Last error', cell: (r) => r.last_error || '' },
        { label: 'Since', cell: (r) => time(r.updated_at) },
      ] }), more.length ? h('p', { class: 'hint' }, `More than ${HELD_LIMIT} rewards with reason `,
        more.map((r, i) => [i ? ', ' : '', link(`#/rewards?status=approved&reason=${r}`, r)]), ': the rewards screen lists them all.') : null)).catch(show(held)),
    ctx.can('batches.read') ? get('/v1/batches', { status: 'disputed', limit: 100 }).then((res) => clear(disputed,
      table({ caption: 'Batches whose reconciliation found discrepancies', rows: res.data, empty: 'No disputed batch.',
        columns: [
          { label: 'Batch', cell: (b) => link('#/batches/' + encodeURIComponent(b.id), b.id) },
          { label: 'Fulfiller', cell: (b) => b.fulfiller },
          { label: 'Discrepancies', cell: (b) => (b.reconciliation ? ['amount_mismatch', 'missing', 'unexpected', 'duplicate']
            .filter((k) => b.reconciliation[k]).map((k) => `${b.reconciliation[k]} ${k.replace('_', ' ')}`).join(', ') : '') },
          { label: 'Reconciled', cell: (b) => time(b.reconciliation && b.reconciliation.at) },
        ] }))).catch(show(disputed)) : null,
    ctx.can('connectors.read') ? get('/v1/connectors', { limit: 1000 }).then((res) => clear(breakers,
      table({ caption: 'Connectors and their circuit breakers', rows: res.data, empty: 'No external connector is configured.',
        columns: [
          { label: 'Connector', cell: (c) => c.id },
          { label: 'Type', cell: (c) => c.type },
          { label: 'Breaker', cell: (c) => badge((c.breaker && c.breaker.state) || 'closed') },
          { label: 'Failures', num: true, cell: (c) => String((c.breaker && c.breaker.failures) || 0) },
          { label: 'Open until', cell: (c) => time(c.breaker && c.breaker.open_until) },
        ] }))).catch(show(breakers)) : null,
  ]);
}

// The approved rewards with each held reason, one filtered request per reason.
async function loadHeld() {
  const pages = await Promise.all(HELD_REASONS.map((reason) =>
    get('/v1/rewards', { status: 'approved', reason, limit: HELD_LIMIT })));
  return {
    rows: pages.flatMap((p) => p.data),
    more: HELD_REASONS.filter((_, i) => pages[i].has_more),
  };
}
