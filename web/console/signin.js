// signin.js - the sign-in form the console and the portal share: a key field, the
// server's word on the key (GET /v1/me), and the page's own rule for which keys it
// takes. The key is stored (session storage) only once the page accepts it.

import { ApiError, session, whoami } from './api.js';
import { clear, errorBox, h } from './dom.js';

// title, help (children of the help paragraph), label, placeholder: the form's text;
// message: shown first (why the user is here again); refuse(me): null for a key the
// page takes, else the children of the alert that says why not; accepted(me): after
// the key is stored; role: passed to errorBox for other errors.
export function signInForm({ title, help, label, placeholder, message, refuse, accepted, role }) {
  const input = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, placeholder, 'aria-describedby': 'key-help' });
  const status = h('div', { id: 'signin-status', 'aria-live': 'polite' }, message || null);
  const form = h('form', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, title), h('p', { id: 'key-help' }, ...help),
    h('label', { for: 'key' }, label), input, h('button', { type: 'submit' }, 'Sign in'), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    const button = form.querySelector('button');
    button.disabled = true;
    clear(status);
    try {
      const me = await whoami(key);
      const why = refuse(me);
      if (why) {
        clear(status, h('div', { class: 'alert error', role: 'alert' }, ...why));
        return;
      }
      session.set(key);
      input.value = '';
      await accepted(me);
    } catch (e) {
      clear(status, e instanceof ApiError && e.status === 401
        ? h('div', { class: 'alert error', role: 'alert' }, `This key was not accepted: ${e.message}`)
        : errorBox(e, role));
    } finally {
      button.disabled = false;
    }
  });
  return { form, input };
}

// "a" or "an" before a role name.
export function article(role) {
  return /^[aeiou]/.test(role) ? 'an' : 'a';
}
