// DOM helpers: every piece of text goes in as a text node and every link through
// `safeUrl`, so titles, snippets, URLs and messages from plugins and providers stay inert.

/** Build an element: `h('a', {class: 'x', onclick: fn}, 'text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'href') {
      const safe = safeUrl(v);
      if (safe) el.setAttribute('href', safe);
    } else if (k === 'value') {
      el.value = v;
    } else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'required') {
      el[k] = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** The URL if it is http(s) or an in-app hash route, else null (javascript:, data:, …). */
export function safeUrl(u) {
  if (typeof u !== 'string' || u.length > 4096) return null;
  if (u.startsWith('#/')) return u;
  try {
    const parsed = new URL(u, location.origin);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** A link to a provider's page (new tab), or plain text when the URL is not http(s). */
export function externalLink(url, text) {
  const safe = safeUrl(url);
  if (!safe || safe.startsWith('#')) return h('span', {}, text);
  return h('a', { href: safe, target: '_blank', rel: 'noopener noreferrer' }, text);
}

const units = [['year', 31536e6], ['month', 2592e6], ['week', 6048e5], ['day', 864e5],
  ['hour', 36e5], ['minute', 6e4], ['second', 1e3]];
const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "3 minutes ago", with the exact time in a tooltip. */
export function relTime(ms) {
  if (!ms) return h('span', { class: 'muted' }, 'never');
  const diff = ms - Date.now();
  let text = rtf.format(0, 'second');
  for (const [unit, size] of units) {
    if (Math.abs(diff) >= size || unit === 'second') {
      text = rtf.format(Math.round(diff / size), unit);
      break;
    }
  }
  const at = new Date(ms);
  return h('time', { datetime: at.toISOString(), title: at.toLocaleString() }, text);
}

/** A short-lived message for screen readers and eyes. */
export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  mount(el, h('div', { class: `toast-msg ${kind}` }, message));
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.replaceChildren(), 6000);
}

/** A progress bar for a running job (indeterminate until the walk knows a total). */
export function progress(job) {
  const done = job.resources_synced + job.resources_failed;
  const total = Math.max(job.resources_found, done);
  const label = `${job.status.toLowerCase()}: ${done} of ${total} resources`;
  const bar = h('progress', { max: total || 1, 'aria-label': label, 'data-job': job.id });
  if (total) bar.value = done;
  return h('div', { class: 'progress' }, bar, h('span', { class: 'muted' }, label));
}

/** An icon badge for a provider: its initials, coloured by a known icon name. */
export function providerIcon(icon, name) {
  const known = /^[a-z0-9-]{1,32}$/.test(icon || '') ? icon : 'other';
  const initials = (name || '?').split(/\s+/).map((w) => w[0]).join('').slice(0, 2);
  return h('span', { class: `picon picon-${known}`, 'aria-hidden': 'true' }, initials);
}

/** A labelled form field. */
export function field(label, input, help) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    help ? h('small', { class: 'muted' }, help) : null);
}

/** A status pill. */
export function pill(status) {
  return h('span', { class: `pill pill-${String(status).toLowerCase().replace(/[^a-z_]/g, '')}` }, status);
}
