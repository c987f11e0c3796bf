// Signing in: email and password, or a one-time link printed by `tributary users create`.

import { api, loadSession } from './api.js';
import { h, mount, field } from './dom.js';

export async function signinPage(main) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card narrow', id: 'signin-form', onsubmit: async (e) => {
    e.preventDefault();
    error.replaceChildren();
    try {
      await api('POST', '/api/auth/login', { email: email.value, password: password.value });
      await loadSession();
      location.hash = '#/integrations';
    } catch (err) {
      error.textContent = err.message;
      password.value = '';
      password.focus();
    }
  } },
  h('h1', {}, 'Sign in to Tributary'),
  field('Email', email), field('Password', password), error,
  h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  h('p', { class: 'muted' }, 'No password yet? An admin can print you a one-time sign-in link with ',
    h('code', {}, 'tributary users sign-in-link --email you@example.com'), '.'));
  mount(main, form);
  email.focus();
}

export async function linkPage(main, token) {
  mount(main, h('p', { class: 'muted' }, 'Signing you in…'));
  try {
    await api('POST', '/api/auth/link', { token });
    // The token must not stay in the address bar or the history.
    history.replaceState(null, '', '/#/integrations');
    await loadSession();
    location.hash = '#/integrations';
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } catch (err) {
    history.replaceState(null, '', '/#/signin');
    mount(main, h('div', { class: 'card narrow' }, h('h1', {}, 'This link did not work'),
      h('p', { class: 'error', role: 'alert' }, err.message),
      h('a', { href: '#/signin' }, 'Sign in with a password')));
  }
}
