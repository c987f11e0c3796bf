// Platform admin pages: the integration registry, the sync-job monitor (filters, dead
// letters with retry), stats, and the webhook delivery log (unmatched deliveries).

import { api } from './api.js';
import { h, mount, relTime, pill, toast, field, providerIcon } from './dom.js';

const table = (heads, rows) => h('div', { class: 'scroll' }, h('table', {},
  h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows)));

export async function registryPage(main) {
  const { providers } = await api('GET', '/api/admin/integrations/registry');
  const save = async (id, body) => {
    try {
      await api('PUT', `/api/admin/integrations/registry/${encodeURIComponent(id)}`, body);
      toast(`Saved ${id}.`, 'ok');
      await registryPage(main);
    } catch (e) {
      toast(e.message, 'error');
    }
  };
  mount(main, h('h1', {}, 'Integration registry'),
    h('p', { class: 'muted' }, 'Which providers people may connect, and on which plans (none listed: every plan).'),
    table(['Provider', 'Enabled', 'Plans', 'Actions enabled'], providers.map(({ registry: r, plugin: p }) => {
      const plans = h('input', { type: 'text', value: r.allowed_plans.join(', '), 'aria-label': `Plans for ${p.name}` });
      return h('tr', { 'data-provider': p.id },
        h('td', {}, providerIcon(p.icon, p.name), ' ', p.name, h('br'), h('small', { class: 'muted' }, `${p.id} ${p.version}`)),
        h('td', {}, h('input', { type: 'checkbox', checked: r.enabled, 'aria-label': `${p.name} enabled`, class: 'toggle-enabled',
          onchange: (e) => save(p.id, { enabled: e.target.checked }) })),
        h('td', {}, h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault();
          save(p.id, { allowed_plans: plans.value.split(',').map((s) => s.trim()).filter(Boolean) }); } },
        plans, h('button', { type: 'submit' }, 'Save'))),
        h('td', {}, p.actions.length
          ? p.actions.map((a) => h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: r.enabled_actions.includes(a.name),
            onchange: (e) => save(p.id, { enabled_actions: e.target.checked
              ? [...r.enabled_actions, a.name] : r.enabled_actions.filter((x) => x !== a.name) }) }), a.title || a.name))
          : h('span', { class: 'muted' }, 'none')));
    })));
}

export async function jobsPage(main) {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const status = h('select', { name: 'status', id: 'job-status' }, ['', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'DEAD', 'CANCELLED']
    .map((s) => h('option', { value: s, selected: s === (params.get('status') || '') }, s || 'Any status')));
  const qs = new URLSearchParams({ limit: '100' });
  if (status.value) qs.set('status', status.value);
  const integration = params.get('integration_id');
  if (integration) qs.set('integration_id', integration);
  const { jobs } = await api('GET', `/api/admin/integrations/sync-jobs?${qs}`);
  const retry = async (id) => {
    try {
      await api('POST', `/api/admin/integrations/sync-jobs/${encodeURIComponent(id)}/retry`);
      toast('Job queued again.', 'ok');
      await jobsPage(main);
    } catch (e) {
      toast(e.message, 'error');
    }
  };
  mount(main, h('h1', {}, 'Sync jobs'),
    integration ? h('p', { class: 'muted' }, `Jobs of integration ${integration} · `, h('a', { href: '#/admin/jobs' }, 'all jobs')) : null,
    h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); location.hash = `#/admin/jobs?status=${status.value}`; } },
      field('Status', status), h('button', { type: 'submit' }, 'Filter')),
    jobs.length ? table(['Created', 'Provider', 'Mode', 'Trigger', 'Status', 'Attempts', 'Synced', 'Failed', 'Error', ''], jobs.map((j) => h('tr', { 'data-job': j.id },
      h('td', {}, relTime(j.created_at)), h('td', {}, j.provider), h('td', {}, j.mode), h('td', {}, j.trigger), h('td', {}, pill(j.status)),
      h('td', { class: 'num' }, `${j.attempts}/${j.max_attempts}`), h('td', { class: 'num' }, String(j.resources_synced)),
      h('td', { class: 'num' }, String(j.resources_failed)), h('td', {}, j.error_message || ''),
      h('td', {}, j.status === 'DEAD' ? h('button', { type: 'button', class: 'retry', onclick: () => retry(j.id) }, 'Retry') : null))))
      : h('p', { class: 'empty' }, 'No jobs match.'));
}

export async function statsPage(main) {
  const [s, { integrations }] = await Promise.all([api('GET', '/api/admin/integrations/stats'), api('GET', '/api/admin/integrations?limit=500')]);
  const counts = (obj) => h('dl', { class: 'counts' }, Object.entries(obj).map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
  mount(main, h('h1', {}, 'Stats'),
    h('section', { class: 'grid' },
      h('article', { class: 'card' }, h('h2', {}, 'Integrations by status'), counts(s.integrations_by_status)),
      h('article', { class: 'card' }, h('h2', {}, 'Jobs by status'), counts(s.jobs_by_status)),
      h('article', { class: 'card' }, h('h2', {}, 'Success rate'),
        h('p', { class: 'big' }, s.success_rate === null || s.success_rate === undefined ? '—' : `${Math.round(s.success_rate * 1000) / 10}%`))),
    h('h2', {}, 'Every integration'),
    table(['Provider', 'Owner', 'Account', 'Status', 'Last sync', 'Last error', ''], integrations.map((i) => h('tr', {},
      h('td', {}, i.provider), h('td', {}, `${i.owner.kind}:${i.owner.id.slice(0, 8)}`), h('td', {}, i.account?.name || ''),
      h('td', {}, pill(i.status)), h('td', {}, relTime(i.last_sync_at)), h('td', {}, i.last_error || ''),
      h('td', {}, h('a', { href: `#/admin/jobs?integration_id=${encodeURIComponent(i.id)}` }, 'Jobs'))))));
}

export async function deliveriesPage(main) {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const state = params.get('state') || 'UNMATCHED';
  const { counts, deliveries } = await api('GET', `/api/admin/webhooks/deliveries?state=${encodeURIComponent(state)}&limit=100`);
  mount(main, h('h1', {}, 'Webhook deliveries'),
    h('p', {}, Object.entries(counts).map(([k, v]) => h('a', { class: 'button', href: `#/admin/deliveries?state=${k}`, 'aria-current': k === state ? 'page' : null }, `${k}: ${v}`))),
    deliveries.length ? table(['Received', 'Provider', 'Integration', 'Account', 'Delivery id', 'State', 'Changes', 'Error'], deliveries.map((d) => h('tr', {},
      h('td', {}, relTime(d.received_at)), h('td', {}, d.provider), h('td', {}, d.integration_id || '—'), h('td', {}, d.account_id || '—'),
      h('td', {}, d.delivery_id || '—'), h('td', {}, pill(d.state)), h('td', { class: 'num' }, String(d.changes)), h('td', {}, d.error || ''))))
      : h('p', { class: 'empty' }, `No ${state.toLowerCase()} deliveries.`));
}
