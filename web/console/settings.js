// settings.js - the settings screen: one tab per kind of setting the role may read
// (docs/api-roles.md), each its own module with render(view, ctx, {args, params}):
// connectors, webhook endpoints, code pools, the blocklist, tax settings and FX rates,
// payout fees, and API keys (admin). Route: #/settings/<tab>[/<id>].

import { clear, h, notice } from './dom.js';

const TABS = [
  { path: 'connectors', label: 'Connectors', needs: 'connectors.read', module: './connectors.js' },
  { path: 'webhooks', label: 'Webhook endpoints', needs: 'webhooks.read', module: './webhooks.js' },
  { path: 'code-pools', label: 'Code pools', needs: 'pools.read', module: './codepools.js' },
  { path: 'blocklist', label: 'Blocklist', needs: 'blocklist.read', module: './blocklist.js' },
  { path: 'finance', label: 'Tax and FX rates', needs: 'tax.read', module: './taxfx.js' },
  { path: 'fees', label: 'Payout fees', needs: 'fees.read', module: './fees.js' },
  { path: 'api-keys', label: 'API keys', needs: 'keys.write', module: './apikeys.js' },
];

export async function render(view, ctx, { args, params }) {
  const tabs = TABS.filter((t) => ctx.can(t.needs));
  const tab = tabs.find((t) => t.path === args[0]) || tabs[0];
  const body = h('div', { class: 'settings-body', dataset: { tab: tab ? tab.path : '' } });
  clear(view, h('h1', {}, 'Settings'),
    h('nav', { class: 'tabs', 'aria-label': 'Settings' }, h('ul', {}, tabs.map((t) => h('li', {},
      h('a', { href: '#/settings/' + t.path, dataset: { tab: t.path }, 'aria-current': t === tab ? 'page' : null }, t.label))))),
    body);
  if (!tab) return clear(body, notice(`Your key's role (${ctx.role}) has no settings to see.`, 'info'));
  const mod = await import(tab.module);
  await mod.render(body, ctx, { args: args.slice(1), params });
}
