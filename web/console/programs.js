// programs.js - programs and their versions (SPEC.md section 3, "Governance"): the
// list, one program's versions with who wrote and approved each, a diff between any two
// versions (and whether it changes payout economics), a version's document, and for
// admins approve / activate / roll back. The two-person rule is the server's: an
// author's own approval comes back 403 same_author, and its message is shown.

import { get, post } from './api.js';
import { badge, clear, errorBox, h, link, notice, report, table, time } from './dom.js';
import { draftEditor, simulator } from './drafts.js';

export async function render(view, ctx, { args, params }) {
  if (args[0]) return renderOne(view, ctx, args[0], params);
  const list = h('div');
  clear(view, h('h1', {}, 'Programs'), list,
    ctx.can('programs.draft') ? h('details', { class: 'new-program' }, h('summary', {}, 'New program'),
      draftEditor(ctx, { onSaved: (got) => ctx.go('#/programs/' + encodeURIComponent(got.id)) })) : null);
  try {
    const res = await get('/v1/programs', { limit: 1000 });
    clear(list, table({ caption: 'Programs', rows: res.data, empty: 'No program yet: load one with `fulfill program load`.',
      columns: [
        { label: 'Program', cell: (p) => link('#/programs/' + encodeURIComponent(p.id), p.id) },
        { label: 'Name', cell: (p) => p.name },
        { label: 'Currency', cell: (p) => p.currency },
        { label: 'Active version', num: true, cell: (p) => (p.active_version ?? '—') },
        { label: 'Versions', num: true, cell: (p) => String((p.versions || []).length) },
        { label: 'Waiting', cell: (p) => (p.versions || []).filter((v) => v.status === 'draft' || v.status === 'approved')
          .map((v) => `v${v.version} ${v.status}`).join(', ') },
        { label: 'Updated', cell: (p) => time(p.updated_at) },
      ] }));
  } catch (e) {
    clear(list, errorBox(e, ctx.role));
  }
}

