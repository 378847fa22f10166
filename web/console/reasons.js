// reasons.js - a reward's reason as the console shows it. Reasons are shown in the API's
// words (docs/api.md, the CLI and the docs use them too), except the few whose words
// hide what an operator must do: a reward held for review because its participant is
// blocked (docs/fraud.md, "Blocked participants") is no ordinary review - it cannot be
// approved until the participant is unblocked.

import { h } from './dom.js';

export const BLOCKED = 'review:participant_blocked';

const LABELS = { [BLOCKED]: 'held: participant blocked' };

// The review queue's reason filter: the blocked hold, the program's review rules and
// the fraud signals (review:<signal>).
export const REVIEW_REASONS = [BLOCKED, 'review:always', 'review:amount', 'review:rule', 'review:anomaly',
  'review:self_referral', 'review:existing_customer', 'review:duplicate_referral', 'review:velocity',
  'review:payout_threshold', 'review:blocklist'];

export function reasonLabel(reason) {
  return LABELS[reason] || reason;
}

// A reason as a badge: its label, the API's word in data-reason and the tooltip.
export function reasonBadge(reason) {
  const held = reason === BLOCKED;
  return h('span', { class: 'badge badge-reason' + (held ? ' badge-blocked' : ''), title: reason, dataset: { reason } },
    reasonLabel(reason));
}
