// The app shell: who is signed in, the navigation, hash routes, the landing after an
// OAuth callback, and one server-sent event stream of job progress for every page.

import { api, ApiError, session, owner, setOwner, jobListeners, loadSession } from './api.js';
import { h, mount, toast } from './dom.js';
import { signinPage, linkPage } from './signin.js';
import { integrationsPage, connectPage } from './integrations.js';
import { detailPage } from './detail.js';
import { searchPage } from './search.js';
import { orgsPage } from './orgs.js';
import { registryPage, jobsPage, statsPage, deliveriesPage } from './admin.js';
import { pluginsPage } from './admin_plugins.js';

const routes = [
  [/^#\/signin$/, signinPage, false],
  [/^#\/link\/([0-9a-f]{64})$/, linkPage, false],
  [/^#\/integrations$/, integrationsPage, true],
  [/^#\/connect\/([a-z0-9_-]+)$/, connectPage, true],
  [/^#\/integrations\/([a-z0-9_-]+)$/, detailPage, true],
  [/^#\/search$/, searchPage, true],
  [/^#\/organizations$/, orgsPage, true],
  [/^#\/admin\/registry$/, registryPage, 'admin'],
  [/^#\/admin\/plugins$/, pluginsPage, 'admin'],
  [/^#\/admin\/jobs$/, jobsPage, 'admin'],
  [/^#\/admin\/stats$/, statsPage, 'admin'],
  [/^#\/admin\/deliveries$/, deliveriesPage, 'admin'],
];

let events = null;

function listenToJobs() {
  if (events) return;
  events = new EventSource('/api/events');
  events.addEventListener('job', (e) => {
    let job;
    try {
      job = JSON.parse(e.data);
    } catch {
      return;
    }
    for (const fn of jobListeners) fn(job);
  });
}

function nav() {
  const top = document.getElementById('top');
  const s = session.current;
  if (!s) {
    mount(top, h('span', { class: 'brand' }, 'Tributary'));
    return;
  }
  const here = location.hash.split('?')[0];
  const item = (href, text) => h('a', { href, 'aria-current': here === href ? 'page' : null }, text);
  const ownerSelect = h('select', { 'aria-label': 'Acting for', id: 'owner-select',
    onchange: (e) => { setOwner(e.target.value); route(); } },
  h('option', { value: '' }, `Me (${s.user.email})`),
  s.organizations.map((o) => h('option', { value: o.slug, selected: o.slug === owner() }, `${o.slug} (${o.role})`)));
  const links = [item('#/integrations', 'Integrations'), item('#/search', 'Search'), item('#/organizations', 'Organizations')];
  if (s.user.is_admin) {
    links.push(h('span', { class: 'sep', 'aria-hidden': 'true' }, '|'),
      item('#/admin/registry', 'Registry'), item('#/admin/plugins', 'Plugins'),
      item('#/admin/jobs', 'Jobs'), item('#/admin/stats', 'Stats'), item('#/admin/deliveries', 'Deliveries'));
  }
  mount(top,
    h('a', { class: 'brand', href: '#/integrations' }, 'Tributary'),
    h('nav', { 'aria-label': 'Main' }, links),
    h('div', { class: 'who' }, ownerSelect,
      h('button', { type: 'button', class: 'link', id: 'signout', onclick: signOut }, 'Sign out')));
}

async function signOut() {
  try {
    await api('POST', '/api/auth/logout');
  } catch (e) {
    toast(e.message, 'error');
  }
  session.current = null;
  if (events) { events.close(); events = null; }
  location.hash = '#/signin';
}

export async function route() {
  // A route's own query (`#/admin/jobs?status=DEAD`) is the page's to read.
  const hash = (location.hash || '#/integrations').split('?')[0];
  const main = document.getElementById('main');
  jobListeners.clear();
  const found = routes.find(([re]) => re.test(hash));
  if (!found) {
    location.hash = session.current ? '#/integrations' : '#/signin';
    return;
  }
  const [re, page, needs] = found;
  if (needs && !session.current) {
    location.hash = '#/signin';
    return;
  }
  if (needs === 'admin' && !session.current.user.is_admin) {
    nav();
    mount(main, h('h1', {}, 'Not allowed'), h('p', {}, 'This page is for platform admins.'));
    return;
  }
  if (needs) listenToJobs();
  nav();
  const args = hash.match(re).slice(1).map(decodeURIComponent);
  try {
    await page(main, ...args);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      session.current = null;
      location.hash = '#/signin';
      return;
    }
    mount(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, e.message));
  }
  main.focus({ preventScroll: true });
}

/** After an OAuth callback the host sends the browser to `/?provider=…&status=…`. */
function oauthLanding() {
  const q = new URLSearchParams(location.search);
  if (!q.has('provider')) return;
  const provider = q.get('provider');
  if (q.get('status') === 'connected') toast(`Connected ${provider}. The first sync has started.`, 'ok');
  else toast(`Connecting ${provider} failed: ${q.get('message') || q.get('error')}`, 'error');
  const target = /^[a-z0-9_-]+$/.test(provider) && q.get('status') === 'connected'
    ? `#/integrations/${provider}` : '#/integrations';
  history.replaceState(null, '', `/${target}`);
}

window.addEventListener('hashchange', route);
oauthLanding();
loadSession().then(route, (e) => mount(document.getElementById('main'), h('p', { class: 'error' }, e.message)));
