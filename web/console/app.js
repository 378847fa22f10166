// app.js - the operator and finance console (SPEC.md section 12): sign-in, the role's
// screens, hash routing. Each screen is a module with render(main, ctx); ctx carries
// the signed-in key's role (GET /v1/me) and can(action), which hides or disables what
// the role may not do (the server decides anyway: docs/api-roles.md).

import { ApiError, session, whoami } from './api.js';
import { article, signInForm } from './signin.js';
import { clear, errorBox, h, notice } from './dom.js';

// Which roles may do what (docs/api-roles.md).
const STAFF = ['admin', 'operator', 'finance', 'auditor'];
const ALLOWED = {
  'console.read': STAFF, // review queue, rewards, exceptions, programs, charts
  'rewards.act': ['admin', 'operator'], // approve, reject, retry, cancel, bulk review
  'batches.read': ['admin', 'finance', 'auditor', 'fulfiller'], // a fulfiller: its own
  'batches.write': ['admin', 'finance', 'fulfiller'], // create, close, fulfil
  'batches.reconcile': ['admin', 'finance'],
  'reconcile.read': ['admin', 'finance', 'auditor'],
  'programs.draft': ['admin', 'operator'], // save a draft version, simulate
  'programs.govern': ['admin'], // approve, activate, roll back
  'audit.read': ['admin', 'auditor'],
  'payouts.read': ['admin', 'finance', 'auditor'],
  'credit.read': ['admin', 'finance', 'auditor', 'fulfiller'],
  'kpis.read': STAFF,
  'settings.read': STAFF,
  'connectors.read': ['admin', 'operator', 'auditor'],
  'connectors.write': ['admin'],
  'webhooks.read': ['admin', 'operator', 'auditor'],
  'webhooks.write': ['admin'],
  'pools.read': STAFF,
  'pools.write': ['admin', 'operator'],
  'blocklist.read': ['admin', 'operator', 'auditor'],
  'blocklist.write': ['admin', 'operator'],
  'tax.read': ['admin', 'finance', 'auditor'], // tax settings and FX rates
  'tax.write': ['admin', 'finance'],
  'fees.read': ['admin', 'finance', 'auditor'], // payout fees per connector
  'fees.write': ['admin', 'finance'],
  'keys.write': ['admin'], // create and revoke API keys
};
export const CONSOLE_ROLES = [...STAFF, 'fulfiller'];

