// secret.js - a secret the server shows once (a new API key, a webhook signing
// secret): shown in a read-only field with a copy button, and gone when the screen is
// left. It is never stored by the page.

import { h } from './dom.js';

export function secretOnce(text, secret, id) {
  const field = h('input', { id, class: 'secret', type: 'text', readonly: true, value: secret, size: Math.min(60, secret.length + 2),
    'aria-label': 'Secret, shown once', spellcheck: 'false' });
  const status = h('span', { class: 'copy-status', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', class: 'copy', dataset: { for: id } }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      status.textContent = ' Copied.';
    } catch {
      field.select(); // no clipboard permission: select it for Ctrl+C
      status.textContent = ' Selected: press Ctrl+C (⌘C) to copy.';
    }
  });
  return h('div', { class: 'alert ok secret-once', role: 'status' }, h('p', {}, text), h('p', {}, field, ' ', copy, status),
    h('p', { class: 'hint' }, 'Copy it now: the server never shows it again.'));
}
