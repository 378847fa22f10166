// actions.js - the reward actions (API.md "Rewards"): approve, reject, retry, cancel,
// and which of them a reward's status allows (SPEC.md section 4). The buttons are only
// offered to roles that may act (admin, operator); the server's answer - the reward, or
// an error such as 409 invalid_transition - is what the screen shows.

import { post } from './api.js';
import { h } from './dom.js';

export const ACTIONS = {
  approve: { label: 'Approve', from: ['review'] },
  reject: { label: 'Reject', from: ['review'], reason: true },
  retry: { label: 'Retry', from: ['failed'] },
  cancel: { label: 'Cancel', from: ['pending', 'review', 'approved', 'failed'], reason: true },
};

// POST /v1/rewards/{id}/{action} (with {"reason"} for reject and cancel).
export function act(id, action, reason) {
  const body = ACTIONS[action].reason && reason ? { reason } : undefined;
  return post(`/v1/rewards/${encodeURIComponent(id)}/${action}`, body);
}

// Buttons for the actions `reward` allows; onDone(updated reward) or onError(err).
// Reject and cancel ask for a reason in a small inline form.
export function actionBar(ctx, reward, { onDone, onError, only } = {}) {
  if (!ctx.can('rewards.act')) return null;
  const bar = h('div', { class: 'actions', role: 'group', 'aria-label': `Actions for ${reward.id}` });
  const names = Object.keys(ACTIONS).filter((a) => (!only || only.includes(a)) && ACTIONS[a].from.includes(reward.status));
  for (const name of names) {
    const spec = ACTIONS[name];
    const button = h('button', { type: 'button', class: 'act-' + name, dataset: { action: name, reward: reward.id } },
      spec.label);
    button.addEventListener('click', () => {
      if (spec.reason) return askReason(bar, reward, name, onDone, onError);
      run(button, () => act(reward.id, name), onDone, onError);
    });
    bar.append(button, ' ');
  }
  return names.length ? bar : null;
}

async function run(button, fn, onDone, onError) {
  button.disabled = true;
  try {
    const r = await fn();
    onDone && onDone(r);
  } catch (e) {
    if (onError) onError(e);
    else throw e;
  } finally {
    button.disabled = false;
  }
}

function askReason(bar, reward, name, onDone, onError) {
  const existing = bar.querySelector('form');
  if (existing) existing.remove();
  const id = `reason-${name}-${reward.id}`;
  const input = h('input', { id, name: 'reason', type: 'text', maxlength: 500, required: name === 'cancel' });
  const submit = h('button', { type: 'submit' }, `Confirm ${ACTIONS[name].label.toLowerCase()}`);
  const form = h('form', { class: 'inline-form' },
    h('label', { for: id }, name === 'reject' ? 'Reason for rejecting' : 'Reason for cancelling'), ' ', input, ' ', submit,
    ' ', h('button', { type: 'button', onclick: () => form.remove() }, 'Never mind'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run(submit, () => act(reward.id, name, input.value.trim()), (r) => { form.remove(); onDone && onDone(r); }, onError);
  });
  bar.append(form);
  input.focus();
}
