// apikeys.js - API keys (admin; docs/api-roles.md): a new key of any role (a partner key
// bound to a participant, a fulfiller key to a fulfiller), shown once with a copy
// button; and revoking a key by its prefix (DELETE /v1/api-keys/{prefix}: it stops
// working at once). The API lists no keys, so the screen lists only the ones made here.

import { api, post } from './api.js';
import { clear, confirmAction, errorBox, h, notice, table, time } from './dom.js';
import { secretOnce } from './secret.js';

const ROLES = ['admin', 'operator', 'finance', 'auditor', 'ingest', 'fulfiller', 'partner'];
// {prefix, role, name, created_at} of the keys created in this tab (never the key), per
// sign-in: whoever signs in next in the tab does not inherit the list
const madeBy = new WeakMap();

export async function render(view, ctx) {
  if (!madeBy.has(ctx)) madeBy.set(ctx, []);
  const made = madeBy.get(ctx);
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const list = h('div', { id: 'keys-made' });
  const role = h('select', { id: 'k-role', name: 'role' }, ROLES.map((r) => h('option', { value: r }, r)));
  const name = h('input', { id: 'k-name', name: 'name', size: 20, placeholder: 'who or what uses it' });
  const scope = h('input', { id: 'k-scope', name: 'scope', size: 16 });
  const scopeLabel = h('label', { for: 'k-scope' }, '');
  const scopeWrap = h('span', { hidden: true }, scopeLabel, ' ', scope, ' ');
  const sync = () => {
    const needs = role.value === 'partner' ? 'Participant' : role.value === 'fulfiller' ? 'Fulfiller' : null;
    scopeWrap.hidden = !needs;
    scope.required = !!needs;
    scopeLabel.textContent = needs || '';
  };
  role.addEventListener('change', sync);
  const create = h('form', { class: 'create key-form', 'aria-labelledby': 'k-title' }, h('h3', { id: 'k-title' }, 'New API key'),
    h('label', { for: 'k-role' }, 'Role'), ' ', role, ' ', h('label', { for: 'k-name' }, 'Name'), ' ', name, ' ', scopeWrap,
    h('button', { type: 'submit' }, 'Create key'));
  create.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { role: role.value };
    if (name.value.trim()) body.name = name.value.trim();
    if (role.value === 'partner') body.participant = scope.value.trim();
    if (role.value === 'fulfiller') body.fulfiller = scope.value.trim();
    try {
      const k = await post('/v1/api-keys', body);
      made.push({ prefix: k.prefix, role: k.role, name: k.name, created_at: k.created_at });
      clear(messages, secretOnce(`A ${k.role} key (${k.prefix}…) was created. The key, shown this once:`, k.key, 'new-key'));
      create.reset();
      sync();
      showMade();
    } catch (e) {
      clear(messages, errorBox(e, ctx.role));
    }
  });
  const prefix = h('input', { id: 'k-prefix', name: 'prefix', required: true, size: 24, placeholder: 'fk_partner_AbCdEfGh' });
  const revoke = h('form', { class: 'revoke-form', 'aria-labelledby': 'kr-title' }, h('h3', { id: 'kr-title' }, 'Revoke a key'),
    h('label', { for: 'k-prefix' }, 'Key prefix'), ' ', prefix, ' ', h('button', { type: 'submit' }, 'Revoke'));
  const revokeButton = revoke.querySelector('button[type=submit]');
  revoke.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = prefix.value.trim();
    askRevoke(revokeButton, p, () => { revoke.reset(); });
  });
  // Revoking cannot be undone: whatever uses the key stops working at once.
  function askRevoke(button, p, then) {
    confirmAction(button, {
      question: `Revoke key ${p}…? Whatever uses it is refused from now on; this cannot be undone.`,
      confirm: `Revoke ${p}`,
      onConfirm: async () => { if (await doRevoke(p) && then) then(); },
    });
  }
  async function doRevoke(p) {
    try {
      await api('DELETE', '/v1/api-keys/' + encodeURIComponent(p));
      clear(messages, notice(`Key ${p} revoked: it no longer works.`));
      const i = made.findIndex((m) => m.prefix === p);
      if (i >= 0) made[i].revoked = true;
      showMade();
      return true;
    } catch (e) {
      clear(messages, errorBox(e, ctx.role));
      return false;
    }
  }
  function showMade() {
    clear(list, made.length ? table({ caption: 'Keys created here (this tab)', rows: made,
      rowAttrs: (m) => ({ dataset: { prefix: m.prefix } }),
      columns: [
        { label: 'Prefix', cell: (m) => h('code', {}, m.prefix) },
        { label: 'Role', cell: (m) => m.role },
        { label: 'Name', cell: (m) => m.name || '' },
        { label: 'Created', cell: (m) => time(m.created_at) },
        { label: 'Actions', cell: (m) => (m.revoked ? 'revoked'
          : h('button', { type: 'button', class: 'revoke-key', 'aria-label': `Revoke key ${m.prefix}`,
            onclick: (ev) => askRevoke(ev.currentTarget, m.prefix) }, 'Revoke')) },
      ] }) : '');
  }
  clear(view, h('h2', {}, 'API keys'), h('p', { class: 'hint' }, 'A key is shown once, when it is created; the server keeps only its hash.'),
    create, messages, list, revoke);
  showMade();
}
