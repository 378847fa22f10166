// blocklist.js - the fraud blocklist (docs/fraud.md): e-mails, domains, IP addresses
// or CIDR ranges, and devices; admins and operators add (POST /v1/blocklist) and remove
// (DELETE /v1/blocklist?kind=&value=) entries, auditors read.

import { api, get, post, query } from './api.js';
import { clear, confirmAction, errorBox, h, notice, table, time } from './dom.js';

const KINDS = ['email', 'domain', 'ip', 'device'];

export async function render(view, ctx) {
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const list = h('div', { id: 'blocklist-list' });
  const write = ctx.can('blocklist.write');
  clear(view, h('h2', {}, 'Blocklist'), write ? addForm() : null, messages, list);
  function addForm() {
    const kind = h('select', { id: 'bl-kind', name: 'kind' }, KINDS.map((k) => h('option', { value: k }, k)));
    const value = h('input', { id: 'bl-value', name: 'value', required: true, size: 28, placeholder: '198.51.100.0/24' });
    const note = h('input', { id: 'bl-note', name: 'note', size: 24 });
    const form = h('form', { class: 'create blocklist-form', 'aria-labelledby': 'bl-title' }, h('h3', { id: 'bl-title' }, 'Block'),
      h('label', { for: 'bl-kind' }, 'Kind'), ' ', kind, ' ', h('label', { for: 'bl-value' }, 'Value'), ' ', value, ' ',
      h('label', { for: 'bl-note' }, 'Note'), ' ', note, ' ', h('button', { type: 'submit' }, 'Add to blocklist'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { kind: kind.value, value: value.value.trim() };
      if (note.value.trim()) body.note = note.value.trim();
      try {
        const got = await post('/v1/blocklist', body);
        clear(messages, notice(`Blocked ${got.kind} ${got.value}.`));
        form.reset();
        await load();
      } catch (e) {
        clear(messages, errorBox(e, ctx.role));
      }
    });
    return form;
  }
  async function remove(button, e) {
    button.disabled = true;
    try {
      await api('DELETE', '/v1/blocklist' + query({ kind: e.kind, value: e.value }));
      clear(messages, notice(`Removed ${e.kind} ${e.value}.`));
      await load();
    } catch (err) {
      clear(messages, errorBox(err, ctx.role));
      button.disabled = false;
    }
  }
  async function load() {
    const res = await get('/v1/blocklist');
    clear(list, table({ caption: 'Blocked', rows: res.data, empty: 'The blocklist is empty.',
      rowAttrs: (e) => ({ dataset: { kind: e.kind, value: e.value } }),
      columns: [
        { label: 'Kind', cell: (e) => e.kind },
        { label: 'Value', cell: (e) => h('code', {}, e.value) },
        { label: 'Note', cell: (e) => e.note || '' },
        { label: 'Added', cell: (e) => time(e.created_at) },
        ...(write ? [{ label: 'Actions', cell: (e) =>
          h('button', { type: 'button', class: 'unblock', 'aria-label': `Remove ${e.kind} ${e.value} from the blocklist`,
            onclick: (ev) => confirmAction(ev.currentTarget, {
              question: `Unblock ${e.kind} ${e.value}? Referrals from it pass the checks again.`,
              confirm: 'Unblock', onConfirm: (b) => remove(b, e) }) }, 'Remove') }] : []),
      ] }));
  }
  await load().catch((e) => clear(list, errorBox(e, ctx.role)));
}
