// review.js - the review queue: rewards in status "review" (SPEC.md section 7), newest
// last, 50 a page, filtered by program and by reason (GET /v1/rewards?reason=). Operators
// and admins approve or reject them one by one or in bulk (POST /v1/rewards/review
// answers per id); other roles see the queue read-only. A reward held because its
// participant is blocked is labelled as such (reasons.js): approving it is refused until
// the participant is unblocked.

import { get, post } from './api.js';
import { actionBar } from './actions.js';
import { clear, confirmAction, errorBox, h, link, notice, pager, report, table, time } from './dom.js';
import { formatRewardValue } from './format.js';
import { BLOCKED, REVIEW_REASONS, reasonBadge, reasonLabel } from './reasons.js';

export async function render(view, ctx, { params }) {
  const program = params.get('program') || '';
  const why = params.get('reason') || '';
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const list = h('div', { class: 'list' });
  const selected = new Set();
  const programInput = h('input', { id: 'review-program', name: 'program', value: program, size: 16 });
  // a reason typed into the address that is not in the list still filters, and shows
  const reasons = REVIEW_REASONS.includes(why) || !why ? REVIEW_REASONS : [...REVIEW_REASONS, why];
  const reasonSelect = h('select', { id: 'review-reason', name: 'reason' }, h('option', { value: '' }, 'any'),
    reasons.map((r) => h('option', { value: r, selected: r === why }, reasonLabel(r))));
  const filter = h('form', { class: 'filters', role: 'search' },
    h('label', { for: 'review-program' }, 'Program'), ' ', programInput, ' ',
    h('label', { for: 'review-reason' }, 'Reason'), ' ', reasonSelect, ' ',
    h('button', { type: 'submit' }, 'Filter'));
  filter.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (programInput.value.trim()) q.set('program', programInput.value.trim());
    if (reasonSelect.value) q.set('reason', reasonSelect.value);
    const s = q.toString();
    ctx.go('#/review' + (s ? '?' + s : ''));
  });
  const blockedHint = why === BLOCKED
    ? h('p', { class: 'hint' }, 'These rewards\' participants are blocked: approving one is refused until its participant is unblocked; rejecting one cancels it.')
    : null;

  const reason = h('input', { id: 'bulk-reason', name: 'reason', type: 'text', maxlength: 500, size: 30 });
  const approveAll = h('button', { type: 'button', id: 'bulk-approve', disabled: true }, 'Approve selected');
  const rejectAll = h('button', { type: 'button', id: 'bulk-reject', disabled: true }, 'Reject selected');
  const bulk = ctx.can('rewards.act')
    ? h('div', { class: 'bulk', role: 'group', 'aria-label': 'Bulk review' },
      approveAll, ' ', rejectAll, ' ', h('label', { for: 'bulk-reason' }, 'Reason'), ' ', reason)
    : notice(`Your key's role (${ctx.role}) can see the queue but not approve or reject.`, 'info');
  const syncBulk = () => {
    // a changed selection withdraws an open "Reject n rewards?" question
    const asking = rejectAll.nextElementSibling;
    if (asking && asking.classList.contains('confirm')) asking.remove();
    rejectAll.hidden = false;
    approveAll.disabled = rejectAll.disabled = selected.size === 0;
    clear(approveAll, `Approve selected (${selected.size})`);
    clear(rejectAll, `Reject selected (${selected.size})`);
  };

  const p = pager(
    (after) => get('/v1/rewards', { status: 'review', program, reason: why, limit: 50, starting_after: after }),
    (rows) => {
      selected.clear();
      syncBulk();
      clear(list, table({
        caption: 'Rewards waiting for review',
        empty: why ? `No reward is in review with reason ${reasonLabel(why)}.` : 'The review queue is empty: no reward is waiting for a person.',
        rows,
        rowAttrs: (r) => ({ dataset: { reward: r.id, reason: r.reason || '' } }),
        columns: [
          ...(ctx.can('rewards.act') ? [{ label: 'Select', cell: (r) => h('input', { type: 'checkbox', 'aria-label': `Select ${r.id}`,
            onchange: (ev) => { if (ev.target.checked) selected.add(r.id); else selected.delete(r.id); syncBulk(); } }) }] : []),
          { label: 'Reward', cell: (r) => link('#/rewards/' + encodeURIComponent(r.id), r.id) },
          { label: 'Participant', cell: (r) => r.participant },
          { label: 'Program', cell: (r) => `${r.program} v${r.program_version}` },
          { label: 'Value', num: true, cell: (r) => formatRewardValue(r) },
          { label: 'Why review', cell: (r) => [reasonBadge(r.reason || 'review'), ...(r.signals || []).map((s) => [' ', h('span', { class: 'signal' }, s.signal || s)])] },
          { label: 'Created', cell: (r) => time(r.created_at) },
          ...(ctx.can('rewards.act') ? [{ label: 'Actions', cell: (r) => actionBar(ctx, r, {
            only: ['approve', 'reject'],
            onDone: (got) => { report(messages, notice(`${got.id} is now ${got.status}.`)); reload(); },
            onError: (e) => clear(messages, errorBox(e, ctx.role)),
          }) }] : []),
        ],
      }));
    },
    (e) => clear(messages, errorBox(e, ctx.role)));

  // after an action: the same page again (an operator working through page 3 stays there)
  async function reload(first = false) {
    try {
      await (first ? p.first() : p.reload());
    } catch (e) {
      clear(list, errorBox(e, ctx.role));
    }
  }

  async function decide(kind, ids = [...selected]) {
    const body = kind === 'approve' ? { approve: ids } : { reject: ids };
    if (reason.value.trim()) body.reason = reason.value.trim();
    approveAll.disabled = rejectAll.disabled = true;
    try {
      const res = await post('/v1/rewards/review', body);
      const failed = res.results.filter((x) => !x.ok);
      report(messages, h('div', {},
        notice(`${res.approved} approved, ${res.rejected} rejected${failed.length ? `, ${failed.length} failed` : ''}.`),
        failed.length ? h('ul', { class: 'alert error', role: 'alert' },
          failed.map((x) => h('li', {}, `${x.id}: ${x.error.message}`))) : null));
      await reload();
    } catch (e) {
      clear(messages, errorBox(e, ctx.role));
      syncBulk();
    }
  }
  approveAll.addEventListener('click', () => decide('approve'));
  // Rejecting cancels the rewards for good (they are never paid): ask first.
  rejectAll.addEventListener('click', () => {
    const ids = [...selected];
    const n = ids.length;
    confirmAction(rejectAll, {
      question: n === 1 ? 'Reject 1 reward? It is cancelled and will not be paid.' : `Reject ${n} rewards? They are cancelled and will not be paid.`,
      confirm: `Reject ${n} reward${n === 1 ? '' : 's'}`,
      onConfirm: () => decide('reject', ids),
    });
  });

  clear(view, h('h1', {}, 'Review queue'), filter, blockedHint, bulk, messages, list, p.nav);
  await reload(true);
}
