// One integration: settings, storage strategy, frequency, sync now, pause/resume,
// disconnect (with the purge choice), job history with per-resource failures, and the
// provider-side subscription.

import { api, base, canWrite, jobListeners } from './api.js';
import { h, mount, relTime, progress, providerIcon, field, pill, toast } from './dom.js';
import { configFields, readConfig, statusHelp } from './integrations.js';

const FREQUENCIES = [['REALTIME', 'Real time (push, when the provider offers it)'], ['FIFTEEN_MIN', 'Every 15 minutes'],
  ['HOURLY', 'Hourly'], ['DAILY', 'Daily'], ['MANUAL', 'Only when I ask']];

function failures(job) {
  if (!job.error_details) return null;
  let details;
  try {
    details = JSON.parse(job.error_details);
  } catch {
    return h('pre', { class: 'details' }, job.error_details);
  }
  const list = Array.isArray(details) ? details : null;
  if (!list) return h('pre', { class: 'details' }, JSON.stringify(details, null, 2));
  return h('details', {}, h('summary', {}, `${list.length} resource(s) failed`),
    h('ul', {}, list.slice(0, 50).map((f) => h('li', {}, h('code', {}, String(f.id ?? '?')), ` (${f.code ?? 'error'}): `, String(f.error ?? '')))));
}

function jobRow(j) {
  return h('tr', {},
    h('td', {}, relTime(j.created_at)), h('td', {}, j.mode), h('td', {}, j.trigger), h('td', {}, pill(j.status)),
    h('td', { class: 'num' }, String(j.resources_synced)), h('td', { class: 'num' }, String(j.resources_failed)),
    h('td', {}, j.error_message || '', failures(j)));
}

export async function detailPage(main, provider) {
  const [i, avail] = await Promise.all([api('GET', `${base()}/${provider}`), api('GET', base())]);
  const p = avail.integrations.map((a) => a.provider).find((x) => x.id === provider) || { id: provider, name: provider, config: [] };
  const write = canWrite();
  const reload = () => {
    jobListeners.clear();
    return detailPage(main, provider);
  };
  const act = async (method, path, body, done) => {
    try {
      await api(method, `${base()}/${provider}${path}`, body);
      if (done) toast(done, 'ok');
      await reload();
    } catch (e) {
      toast(e.message, 'error');
    }
  };
  const [help, fix] = statusHelp(i);
  const jobSlot = h('div', { id: 'current-job' }, i.current_job ? progress(i.current_job) : h('p', { class: 'muted' }, 'No sync running.'));

  const frequency = h('select', { name: 'sync_frequency', disabled: !write },
    FREQUENCIES.map(([v, t]) => h('option', { value: v, selected: i.sync_frequency === v }, t)));
  const strategy = h('select', { name: 'storage_strategy', disabled: !write },
    h('option', { value: 'FULL_CONTENT', selected: i.storage_strategy === 'FULL_CONTENT' }, 'Full content'),
    h('option', { value: 'METADATA_ONLY', selected: i.storage_strategy === 'METADATA_ONLY' }, 'Metadata only'));
  const settings = h('form', { class: 'card', id: 'settings-form', onsubmit: (e) => {
    e.preventDefault();
    act('PUT', '/config', { config: readConfig(settings, p), storage_strategy: strategy.value, sync_frequency: frequency.value }, 'Settings saved.');
  } }, h('h2', {}, 'Settings'), configFields(p, i.config), field('How often', frequency), field('What to keep', strategy),
  write ? h('button', { type: 'submit', class: 'primary' }, 'Save settings') : null);
  if (!write) for (const el of settings.querySelectorAll('input')) el.disabled = true;

  const purge = h('input', { type: 'checkbox', name: 'purge', id: 'purge' });
  const controls = write ? h('div', { class: 'actions' },
    h('button', { type: 'button', id: 'sync-now', class: 'primary', disabled: i.status === 'PAUSED',
      onclick: () => act('POST', '/sync', { mode: 'incremental' }, 'Sync queued.') }, fix === 'Retry now' ? 'Retry now' : 'Sync now'),
    h('button', { type: 'button', id: 'full-sync', disabled: i.status === 'PAUSED',
      onclick: () => act('POST', '/sync', { mode: 'full' }, 'Full sync queued.') }, 'Full resync'),
    i.status === 'PAUSED'
      ? h('button', { type: 'button', id: 'resume', onclick: () => act('POST', '/resume', undefined, 'Resumed.') }, 'Resume')
      : h('button', { type: 'button', id: 'pause', onclick: () => act('POST', '/pause', undefined, 'Paused.') }, 'Pause'),
    i.status === 'TOKEN_EXPIRED' ? h('a', { class: 'button', href: `#/connect/${provider}` }, 'Reconnect') : null) : null;

  const disconnect = write ? h('form', { class: 'card danger', id: 'disconnect-form', onsubmit: async (e) => {
    e.preventDefault();
    const what = purge.checked ? 'Disconnect and delete everything indexed from it?' : 'Disconnect? What is indexed stays searchable.';
    if (!window.confirm(what)) return;
    try {
      await api('DELETE', `${base()}/${provider}`, { purge: purge.checked });
      toast(`${p.name} disconnected.`, 'ok');
      location.hash = '#/integrations';
    } catch (err) {
      toast(err.message, 'error');
    }
  } }, h('h2', {}, 'Disconnect'),
  h('div', { class: 'check' }, purge, h('label', { for: 'purge' }, 'Also delete everything indexed from this integration')),
  h('button', { type: 'submit', class: 'danger' }, `Disconnect ${p.name}`)) : null;

  const sub = i.subscription;
  mount(main,
    h('h1', {}, providerIcon(p.icon, p.name), ' ', p.name),
    h('section', { class: 'card' },
      h('p', {}, pill(i.status), ' ', i.account?.name ? `Connected as ${i.account.name}` : '', ' · connected ', relTime(i.connected_at),
        ' · last sync ', relTime(i.last_sync_at)),
      help ? h('p', { class: i.status === 'ERROR' || i.status === 'TOKEN_EXPIRED' ? 'error' : 'muted', role: 'status' }, help) : null,
      jobSlot,
      i.pending_resource_jobs ? h('p', { class: 'muted' }, `${i.pending_resource_jobs} pushed change(s) waiting.`) : null,
      sub ? h('p', { class: 'muted' }, 'Push: ', pill(sub.state || 'unknown'),
        sub.expires_at ? [' · expires ', relTime(sub.expires_at), ', renewed before then'] : '', sub.last_error ? ` · ${sub.last_error}` : '') : null,
      controls),
    settings,
    h('section', { class: 'card' }, h('h2', {}, 'Sync history'),
      i.recent_jobs.length
        ? h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['When', 'Mode', 'Trigger', 'Status', 'Synced', 'Failed', 'Errors'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, i.recent_jobs.map(jobRow))))
        : h('p', { class: 'empty' }, 'No syncs yet.')),
    disconnect);

  let reloading = false;
  jobListeners.add((job) => {
    if (job.integration_id !== i.id || job.external_id) return;
    if (job.status === 'RUNNING' || job.status === 'PENDING') {
      mount(jobSlot, progress(job));
    } else if (!reloading) {
      reloading = true;
      reload();
    }
  });
}