const SCREENS = [
  { path: 'review', label: 'Review queue', module: './review.js', needs: 'console.read' },
  { path: 'rewards', label: 'Rewards', module: './rewards.js', needs: 'console.read' },
  { path: 'exceptions', label: 'Exceptions', module: './exceptions.js', needs: 'console.read' },
  { path: 'batches', label: 'Batches', module: './batches.js', needs: 'batches.read' },
  { path: 'reconcile', label: 'Reconciliation', module: './reconcile.js', needs: 'reconcile.read' },
  { path: 'programs', label: 'Programs', module: './programs.js', needs: 'console.read' },
  { path: 'charts', label: 'Charts', module: './charts.js', needs: 'console.read' },
  { path: 'credit', label: 'Credit status', module: './credit.js', needs: 'credit.read' },
  { path: 'kpis', label: 'KPIs', module: './kpis.js', needs: 'kpis.read' },
  { path: 'settings', label: 'Settings', module: './settings.js', needs: 'settings.read' },
  { path: 'audit', label: 'Audit', module: './audit.js', needs: 'audit.read' },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signoutButton = document.getElementById('signout');
let ctx = null;
let renderSeq = 0;
let shownPath = null; // the route (without its query) on screen

function makeCtx(me) {
  return {
    me,
    role: me.role,
    can: (action) => (ALLOWED[action] || []).includes(me.role),
    // the same hash fires no hashchange: Search or Filter with unchanged filters loads
    // the list again (the operator's way to refresh it) instead of doing nothing
    go: (hash) => { if (location.hash === hash) route(); else location.hash = hash; },
  };
}

function signOut(message) {
  session.clear();
  ctx = null;
  shownPath = null;
  who.hidden = true;
  signoutButton.hidden = true;
  nav.hidden = true;
  clear(nav);
  showSignIn(message);
}

function showSignIn(message) {
  document.title = 'Sign in · fulfill console';
  const { form, input } = signInForm({
    title: 'Sign in',
    help: ['Paste an API key of the admin, operator, finance, auditor or fulfiller role. ',
      'It is kept in this browser tab only (session storage) and sent to this server alone.'],
    label: 'API key',
    placeholder: 'fk_operator_…',
    message,
    refuse: (me) => (CONSOLE_ROLES.includes(me.role) ? null : [
      `${article(me.role) === 'an' ? 'An' : 'A'} ${me.role} key cannot use the console: it is for admin, operator, finance, auditor and fulfiller keys.`,
      me.role === 'partner' ? ' Partners see their referrals and rewards in the portal: ' : '',
      me.role === 'partner' ? h('a', { href: '/portal' }, '/portal') : '']),
    accepted: start,
  });
  clear(main, form);
  input.focus();
}

function start(me) {
  ctx = makeCtx(me);
  clear(who, 'Signed in: ', h('strong', {}, me.role), me.fulfiller ? ` (${me.fulfiller})` : '', ' ',
    h('code', {}, me.prefix + '…'));
  who.hidden = false;
  signoutButton.hidden = false;
  nav.hidden = false;
  clear(nav, h('ul', {}, allowedScreens()
    .map((s) => h('li', {}, h('a', { href: '#/' + s.path, dataset: { screen: s.path } }, s.label)))));
  if (!location.hash || location.hash === '#') location.hash = '#/' + allowedScreens()[0].path;
  else route();
}

function allowedScreens() {
  return SCREENS.filter((s) => !s.needs || ctx.can(s.needs));
}

async function route() {
  if (!ctx) return;
  const hash = location.hash.replace(/^#\/?/, '');
  const [pathPart, queryPart] = hash.split('?');
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  const screen = SCREENS.find((s) => s.path === parts[0]) || allowedScreens()[0];
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.screen === screen.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const seq = ++renderSeq;
  document.title = screen.label + ' · fulfill console';
  if (screen.needs && !ctx.can(screen.needs)) {
    clear(main, h('h1', {}, screen.label),
      notice(`Your key's role (${ctx.role}) has no access to ${screen.label.toLowerCase()}.`, 'error'));
    return;
  }
  // the field that had the focus on this screen (Search, Filter), to give it back
  const active = document.activeElement;
  const keep = shownPath === pathPart && active && active.id && main.contains(active) ? active.id : null;
  clear(main, h('p', { class: 'loading' }, 'Loading…'));
  // Another screen or page (a nav link, a reward's link, Back): the keyboard focus moves
  // to the new content, as a page load would put it, instead of staying on the link. A
  // new query of the same screen (Search, Filter) leaves the focus in its form.
  if (shownPath !== null && shownPath !== pathPart) main.focus();
  shownPath = pathPart;
  try {
    const mod = await import(screen.module);
    if (seq !== renderSeq) return;
    const view = h('div', { class: 'screen', dataset: { screen: screen.path } });
    clear(main, view);
    const rendered = mod.render(view, ctx, { args: parts.slice(1), params: new URLSearchParams(queryPart || '') });
    const refocus = () => {
      if (!keep || seq !== renderSeq || (document.activeElement && document.activeElement !== document.body)) return;
      const el = document.getElementById(keep);
      if (el) el.focus();
    };
    refocus(); // the screen's form is drawn before it waits for its data
    await rendered;
    refocus();
  } catch (e) {
    if (seq === renderSeq && ctx) clear(main, h('h1', {}, screen.label), errorBox(e, ctx.role));
  }
}

session.onUnauthorized((err) => signOut(h('div', { class: 'alert error', role: 'alert' },
  `The server no longer accepts this key (${err.message}). Sign in again.`)));
signoutButton.addEventListener('click', () => signOut(notice('Signed out.')));
window.addEventListener('hashchange', () => { route(); });

(async function boot() {
  const key = session.key;
  if (!key) return showSignIn();
  try {
    const me = await whoami(key);
    if (!CONSOLE_ROLES.includes(me.role)) return signOut();
    start(me);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) signOut(errorBox(e));
    else clear(main, errorBox(e));
  }
}());
