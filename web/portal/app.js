// app.js - the referrer portal (SPEC.md section 12): a partner signs in with its key
// and sees its own participant only (the key's scope, GET /v1/me): balances, referrals
// with each one's status and why, rewards with their status, why, and an estimated
// payout date. The estimate (docs/console.md) comes from the reward itself: the
// engine's release_at (the first payout-calendar boundary after the hold ends, in the
// program's time zone), else hold_until, else what the status means.

import { ApiError, get, session, whoami } from './api.js';
import { explanation } from './explain.js';
import { article, signInForm } from './signin.js';
import { badge, clear, errorBox, h, notice, table, time } from './dom.js';
import { formatDate, formatMoney, formatRewardValue } from './format.js';

const main = document.getElementById('main');
const who = document.getElementById('who');
const signoutButton = document.getElementById('signout');
const PAGE = 100;
const MAX_PAGES = 20;

// "Where is my reward?" (SPEC.md section 4 reasons) in a referrer's words.
const REASONS = {
  hold_period: 'In the refund window',
  schedule: 'Waiting for the next payout date',
  tax_form_required: 'Waiting for your tax form',
  pool_empty: 'Waiting for new codes',
  connector_unavailable: 'The payout provider is unavailable; it will be retried',
  retry_scheduled: 'Being retried',
  in_batch: 'In a payout batch',
  awaiting_batch: 'Waiting for the next payout batch',
  awaiting_fulfillment: 'Being paid out',
  outcome_unknown: 'Being confirmed with the payout provider',
  delivered: 'Paid',
  permanent_error: 'The payout failed; our team is looking into it',
};

// A reward held because its participant is blocked (docs/fraud.md) is not being
// reviewed and will not be paid by waiting: the referrer is asked to get in touch. The
// portal names no fraud check or block to a referrer (as with review:<signal> below).
const HELD_BLOCKED = 'review:participant_blocked';

export function reasonText(r) {
  if (!r.reason) return '';
  if (r.reason === HELD_BLOCKED) return 'On hold: please contact support';
  if (r.reason.startsWith('review')) return 'Being reviewed by our team';
  return REASONS[r.reason] || r.reason.replace(/_/g, ' ');
}

// The estimated payout date of a reward: [text, iso date or null].
export function estimate(r) {
  switch (r.status) {
    case 'fulfilled':
    case 'reconciled':
      return ['Paid', r.fulfilled_at];
    case 'pending':
      if (r.reason === 'tax_form_required') return ['After your tax form is on file', null];
      if (r.release_at) return ['Estimated', r.release_at];
      if (r.hold_until) return ['Not before', r.hold_until];
      return ['Soon', null];
    case 'review':
      if (r.reason === HELD_BLOCKED) return ['On hold', null];
      return ['After review', r.release_at || null];
    case 'approved':
    case 'issuing':
      if (r.reason === 'in_batch' || r.reason === 'awaiting_batch') return ['With the next payout batch', null];
      return ['Being paid now', null];
    case 'failed':
      return ['Delayed', null];
    default:
      return ['Not paid', null]; // cancelled, reversed, expired
  }
}

function estimateCell(r) {
  const [text, iso] = estimate(r);
  return h('span', { class: 'estimate' }, text, iso ? [' ', h('time', { datetime: iso }, formatDate(iso))] : '');
}

async function all(path) {
  const out = [];
  let after = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await get(path, { limit: PAGE, starting_after: after });
    out.push(...page.data);
    if (!page.has_more || !page.data.length) return { data: out, more: false };
    after = page.data[page.data.length - 1].id;
  }
  return { data: out, more: true };
}

// Why a referral has (not) earned: its status, and the engine's latest evaluation of
// it (`last_evaluation`, docs/api.md): the outcome for the friend's latest purchase, or
// for the referral itself, and the program's conditions it missed in words. It never
// carries the friend's own data (order amount, category, country, ...).
// A rejected referral's check (a partner key reads its name only, docs/api-roles.md).
const CHECKS = {
  self_referral: 'Rejected: it looks like you referred yourself.',
  existing_customer: 'Rejected: your friend was already a customer.',
  duplicate_referral: 'Rejected: your friend had been referred already.',
  velocity: 'Rejected: too many referrals in a short time.',
};

function referralWhy(ref, rewards) {
  const ev = ref.last_evaluation;
  if (ref.status === 'rejected') {
    const check = (ref.rejection_reason || '').split(':')[0];
    return CHECKS[check] || (check ? 'Rejected: the referral did not pass the program\'s checks.' : 'Rejected');
  }
  const friend = ref.referred || 'your friend';
  let headline;
  if (ref.status === 'successful') {
    const mine = rewards.filter((r) => r.referral === ref.id);
    headline = mine.length ? `Earned ${mine.map(formatRewardValue).join(' + ')}` : 'Qualified';
    if (!ev || !ev.reasons.length) return headline;
    headline += ev.trigger === 'conversion' ? `. ${friend}'s latest purchase earned you nothing more:` : '.';
  } else if (!ev) {
    return `Waiting for ${friend}'s qualifying purchase`;
  } else if (ev.trigger === 'conversion') {
    headline = ev.eligible ? `${friend}'s purchase qualified, but earned you no reward:`
      : `${friend}'s latest purchase did not qualify:`;
  } else {
    headline = 'The referral did not qualify:';
  }
  return [headline, ' ', h('span', { class: 'checked' }, '(checked ', time(ev.at), ')'),
    h('ul', { class: 'reasons' }, ev.reasons.map((r) => h('li', {}, r)))];
}

