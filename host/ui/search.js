// Search: words plus filters (provider, integration, time); results grouped so one
// document shows once, with its best passage, its provider and a link to the source.

import { api, base } from './api.js';
import { h, mount, relTime, providerIcon, field, externalLink } from './dom.js';

function group(results) {
  const docs = new Map();
  for (const r of results) {
    const key = `${r.integration_id}\u0000${r.external_id}`;
    const d = docs.get(key);
    if (d) d.passages += 1;
    else docs.set(key, { ...r, passages: 1 });
  }
  return [...docs.values()];
}

export async function searchPage(main) {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const [avail, conn] = await Promise.all([api('GET', base()), api('GET', `${base()}/connected`)]);
  const plugins = new Map(avail.integrations.map((a) => [a.provider.id, a.provider]));
  const q = h('input', { type: 'search', name: 'q', value: params.get('q') || '', required: true, placeholder: 'What are you looking for?' });
  const provider = h('select', { name: 'provider' }, h('option', { value: '' }, 'Any provider'),
    [...plugins.values()].map((p) => h('option', { value: p.id }, p.name)));
  const integration = h('select', { name: 'integration' }, h('option', { value: '' }, 'Any integration'),
    conn.integrations.map((i) => h('option', { value: i.id }, `${plugins.get(i.provider)?.name || i.provider}${i.account?.name ? ` (${i.account.name})` : ''}`)));
  const from = h('input', { type: 'date', name: 'from' });
  const to = h('input', { type: 'date', name: 'to' });
  const out = h('section', { id: 'results', 'aria-live': 'polite' });
  const run = async () => {
    const qs = new URLSearchParams({ q: q.value, limit: '50' });
    if (provider.value) qs.set('provider', provider.value);
    if (integration.value) qs.set('integration_id', integration.value);
    if (from.value) qs.set('from', String(Date.parse(`${from.value}T00:00:00`)));
    if (to.value) qs.set('to', String(Date.parse(`${to.value}T23:59:59`)));
    mount(out, h('p', { class: 'muted' }, 'Searching…'));
    try {
      const res = await api('GET', `/api/search?${qs}`);
      const docs = group(res.results).slice(0, 20);
      if (!docs.length) {
        mount(out, h('p', { class: 'empty' }, `Nothing found for “${q.value}”.`));
        return;
      }
      mount(out, h('p', { class: 'muted' }, `${docs.length} document(s) · ${res.mode}`), h('ol', { class: 'results' }, docs.map((d) => {
        const p = plugins.get(d.provider);
        return h('li', { class: 'result' },
          h('h3', {}, providerIcon(p?.icon, p?.name || d.provider), ' ', externalLink(d.url, d.title || d.external_id)),
          h('p', { class: 'snippet' }, d.snippet || '(metadata only)'),
          h('p', { class: 'muted' }, p?.name || d.provider, ' · ', d.kind, ' · updated ', relTime(d.updated_at),
            d.passages > 1 ? ` · ${d.passages} matching passages` : ''));
      })));
    } catch (e) {
      mount(out, h('p', { class: 'error', role: 'alert' }, e.message));
    }
  };
  const form = h('form', { class: 'card', id: 'search-form', role: 'search', onsubmit: (e) => { e.preventDefault(); run(); } },
    h('h1', {}, 'Search'),
    h('div', { class: 'row' }, field('Search for', q), h('button', { type: 'submit', class: 'primary' }, 'Search')),
    h('div', { class: 'row' }, field('Provider', provider), field('Integration', integration), field('Changed from', from), field('Changed until', to)));
  mount(main, form, out);
  q.focus();
  if (q.value) run();
}
