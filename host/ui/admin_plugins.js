// Plugins (platform admins): upload a .wasm, remove, versions, permission approvals,
// base-URL overrides and each OAuth provider's client.

import { api } from './api.js';
import { h, mount, toast, field, providerIcon } from './dom.js';

async function settingsCard(p) {
  const id = encodeURIComponent(p.id);
  const s = await api('GET', `/api/admin/providers/${id}/settings`);
  const overrides = h('textarea', { rows: 3, 'aria-label': `Base-URL overrides for ${p.name}`, name: 'base_urls' },
    Object.entries(s.base_urls || {}).map(([from, to]) => `${from} = ${to}`).join('\n'));
  const perms = p.permissions.map((perm) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'perm', value: perm, checked: (s.approved_permissions || []).includes(perm) }), `Approve ${perm}`));
  const form = h('form', { class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    const base_urls = {};
    for (const line of overrides.value.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const [from, to] = line.split('=').map((x) => x && x.trim());
      if (!from || !to) { toast(`“${line}” is not “from = to”.`, 'error'); return; }
      base_urls[from] = to;
    }
    const approved_permissions = [...form.querySelectorAll('input[name=perm]:checked')].map((x) => x.value);
    try {
      await api('PUT', `/api/admin/providers/${id}/settings`, { ...s, base_urls, approved_permissions });
      toast(`Saved settings of ${p.name}.`, 'ok');
    } catch (err) {
      toast(err.message, 'error');
    }
  } }, field('Base-URL overrides (one “from = to” per line)', overrides), perms, h('button', { type: 'submit' }, 'Save settings'));
  const parts = [form];
  if (p.auth === 'oauth2') {
    const client = await api('GET', `/api/admin/providers/${id}/oauth`);
    const cid = h('input', { type: 'text', name: 'client_id', value: client.client_id || '', required: true });
    const secret = h('input', { type: 'password', name: 'client_secret', required: true, autocomplete: 'off',
      placeholder: client.client_secret_set ? 'set (type to replace)' : '' });
    parts.push(h('form', { class: 'stack', onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api('PUT', `/api/admin/providers/${id}/oauth`, { client_id: cid.value, client_secret: secret.value });
        secret.value = '';
        toast(`Saved the OAuth client of ${p.name}.`, 'ok');
      } catch (err) {
        toast(err.message, 'error');
      }
    } }, h('h4', {}, 'OAuth client'), field('Client id', cid), field('Client secret', secret), h('button', { type: 'submit' }, 'Save client')));
  }
  return h('details', {}, h('summary', {}, 'Settings'), parts);
}

export async function pluginsPage(main) {
  const { plugins, files } = await api('GET', '/api/admin/plugins');
  const file = h('input', { type: 'file', accept: '.wasm,application/wasm', name: 'plugin', required: true, id: 'plugin-file' });
  const upload = h('form', { class: 'card', id: 'upload-form', onsubmit: async (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) return;
    try {
      const p = await api('POST', '/api/admin/plugins', await f.arrayBuffer(), true);
      toast(`Installed ${p.name} ${p.version}.`, 'ok');
      await pluginsPage(main);
    } catch (err) {
      toast(`Refused: ${err.message}`, 'error');
    }
  } }, h('h2', {}, 'Install a plugin'), field('Plugin file (.wasm component)', file),
  h('button', { type: 'submit', class: 'primary' }, 'Upload and install'));
  const remove = async (p) => {
    if (!window.confirm(`Remove ${p.name}? Its integrations stop syncing; their data is kept.`)) return;
    try {
      await api('DELETE', `/api/admin/plugins/${encodeURIComponent(p.id)}`);
      toast(`Removed ${p.name}.`, 'ok');
      await pluginsPage(main);
    } catch (err) {
      toast(err.message, 'error');
    }
  };
  const cards = await Promise.all(plugins.map(async (p) => h('article', { class: 'card', 'data-plugin': p.id },
    h('h3', {}, providerIcon(p.icon, p.name), ' ', p.name, ' ', h('span', { class: 'muted' }, `${p.version} · WIT ${p.wit_version}`)),
    h('p', { class: 'muted' }, p.description),
    h('p', {}, 'Auth: ', p.auth, ' · hosts: ', p.allowed_hosts.join(', ') || 'none',
      p.permissions.length ? ` · asks for: ${p.permissions.join(', ')}` : ''),
    h('p', {}, h('small', { class: 'muted' }, `${p.file} · sha256 ${p.sha256.slice(0, 16)}…`)),
    await settingsCard(p),
    h('button', { type: 'button', class: 'danger', onclick: () => remove(p) }, `Remove ${p.name}`))));
  const refused = (files || []).filter((f) => f.error);
  mount(main, h('h1', {}, 'Plugins'), upload,
    refused.length ? h('section', { class: 'card' }, h('h2', {}, 'Refused files'),
      h('ul', {}, refused.map((f) => h('li', {}, h('code', {}, f.file_name || f.file || '?'), ': ', f.error)))) : null,
    h('section', { class: 'grid' }, cards));
}