function signOut(message) {
  session.clear();
  who.hidden = true;
  signoutButton.hidden = true;
  showSignIn(message);
}

function showSignIn(message) {
  document.title = 'Sign in · referrer portal';
  const { form, input } = signInForm({
    title: 'Sign in to see your referrals',
    help: ['Paste the partner key you were given. It stays in this browser tab only.'],
    label: 'Partner key',
    placeholder: 'fk_partner_…',
    message,
    refuse: (me) => (me.role === 'partner' && me.participant ? null : [
      `This portal is for partner keys; this is ${article(me.role)} ${me.role} key.`,
      ['admin', 'operator', 'finance', 'auditor'].includes(me.role) ? [' Use the ', h('a', { href: '/console' }, 'console'), '.'] : '']),
    accepted: show,
    role: 'partner',
  });
  clear(main, form);
  input.focus();
}

async function show(me) {
  const pid = encodeURIComponent(me.participant);
  clear(who, 'Signed in as ', h('strong', {}, me.participant), ' ', h('code', {}, me.prefix + '…'));
  who.hidden = false;
  signoutButton.hidden = false;
  clear(main, h('p', { class: 'loading' }, 'Loading your referrals…'));
  try {
    const [p, refs, rewards] = await Promise.all([get('/v1/participants/' + pid), all(`/v1/participants/${pid}/referrals`),
      all(`/v1/participants/${pid}/rewards`)]);
    document.title = `${p.name || p.id} · referrer portal`;
    const stats = p.stats || {};
    clear(main,
      h('h1', {}, `Hello, ${p.name || p.id}`),
      h('section', { id: 'balance', 'aria-labelledby': 'h-balance' }, h('h2', { id: 'h-balance' }, 'Your balance'),
        (p.balances || []).length
          ? h('ul', { class: 'balances' }, p.balances.map((b) => h('li', { dataset: { currency: b.currency } }, h('strong', {}, formatMoney(b.amount, b.currency)))))
          : h('p', { class: 'empty' }, 'No credit yet.'),
        h('p', { class: 'hint' }, `${stats.referrals ?? refs.data.length} referrals, ${stats.successful_referrals ?? 0} successful.`)),
      h('section', { id: 'referrals', 'aria-labelledby': 'h-referrals' }, h('h2', { id: 'h-referrals' }, 'Your referrals'),
        table({ caption: 'People you referred', rows: refs.data, empty: 'You have not referred anyone yet.',
          rowAttrs: (r) => ({ dataset: { referral: r.id } }),
          columns: [
            { label: 'Referred', cell: (r) => r.referred || '—' },
            { label: 'Program', cell: (r) => r.program },
            { label: 'When', cell: (r) => time(r.occurred_at) },
            { label: 'Status', cell: (r) => badge(r.status) },
            { label: 'Why', cell: (r) => h('div', { class: 'why' }, referralWhy(r, rewards.data)) },
          ] }),
        refs.more ? notice('Only your most recent referrals are listed.', 'info') : null),
      h('section', { id: 'rewards', 'aria-labelledby': 'h-rewards' }, h('h2', { id: 'h-rewards' }, 'Your rewards'),
        table({ caption: 'Rewards you earned', rows: rewards.data, empty: 'No reward yet: they appear when a referral qualifies.',
          rowAttrs: (r) => ({ dataset: { reward: r.id } }),
          columns: [
            { label: 'Reward', num: true, cell: (r) => formatRewardValue(r) },
            { label: 'Program', cell: (r) => r.program },
            { label: 'Referral', cell: (r) => r.referral || '—' },
            { label: 'Status', cell: (r) => [badge(r.status), ' ', h('span', { class: 'reason' }, reasonText(r))] },
            { label: 'Payout', cell: estimateCell },
            { label: 'Why', cell: (r) => whyDisclosure(r) },
          ] }),
        h('p', { class: 'hint' }, 'Payout dates are estimates: a reward is released at the first payout date after its refund window ends.')));
  } catch (e) {
    clear(main, errorBox(e, 'partner'));
  }
}

// A <details> that loads the reward's explanation when opened.
function whyDisclosure(r) {
  const body = h('div', {}, 'Loading…');
  const d = h('details', { class: 'why-details' }, h('summary', {}, 'Why?'), body);
  let loaded = false;
  d.addEventListener('toggle', async () => {
    if (!d.open || loaded) return;
    loaded = true;
    try {
      const ex = await get(`/v1/rewards/${encodeURIComponent(r.id)}/explain`);
      clear(body, explanation(ex.explanation, r.currency));
    } catch (e) {
      loaded = false;
      clear(body, errorBox(e, 'partner'));
    }
  });
  return d;
}

session.onUnauthorized((err) => signOut(h('div', { class: 'alert error', role: 'alert' },
  `Your key is no longer accepted (${err.message}). Sign in again.`)));
signoutButton.addEventListener('click', () => signOut(notice('Signed out.')));

(async function boot() {
  const key = session.key;
  if (!key) return showSignIn();
  try {
    const me = await whoami(key);
    if (me.role !== 'partner' || !me.participant) return signOut();
    await show(me);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) signOut(errorBox(e, 'partner'));
    else clear(main, errorBox(e, 'partner'));
  }
}());
