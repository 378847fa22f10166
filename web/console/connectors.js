// connectors.js - connectors (docs/connectors.md): the list with each one's masked
// configuration and circuit breaker; for admins, create or update one
// (PUT /v1/connectors/{id} {"type","config"}) and delete one. Secrets are write-only:
// reads show them masked ("sk_...1234"); the form never sends a masked value back, and
// a secret left out keeps its stored value (the server's rule).

import { api, get } from './api.js';
import { badge, clear, confirmAction, errorBox, h, notice, table, time } from './dom.js';

const TYPES = ['stripe', 'recurly', 'braintree', 'giftcard', 'webhook', 'smtp'];
const MASKED = /\.\.\./; // "sk_...1234", "..."

// The configuration without its masked secrets, and the names of those secrets.
export function splitMasked(config) {
  const plain = {};
  const secrets = [];
  for (const [k, v] of Object.entries(config || {})) {
    if (typeof v === 'string' && MASKED.test(v)) secrets.push(k);
    else plain[k] = v;
  }
  return { plain, secrets };
}

export async function render(view, ctx) {
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const list = h('div', { id: 'connectors-list' });
  const editor = h('div', { id: 'connector-editor' });
  clear(view, h('h2', {}, 'Connectors'), messages, list, editor);
  async function load() {
    const res = await get('/v1/connectors', { limit: 1000 });
    clear(list, table({ caption: 'Connectors (secrets masked)', rows: res.data, empty: 'No external connector is configured.',
      rowAttrs: (c) => ({ dataset: { connector: c.id } }),
      columns: [
        { label: 'Connector', cell: (c) => c.id },
        { label: 'Type', cell: (c) => c.type },
        { label: 'Configuration', cell: (c) => h('code', { class: 'config' }, JSON.stringify(c.config)) },
        { label: 'Breaker', cell: (c) => badge((c.breaker && c.breaker.state) || 'closed') },
        { label: 'Open until', cell: (c) => time(c.breaker && c.breaker.open_until) },
        ...(ctx.can('connectors.write') ? [{ label: 'Actions', cell: (c) => h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'edit-connector', 'aria-label': `Edit connector ${c.id}`, onclick: () => edit(c) }, 'Edit'), ' ',
          h('button', { type: 'button', class: 'delete-connector', 'aria-label': `Delete connector ${c.id}`,
            onclick: (ev) => confirmAction(ev.currentTarget, {
              question: `Delete connector ${c.id}? Its configuration and secrets are gone; rewards that use it wait until it is set up again.`,
              confirm: `Delete ${c.id}`, onConfirm: (b) => remove(b, c.id) }) }, 'Delete')) }] : []),
      ] }));
  }
  async function remove(button, id) {
    button.disabled = true;
    try {
      await api('DELETE', '/v1/connectors/' + encodeURIComponent(id));
      clear(messages, notice(`Connector ${id} deleted.`));
      await load();
    } catch (e) {
      clear(messages, errorBox(e, ctx.role));
      button.disabled = false;
    }
  }
  function edit(c) {
    const { plain, secrets } = splitMasked(c && c.config);
    const id = h('input', { id: 'cn-id', name: 'id', required: true, size: 16, value: c ? c.id : '', readonly: !!c });
    const type = h('select', { id: 'cn-type', name: 'type' }, TYPES.map((t) => h('option', { value: t, selected: c && c.type === t }, t)));
    const config = h('textarea', { id: 'cn-config', name: 'config', rows: 8, cols: 70, spellcheck: 'false' });
    config.value = JSON.stringify(plain, null, 2);
    // what went wrong with this form is said in it, next to its Save button (the screen's
    // messages are above the list, out of sight once the list is long)
    const out = h('div', { class: 'form-out', 'aria-live': 'polite' });
    const form = h('form', { class: 'connector-form', 'aria-labelledby': 'cn-title' },
      h('h3', { id: 'cn-title' }, c ? `Update ${c.id}` : 'New connector'),
      h('p', {}, h('label', { for: 'cn-id' }, 'Id'), ' ', id, ' ', h('label', { for: 'cn-type' }, 'Type'), ' ', type),
      h('label', { for: 'cn-config' }, 'Configuration (JSON)'), config,
      h('p', { class: 'hint' }, 'Secrets are write-only: they are never shown again. ',
        secrets.length ? `Stored secrets (${secrets.join(', ')}) are kept unless you enter a new value for them.` : ''),
      h('button', { type: 'submit' }, 'Save connector'), ' ',
      h('button', { type: 'button', onclick: () => clear(editor, newButton()) }, 'Cancel'), out);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      let cfg;
      try {
        cfg = JSON.parse(config.value || '{}');
      } catch (e) {
        clear(out, h('div', { class: 'alert error', role: 'alert' }, `The configuration is not JSON: ${e.message}`));
        config.focus();
        return;
      }
      try {
        const got = await api('PUT', '/v1/connectors/' + encodeURIComponent(id.value.trim()), { body: { type: type.value, config: cfg } });
        clear(messages, notice(`Connector ${got.id} saved.`));
        clear(editor, newButton());
        await load();
      } catch (e) {
        clear(out, errorBox(e, ctx.role));
      }
    });
    clear(editor, form);
  }
  const newButton = () => (ctx.can('connectors.write')
    ? h('button', { type: 'button', id: 'new-connector', onclick: () => edit(null) }, 'New connector') : '');
  clear(editor, newButton());
  await load().catch((e) => clear(list, errorBox(e, ctx.role)));
}
