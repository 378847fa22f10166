// dom.js - small DOM helpers shared by the console and the portal.
//
// Text from the server only ever enters the page as text nodes or attribute values
// (never innerHTML), so nothing it holds can run as markup or script.

import { formatDateTime } from './format.js';

// h('button', {class: 'x', onclick: fn, disabled: true}, 'text', child, ...)
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A table with a caption, header cells and one row per item; `empty` when there is none.
// columns: [{label, cell: (row) => node|string, num: bool}]
export function table({ caption, columns, rows, empty, rowAttrs }) {
  if (!rows.length) return h('p', { class: 'empty' }, empty || 'Nothing here.');
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {},
        // data-label: on a narrow screen the portal shows each row as a card, each cell
        // under its column's name (style.css)
        columns.map((c) => h('td', { class: c.num ? 'num' : null, 'data-label': typeof c.label === 'string' ? c.label : null }, c.cell(r))))))));
}

// <dl> of [label, value] pairs, leaving out empty values unless `keep`.
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function time(iso) {
  if (!iso) return '—';
  return h('time', { datetime: iso }, formatDateTime(iso));
}

export function badge(status) {
  return h('span', { class: 'badge badge-' + String(status).replace(/[^a-z_]/g, '') }, status);
}

export function link(href, text) {
  return h('a', { href }, text);
}

// What went wrong, in words, from an ApiError (API.md's error shape).
export function describeError(err, role) {
  if (!err || err.status === undefined) return String(err && err.message ? err.message : err);
  if (err.status === 403 && err.code === 'forbidden') {
    return `Your key's role (${role || 'this role'}) may not do this. The server said: ${err.message}`;
  }
  if (err.status === 429) {
    const secs = parseInt(err.retryAfter, 10);
    return `Too many requests: the server asks to wait ${Number.isFinite(secs) ? secs : 'a few'} second${secs === 1 ? '' : 's'} before trying again.`;
  }
  let text = err.message;
  if (err.param) text += ` (${err.param})`;
  if (err.status) text += ` [${err.status} ${err.code}]`;
  return text;
}

// An alert box for an error; `role` words the 403 case.
export function errorBox(err, role) {
  return h('div', { class: 'alert error', role: 'alert', dataset: { code: err.code || '', status: err.status ?? '' } },
    describeError(err, role));
}

export function notice(text, kind = 'ok') {
  return h('div', { class: 'alert ' + kind, role: 'status' }, text);
}

// Shows what an action did in `region` and moves the keyboard focus there: the action's
// button is usually gone with the row or page it was on, and the focus would fall back to
// the top of the page.
export function report(region, node) {
  clear(region, node);
  node.tabIndex = -1;
  node.focus();
  return node;
}

// Asks before a destructive action (delete, revoke, reject, close): `button` makes way
// for "question [confirm] [Never mind]" beside it, with the focus on the confirm button.
// Never mind (or Escape) puts the button back and focuses it; confirm puts it back and
// calls onConfirm(button), which does the action and says what happened.
export function confirmAction(button, { question, confirm, onConfirm }) {
  const open = button.nextElementSibling;
  if (open && open.classList.contains('confirm')) open.remove(); // asked again: one question
  const yes = h('button', { type: 'button', class: 'confirm-yes' }, confirm);
  const no = h('button', { type: 'button', class: 'confirm-no' }, 'Never mind');
  const box = h('span', { class: 'confirm', role: 'group', 'aria-label': question },
    h('span', { class: 'confirm-question' }, question), ' ', yes, ' ', no);
  const restore = () => { box.remove(); button.hidden = false; };
  no.addEventListener('click', () => { restore(); button.focus(); });
  box.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { ev.preventDefault(); restore(); button.focus(); }
  });
  yes.addEventListener('click', () => { restore(); onConfirm(button); });
  button.hidden = true;
  button.after(box);
  yes.focus();
  return box;
}

// Paging by `starting_after` (API.md): remembers the ids each page started after so
// "Previous" works too. load(after) -> {data, has_more}. first() shows the first page;
// reload() the page on screen again (after an action took a row out of it), or the one
// before when nothing is left on it.
export function pager(load, render, onError) {
  const stack = [];
  let current = null;
  const nav = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  async function show(after) {
    const page = await load(after);
    current = after;
    render(page.data);
    const prev = h('button', { type: 'button', disabled: !stack.length, onclick: () => go(stack.pop()) }, 'Previous page');
    const next = h('button', { type: 'button', disabled: !page.has_more,
      onclick: () => { stack.push(current); go(page.data[page.data.length - 1].id); } }, 'Next page');
    clear(nav, prev, ' ', next);
    return page;
  }
  async function go(after) {
    try {
      await show(after);
    } catch (e) {
      if (onError) onError(e);
      else throw e;
    }
  }
  async function reload() {
    const page = await show(current);
    if (!page.data.length && stack.length) return show(stack.pop());
    return page;
  }
  return { nav, first: () => { stack.length = 0; return show(null); }, reload };
}