async function renderOne(view, ctx, id, params) {
  const messages = h('div', { class: 'messages', 'aria-live': 'polite' });
  const body = h('div');
  clear(view, h('p', {}, link('#/programs', '← Programs')), h('h1', {}, 'Program ', h('code', {}, id)), messages, body);
  const enc = encodeURIComponent(id);
  async function govern(button, path, payload, what) {
    button.disabled = true;
    try {
      await post(`/v1/programs/${enc}/${path}`, payload);
      await load();
      report(messages, notice(what));
    } catch (e) {
      clear(messages, errorBox(e, ctx.role));
      button.disabled = false;
    }
  }
  async function load() {
    const p = await get('/v1/programs/' + enc);
    const versions = p.versions || [];
    const active = p.active_version;
    const latest = versions.length ? versions[versions.length - 1].version : null;
    const actionsFor = (v) => {
      if (!ctx.can('programs.govern')) return '';
      const out = [];
      if (v.status === 'draft') {
        const b = h('button', { type: 'button', class: 'approve-version', dataset: { version: v.version } }, `Approve v${v.version}`);
        b.addEventListener('click', () => govern(b, `versions/${v.version}/approve`, undefined, `Version ${v.version} approved.`));
        out.push(b);
      }
      if (v.status === 'approved' && v.version !== active) {
        const older = active !== null && active !== undefined && v.version < active;
        const b = h('button', { type: 'button', class: older ? 'rollback-version' : 'activate-version', dataset: { version: v.version } },
          older ? `Roll back to v${v.version}` : `Activate v${v.version}`);
        b.addEventListener('click', () => (older
          ? govern(b, 'rollback', { version: v.version }, `Rolled back to version ${v.version}.`)
          : govern(b, `versions/${v.version}/activate`, undefined, `Version ${v.version} is active.`)));
        out.push(b);
      }
      return out.length ? h('div', { class: 'actions' }, out.flatMap((b) => [b, ' '])) : '';
    };
    const fromSel = h('select', { id: 'diff-from', name: 'from' }, versions.map((v) =>
      h('option', { value: v.version, selected: v.version === (params.get('from') ? +params.get('from') : (active ?? versions[0].version)) }, `v${v.version}`)));
    const toSel = h('select', { id: 'diff-to', name: 'to' }, versions.map((v) =>
      h('option', { value: v.version, selected: v.version === (params.get('to') ? +params.get('to') : latest) }, `v${v.version}`)));
    const diffOut = h('div', { class: 'diff-out', 'aria-live': 'polite' });
    const diffForm = h('form', { class: 'filters', 'aria-label': 'Compare versions' },
      h('label', { for: 'diff-from' }, 'From'), ' ', fromSel, ' ', h('label', { for: 'diff-to' }, 'to'), ' ', toSel, ' ',
      h('button', { type: 'submit' }, 'Show diff'));
    const showDiff = async () => {
      try {
        const d = await get(`/v1/programs/${enc}/diff`, { from: fromSel.value, to: toSel.value });
        clear(diffOut, diffView(d));
      } catch (e) {
        clear(diffOut, errorBox(e, ctx.role));
      }
    };
    diffForm.addEventListener('submit', (ev) => { ev.preventDefault(); showDiff(); });
    const docOut = h('pre', { class: 'document', tabindex: '0', 'aria-label': 'Version document' });
    const docSel = h('select', { id: 'doc-version', name: 'version' }, versions.map((v) =>
      h('option', { value: v.version, selected: v.version === latest }, `v${v.version}`)));
    const showDoc = async () => {
      try {
        const v = await get(`/v1/programs/${enc}/versions/${docSel.value}`);
        docOut.textContent = JSON.stringify(v.document, null, 2);
      } catch (e) {
        clear(docOut, errorBox(e, ctx.role));
      }
    };
    docSel.addEventListener('change', showDoc);
    const draftDoc = versions.length ? (await get(`/v1/programs/${enc}/versions/${latest}`)).document : undefined;
    clear(body,
      h('p', {}, `${p.name} · ${p.currency} · active version ${active ?? 'none'}`),
      ctx.can('programs.govern') ? null : notice(`Approving, activating and rolling back need an admin key; yours is ${ctx.role}.`, 'info'),
      h('section', { 'aria-labelledby': 'pv-h' }, h('h2', { id: 'pv-h' }, 'Versions'),
        table({ caption: 'Versions of this program', rows: versions, empty: 'No version.',
          rowAttrs: (v) => ({ dataset: { version: v.version } }),
          columns: [
            { label: 'Version', num: true, cell: (v) => String(v.version) },
            { label: 'Status', cell: (v) => [badge(v.status), v.version === active && v.status !== 'active' ? ' (active)' : ''] },
            { label: 'Author', cell: (v) => v.author },
            { label: 'Approved by', cell: (v) => v.approved_by || '—' },
            { label: 'Created', cell: (v) => time(v.created_at) },
            { label: 'Approved', cell: (v) => time(v.approved_at) },
            { label: 'Activated', cell: (v) => time(v.activated_at) },
            { label: 'Actions', cell: actionsFor },
          ] })),
      versions.length > 1 ? h('section', { 'aria-labelledby': 'pd-h' }, h('h2', { id: 'pd-h' }, 'Diff'), diffForm, diffOut) : null,
      h('section', { 'aria-labelledby': 'doc-h' }, h('h2', { id: 'doc-h' }, 'Document'),
        h('p', {}, h('label', { for: 'doc-version' }, 'Version'), ' ', docSel), docOut),
      ctx.can('programs.draft') ? h('section', { 'aria-labelledby': 'sim-h' }, h('h2', { id: 'sim-h' }, 'Simulate'),
        simulator(ctx, id, versions, latest)) : null,
      ctx.can('programs.draft') ? h('section', { 'aria-labelledby': 'draft-h' }, h('h2', { id: 'draft-h' }, 'New draft version'),
        draftEditor(ctx, { id, doc: draftDoc, onSaved: async (got) => {
          clear(messages, notice(`Version ${got.version} saved as a draft.`));
          await load();
        } })) : null);
    if (versions.length > 1) await showDiff();
    await showDoc();
  }
  await load().catch((e) => clear(body, errorBox(e, ctx.role)));
}

function value(v) {
  return v === undefined ? '—' : h('code', {}, JSON.stringify(v));
}

export function diffView(d) {
  return h('div', { class: 'diff', dataset: { economics: String(!!d.changes_economics) } },
    h('p', {}, `Version ${d.from} → ${d.to}: ${d.changes.length} change${d.changes.length === 1 ? '' : 's'}. `,
      d.changes_economics
        ? h('strong', { class: 'economics' }, 'Changes payout economics: a second admin (not the author) must approve it.')
        : 'Payout economics unchanged.'),
    table({ caption: 'What changed', rows: d.changes, empty: 'The two versions are the same.',
      columns: [
        { label: 'Path', cell: (c) => h('code', {}, c.path) },
        { label: 'Change', cell: (c) => c.op },
        { label: 'Before', cell: (c) => value(c.from) },
        { label: 'After', cell: (c) => value(c.to) },
      ] }));
}
