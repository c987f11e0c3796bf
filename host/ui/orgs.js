// Organizations: switch between my account and my organizations; members and roles,
// which admins manage (owners alone make owners).

import { api, session, setOwner, owner } from './api.js';
import { h, mount, field, toast } from './dom.js';

const ROLES = ['member', 'admin', 'owner'];

async function membersCard(org) {
  const slug = encodeURIComponent(org.slug);
  const box = h('section', { class: 'card', 'data-org': org.slug });
  const manage = org.role === 'owner' || org.role === 'admin';
  const render = async () => {
    const { members } = await api('GET', `/api/organizations/${slug}/members`);
    const change = async (method, path, body) => {
      try {
        await api(method, `/api/organizations/${slug}/members${path}`, body);
        toast('Members updated.', 'ok');
        await render();
      } catch (e) {
        toast(e.message, 'error');
      }
    };
    const email = h('input', { type: 'email', name: 'email', required: true });
    const role = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r }, r)));
    mount(box,
      h('h2', {}, org.slug, ' ', h('span', { class: 'muted' }, `· you are ${org.role} · plan ${org.plan}`)),
      h('button', { type: 'button', onclick: () => { setOwner(org.slug); location.hash = '#/integrations'; } },
        owner() === org.slug ? 'Acting for this organization' : `Switch to ${org.slug}`),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Member'), h('th', { scope: 'col' }, 'Role'), manage ? h('th', { scope: 'col' }, '') : null)),
        h('tbody', {}, members.map((m) => h('tr', {},
          h('td', {}, m.email),
          h('td', {}, manage
            ? h('select', { 'aria-label': `Role of ${m.email}`, onchange: (e) => change('PUT', '', { email: m.email, role: e.target.value }) },
              ROLES.map((r) => h('option', { value: r, selected: r === m.role }, r)))
            : m.role),
          manage ? h('td', {}, h('button', { type: 'button', class: 'link danger', 'aria-label': `Remove ${m.email}`,
            onclick: () => window.confirm(`Remove ${m.email} from ${org.slug}?`) && change('DELETE', `/${encodeURIComponent(m.user_id)}`) }, 'Remove')) : null)))),
      manage ? h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); change('PUT', '', { email: email.value, role: role.value }); } },
        field('Add a member by email', email), field('Role', role), h('button', { type: 'submit' }, 'Add')) : null);
  };
  await render();
  return box;
}

export async function orgsPage(main) {
  const { organizations } = await api('GET', '/api/organizations');
  if (!organizations.length) {
    mount(main, h('h1', {}, 'Organizations'),
      h('p', { class: 'empty' }, 'You are not in any organization. An owner can add you by your email, ', session.current.user.email, '.'));
    return;
  }
  const cards = await Promise.all(organizations.map(membersCard));
  mount(main, h('h1', {}, 'Organizations'),
    h('button', { type: 'button', onclick: () => { setOwner(''); location.hash = '#/integrations'; } }, 'Act for my own account'),
    cards);
}
