// explain.js - "why": a reward's or a referral's explanation (SPEC.md section 3, "Every
// decision is explained") rendered as text: the outcome, each eligibility clause with
// its value and result, the tier, limits, fraud signals. Shared with the portal.

import { h } from './dom.js';
import { formatMoney } from './format.js';

const OUTCOME = {
  rewarded: 'Eligible: the program made a reward.',
  rejected: 'Rejected.',
  not_eligible: 'Not eligible under the program\'s rules.',
  capped: 'Eligible, but a limit stopped the reward.',
};

function json(v) {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

// A limit entry ({limit: "referrer_amount_per_month", value, used, applied}) in words,
// amounts in the program's currency; the raw entry when its name is not one of the
// program limits (docs/programs.md).
export function limitText(l, currency) {
  const m = /^referrer_(rewards|amount)_per_(day|week|month|year)$/.exec(l.limit || '');
  if (!m || typeof l.value !== 'number') return json(l);
  const amount = m[1] === 'amount';
  const fmt = (v) => (amount && currency ? formatMoney(v, currency) : String(v));
  const cap = amount ? `${fmt(l.value)} of rewards` : `${l.value} reward${l.value === 1 ? '' : 's'}`;
  const used = typeof l.used === 'number' ? ` (${fmt(l.used)} earned already)` : '';
  return `At most ${cap} per ${m[2]} for each referrer${used}${l.applied ? ': this reward was not created.' : '.'}`;
}

export function explanation(ex, currency) {
  if (!ex) return h('p', { class: 'empty' }, 'No explanation is recorded.');
  const parts = [];
  const outcome = OUTCOME[ex.outcome] || (ex.outcome ? `Outcome: ${ex.outcome}.` : null);
  parts.push(h('p', { class: 'outcome' }, outcome,
    ex.program ? ` Program ${ex.program} version ${ex.program_version}.` : ''));
  if (ex.clauses && ex.clauses.length) {
    parts.push(h('h4', {}, 'Eligibility rules'),
      h('ul', { class: 'clauses' }, ex.clauses.map((c) => h('li', { class: c.result ? 'pass' : 'fail' },
        h('span', { class: 'mark', 'aria-hidden': 'true' }, c.result ? '✓ ' : '✗ '),
        h('span', { class: 'sr-only' }, c.result ? 'passed: ' : 'failed: '),
        c.text || json(c.rule)))));
  }
  if (ex.failed && ex.failed.length) {
    parts.push(h('h4', {}, 'Why not'), h('ul', {}, ex.failed.map((f) => h('li', {}, f))));
  }
  if (ex.tier && (ex.tier.from !== null && ex.tier.from !== undefined)) {
    parts.push(h('p', {}, `Tier: from the referrer's successful referral number ${ex.tier.from} (this was number ${ex.tier.successful_referral_number}).`));
  } else if (ex.tier && ex.tier.successful_referral_number) {
    parts.push(h('p', {}, `Successful referral number ${ex.tier.successful_referral_number}; no tier applied.`));
  }
  if (ex.limits && ex.limits.length) {
    parts.push(h('h4', {}, 'Limits'), h('ul', {}, ex.limits.map((l) => h('li', {}, l.text || limitText(l, currency)))));
  }
  const signals = ex.signals || [];
  if (signals.length) {
    parts.push(h('h4', {}, 'Fraud signals'), h('ul', { class: 'signals' }, signals.map((s) =>
      h('li', {}, `${s.signal}${s.detail ? ': ' + s.detail : ''}${s.action ? ` (${s.action})` : ''}`))));
  }
  if (ex.rewards && ex.rewards.length) {
    parts.push(h('h4', {}, 'Rewards this decision made'), h('ul', {}, ex.rewards.map((r) => h('li', {},
      `${r.to}: ${r.type}${r.amount !== undefined && currency ? ' ' + formatMoney(r.amount, currency) : ''}`,
      r.status ? ` — ${r.status}${r.reason ? ' (' + r.reason + ')' : ''}` : ''))));
  }
  return h('div', { class: 'explanation' }, parts);
}
