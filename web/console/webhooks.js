// webhooks.js - webhook endpoints (docs/webhooks.md): the list; for admins, a new
// endpoint (POST /v1/webhook-endpoints {"url","events","description"}: its signing
// secret is shown this once, with a copy button) and deleting one; an endpoint's page
// with its delivery counts and every delivery attempt (50 a page).

import { api, get, post } from './api.js';
import { badge, clear, confirmAction, errorBox, facts, h, link, notice, pager, table, time } from './dom.js';
import { secretOnce } from './secret.js';

export async function render(view, ctx, { args }) {
  if (args[0]) return renderOne(view, ctx, args[0]);
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const list = h('div', { id: 'webhooks-list' });
  clear(view, h('h2', {}, 'Webhook endpoints'), ctx.can('webhooks.write') ? createForm() : null, messages, list);
  function createForm() {
    const url = h('input', { id: 'we-url', name: 'url', type: 'url', required: true, size: 40, placeholder: 'an https URL of your receiver' });
    const events = h('input', { id: 'we-events', name: 'events', size: 30, placeholder: 'reward.fulfilled, reward.failed (empty: all)' });
    const desc = h('input', { id: 'we-description', name: 'description', size: 30 });
    const form = h('form', { class: 'create webhook-form', 'aria-labelledby': 'we-title' }, h('h3', { id: 'we-title' }, 'New endpoint'),
      h('label', { for: 'we-url' }, 'URL'), ' ', url, ' ', h('label', { for: 'we-events' }, 'Events'), ' ', events, ' ',
      h('label', { for: 'we-description' }, 'Description'), ' ', desc, ' ', h('button', { type: 'submit' }, 'Create endpoint'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { url: url.value.trim(), events: events.value.split(/[\s,]+/).filter(Boolean) };
      if (desc.value.trim()) body.description = desc.value.trim();
      try {
        const w = await post('/v1/webhook-endpoints', body);
        clear(messages, secretOnce(`Endpoint ${w.id} created. Its signing secret (shown this once):`, w.secret, 'webhook-secret'));
        form.reset();
        await load();
      } catch (e) {
        clear(messages, errorBox(e, ctx.role));
      }
    });
    return form;
  }
  async function remove(button, id) {
    button.disabled = true;
    try {
      await api('DELETE', '/v1/webhook-endpoints/' + encodeURIComponent(id));
      clear(messages, notice(`Endpoint ${id} deleted.`));
      await load();
    } catch (e) {
      clear(messages, errorBox(e, ctx.role));
      button.disabled = false;
    }
  }
  async function load() {
    const res = await get('/v1/webhook-endpoints', { limit: 1000 });
    clear(list, table({ caption: 'Webhook endpoints', rows: res.data, empty: 'No webhook endpoint.',
      rowAttrs: (w) => ({ dataset: { endpoint: w.id } }),
      columns: [
        { label: 'Endpoint', cell: (w) => link('#/settings/webhooks/' + encodeURIComponent(w.id), w.id) },
        { label: 'URL', cell: (w) => w.url },
        { label: 'Events', cell: (w) => (w.events && w.events.length ? w.events.join(', ') : 'all') },
        { label: 'Status', cell: (w) => [badge(w.status), w.disabled_reason ? ' ' + w.disabled_reason : ''] },
        { label: 'Created', cell: (w) => time(w.created_at) },
        ...(ctx.can('webhooks.write') ? [{ label: 'Actions', cell: (w) =>
          h('button', { type: 'button', class: 'delete-endpoint', 'aria-label': `Delete endpoint ${w.id}`,
            onclick: (ev) => confirmAction(ev.currentTarget, {
              question: `Delete endpoint ${w.id} (${w.url})? It receives no more events.`,
              confirm: 'Delete the endpoint', onConfirm: (b) => remove(b, w.id) }) }, 'Delete') }] : []),
      ] }));
  }
  await load().catch((e) => clear(list, errorBox(e, ctx.role)));
}

async function renderOne(view, ctx, id) {
  const enc = encodeURIComponent(id);
  const info = h('div');
  const attempts = h('div', { id: 'deliveries' });
  const p = pager((after) => get(`/v1/webhook-endpoints/${enc}/deliveries`, { limit: 50, starting_after: after }),
    (rows) => clear(attempts, table({ caption: 'Delivery attempts', rows, empty: 'No delivery yet.',
      columns: [
        { label: 'Delivery', cell: (a) => a.delivery },
        { label: 'Type', cell: (a) => a.type },
        { label: 'Attempt', num: true, cell: (a) => String(a.attempt) },
        { label: 'Result', cell: (a) => badge(a.success ? 'success' : 'failed') },
        { label: 'HTTP', num: true, cell: (a) => (a.status_code ?? '—') },
        { label: 'Error', cell: (a) => a.error || '' },
        { label: 'Took', num: true, cell: (a) => `${a.duration_ms} ms` },
        { label: 'At', cell: (a) => time(a.at || a.created_at) },
      ] })),
    (e) => clear(attempts, errorBox(e, ctx.role)));
  clear(view, h('p', {}, link('#/settings/webhooks', '← Webhook endpoints')), h('h2', {}, 'Endpoint ', h('code', {}, id)),
    info, h('h3', {}, 'Deliveries'), attempts, p.nav);
  try {
    const w = await get('/v1/webhook-endpoints/' + enc);
    clear(info, facts([['URL', w.url], ['Events', (w.events || []).join(', ') || 'all'], ['Status', badge(w.status)],
      ['Description', w.description], ['Disabled because', w.disabled_reason],
      ['Deliveries', Object.entries(w.deliveries || {}).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'],
      ['Created', time(w.created_at)]]));
    await p.first();
  } catch (e) {
    clear(info, errorBox(e, ctx.role));
  }
}
