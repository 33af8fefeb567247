// Shared pieces of the console's screens: element building, tables, health colours and
// bars, confirm buttons, the error banner, navigation, and the state of the current screen.

/** How often self-refreshing screens (services, listeners, cluster) fetch again. */
export const REFRESH_MS = 3000;

/** The shown screen: its number (bumped on every navigation, so that a stale async render
 * does not paint over a newer one) and its refresh timer. */
export const screen = { generation: 0, timer: null };

export const view = document.getElementById('view');
const banner = document.getElementById('banner');

/** `h('td', {class: 'num'}, 'text', child)`: an element with attributes and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'testid') element.dataset.testid = value;
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function table(headers, rows, testid) {
  return h('table', { testid },
    h('thead', {}, h('tr', {}, headers.map((name) =>
      h('th', { class: /count|weight|port|healthy|instances|clusters/i.test(name) ? 'num' : null }, name)))),
    h('tbody', {}, rows.length ? rows
      : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'Nothing here.'))));
}

export function showError(error) {
  if (error instanceof api.ApiError && error.status === 403) return;
  banner.textContent = error instanceof Error ? error.message : String(error);
  banner.hidden = false;
}

export function clearError() {
  banner.hidden = true;
  banner.textContent = '';
}

/** A button that asks for a second click within 4 s before it acts. */
export function confirmButton(label, testid, action) {
  let armedUntil = 0;
  const button = h('button', { class: 'danger', testid, type: 'button' }, label);
  button.addEventListener('click', async () => {
    if (Date.now() > armedUntil) {
      armedUntil = Date.now() + 4000;
      button.textContent = `Confirm ${label.toLowerCase()}?`;
      button.classList.add('armed');
      setTimeout(() => {
        if (Date.now() > armedUntil) {
          button.textContent = label;
          button.classList.remove('armed');
        }
      }, 4100);
      return;
    }
    armedUntil = 0;
    try {
      await action();
    } catch (error) {
      showError(error);
    }
  });
  return button;
}

export function healthClass(healthy, total) {
  if (total === 0) return 'muted';
  if (healthy === total) return 'ok';
  return healthy === 0 ? 'bad' : 'warn';
}

export function healthBar(healthy, total) {
  const share = total === 0 ? 0 : (100 * healthy) / total;
  return h('div', { class: 'bar', title: `${healthy} of ${total} healthy` },
    h('div', { class: 'h', style: `width:${share}%` }),
    h('div', { class: 'u', style: `width:${total === 0 ? 0 : 100 - share}%` }));
}

export function namespace() {
  return document.getElementById('namespace').value;
}

export function routeParams() {
  const hash = location.hash || '#/services';
  const at = hash.indexOf('?');
  const path = at < 0 ? hash.slice(1) : hash.slice(1, at);
  return { path, params: new URLSearchParams(at < 0 ? '' : hash.slice(at + 1)) };
}

/** Renders the current screen again (the router listens to `hashchange`). */
export function rerender() {
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

/** Navigates to `hash`, rendering again when it is the current one. */
export function go(hash) {
  if (location.hash === hash) rerender();
  else location.hash = hash;
}

export function link(path, params, text, testid) {
  return h('a', { href: `#${path}?${new URLSearchParams(params)}`, testid }, text);
}


/**
 * "Page n of m" with previous and next buttons; `goTo(pageNo)` navigates. Nothing when all
 * fits on one page.
 */
export function pager(pageNo, total, pageSize, goTo) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (pages === 1) return null;
  return h('div', { class: 'toolbar', testid: 'pager' },
    h('button', { class: 'secondary', type: 'button', testid: 'page-previous',
      disabled: pageNo <= 1, onclick: () => goTo(pageNo - 1) }, '‹ Previous'),
    h('span', { testid: 'page-number' }, `Page ${pageNo} of ${pages} (${total})`),
    h('button', { class: 'secondary', type: 'button', testid: 'page-next',
      disabled: pageNo >= pages, onclick: () => goTo(pageNo + 1) }, 'Next ›'));
}

/** A positive page number from the route, 1 when absent or invalid. */
export function pageParam(params) {
  const value = Number.parseInt(params.get('page') || '1', 10);
  return Number.isFinite(value) && value >= 1 ? value : 1;
}
