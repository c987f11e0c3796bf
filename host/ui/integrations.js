// The integrations page (what I can connect, what is connected, live sync progress,
// errors in words with the action that fixes them) and the connect form.

import { api, base, canWrite, owner, jobListeners } from './api.js';
import { h, mount, relTime, progress, providerIcon, field, pill, toast, safeUrl } from './dom.js';

/** What a status means for a person, and what to do. */
export function statusHelp(i) {
  switch (i.status) {
    case 'TOKEN_EXPIRED': return ['The provider no longer accepts the saved sign-in.', 'Reconnect'];
    case 'ERROR': return [i.last_error || 'The last sync failed.', 'Retry now'];
    case 'RATE_LIMITED': return ['The provider asked us to slow down; the sync resumes by itself.', null];
    case 'PAUSED': return ['Paused: nothing syncs until you resume.', 'Resume'];
    default: return [i.last_error, null];
  }
}

function card(p, i, job) {
  const title = h('h2', {}, providerIcon(p.icon, p.name), ' ', p.name);
  const body = [h('p', { class: 'muted' }, p.description)];
  const actions = [];
  if (i) {
    const [help] = statusHelp(i);
    body.push(h('p', {}, pill(i.status), ' ', i.account?.name ? `as ${i.account.name}` : '',
      ' · last sync ', relTime(i.last_sync_at)));
    if (help) body.push(h('p', { class: i.status === 'ERROR' || i.status === 'TOKEN_EXPIRED' ? 'error' : 'muted' }, help));
    body.push(h('div', { class: 'job-slot', 'data-integration': i.id }, job ? progress(job) : null));
    actions.push(h('a', { class: 'button', href: `#/integrations/${p.id}` }, 'Open'));
    if (i.status === 'TOKEN_EXPIRED' && canWrite()) actions.push(h('a', { class: 'button primary', href: `#/connect/${p.id}` }, 'Reconnect'));
  } else if (canWrite()) {
    actions.push(h('a', { class: 'button primary', href: `#/connect/${p.id}` }, `Connect ${p.name}`));
  }
  return h('article', { class: 'card', 'data-provider': p.id }, title, body, h('div', { class: 'actions' }, actions));
}

export async function integrationsPage(main) {
  const [avail, conn] = await Promise.all([api('GET', base()), api('GET', `${base()}/connected`)]);
  const connected = new Map(conn.integrations.map((i) => [i.provider, i]));
  const providers = avail.integrations.map((a) => a.provider);
  const mine = providers.filter((p) => connected.has(p.id));
  const others = providers.filter((p) => !connected.has(p.id));
  const who = owner() ? `${owner()}'s integrations` : 'My integrations';
  mount(main,
    h('h1', {}, who),
    mine.length
      ? h('section', { class: 'grid', 'aria-label': 'Connected' }, mine.map((p) => card(p, connected.get(p.id))))
      : h('p', { class: 'empty' }, canWrite() ? 'No integrations yet — connect one below.' : 'No integrations yet.'),
    h('h2', {}, 'Available'),
    others.length
      ? h('section', { class: 'grid', 'aria-label': 'Available' }, others.map((p) => card(p, null)))
      : h('p', { class: 'empty' }, 'Every provider offered to you is connected.'));
  jobListeners.add((job) => {
    if (job.external_id) return;
    const slot = main.querySelector(`.job-slot[data-integration="${CSS.escape(job.integration_id)}"]`);
    if (!slot) return;
    if (job.status === 'RUNNING' || job.status === 'PENDING') mount(slot, progress(job));
    else mount(slot, h('p', { class: 'muted' }, `Last sync ${job.status.toLowerCase()}: ${job.resources_synced} synced, ${job.resources_failed} failed`));
  });
}

function configInput(f, value) {
  const v = value ?? f.default ?? '';
  switch (f.kind) {
    case 'boolean': return h('input', { type: 'checkbox', name: f.key, checked: v === true || v === 'true' });
    case 'number': return h('input', { type: 'number', name: f.key, value: v, required: f.required });
    case 'url': return h('input', { type: 'url', name: f.key, value: v, required: f.required });
    default: return h('input', { type: 'text', name: f.key, value: v, required: f.required });
  }
}

/** Config fields a form can edit (secrets travel as credentials, never as settings). */
export function configFields(plugin, current = {}) {
  return plugin.config.filter((f) => f.kind !== 'secret')
    .map((f) => field(f.label || f.key, configInput(f, current[f.key]), f.help));
}

/** The config object from a form's config fields. */
export function readConfig(form, plugin) {
  const out = {};
  for (const f of plugin.config.filter((x) => x.kind !== 'secret')) {
    const el = form.elements.namedItem(f.key);
    if (!el) continue;
    if (f.kind === 'boolean') out[f.key] = el.checked;
    else if (el.value === '') continue;
    else if (f.kind === 'number') out[f.key] = Number(el.value);
    else out[f.key] = el.value;
  }
  return out;
}

export async function connectPage(main, provider) {
  const avail = await api('GET', base());
  const p = avail.integrations.map((a) => a.provider).find((x) => x.id === provider);
  if (!p) {
    mount(main, h('h1', {}, 'Not available'), h('p', {}, `“${provider}” is not offered to this account.`));
    return;
  }
  const strategy = h('select', { name: 'storage_strategy' },
    h('option', { value: 'FULL_CONTENT' }, 'Full content (search the text)'),
    h('option', { value: 'METADATA_ONLY' }, 'Metadata only (titles and links, no text)'));
  const creds = [];
  if (p.auth === 'api_key') creds.push(field('API key', h('input', { type: 'password', name: 'api_key', required: true, autocomplete: 'off' })));
  if (p.auth === 'basic') {
    creds.push(field('Username', h('input', { type: 'text', name: 'username', required: true, autocomplete: 'off' })));
    creds.push(field('Password', h('input', { type: 'password', name: 'password', required: true, autocomplete: 'off' })));
  }
  if (p.auth === 'oauth2') {
    creds.push(field('Personal access token (optional)', h('input', { type: 'password', name: 'api_key', autocomplete: 'off' }),
      `Leave empty to sign in with ${p.name}. Some providers also accept a token you create in their settings.`));
  }
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card', id: 'connect-form', onsubmit: async (e) => {
    e.preventDefault();
    error.replaceChildren();
    const body = { config: readConfig(form, p), storage_strategy: strategy.value };
    for (const k of ['api_key', 'username', 'password']) {
      const el = form.elements.namedItem(k);
      if (el && el.value) body[k] = el.value;
    }
    try {
      const out = await api('POST', `${base()}/${p.id}/connect`, body);
      if (out && out.auth_url) {
        const url = safeUrl(out.auth_url);
        if (!url || url.startsWith('#')) throw new Error('the provider sent an authorization address that is not http(s)');
        location.assign(url);
        return;
      }
      toast(`Connected ${p.name}. The first sync has started.`, 'ok');
      location.hash = `#/integrations/${p.id}`;
    } catch (err) {
      error.textContent = err.message;
    }
  } },
  h('h1', {}, providerIcon(p.icon, p.name), ' Connect ', p.name),
  h('p', { class: 'muted' }, p.description),
  configFields(p), field('What to keep', strategy), creds, error,
  h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary' }, p.auth === 'oauth2' ? `Continue to ${p.name}` : 'Connect'),
    h('a', { href: '#/integrations' }, 'Cancel')));
  mount(main, form);
}
