// The nacore web console: hash-routed screens over the Nacos HTTP API, and the login flow
// (a 403 from any call shows the login screen; the token is kept for the session).

import * as api from './api.js';
import { screen, showError, clearError, routeParams } from './dom.js';
import { servicesScreen, serviceScreen } from './services.js';
import { configsScreen, editScreen, historyScreen, listenersScreen } from './configs.js';
import { namespacesScreen, refreshNamespaces } from './namespaces.js';
import { clusterScreen } from './cluster.js';

const SCREENS = {
  '/services': servicesScreen,
  '/service': serviceScreen,
  '/configs': configsScreen,
  '/config/edit': editScreen,
  '/config/history': historyScreen,
  '/config/listeners': listenersScreen,
  '/namespaces': namespacesScreen,
  '/cluster': clusterScreen,
};

async function render() {
  if (screen.timer !== null) clearInterval(screen.timer);
  screen.timer = null;
  screen.generation++;
  const mine = screen.generation;
  clearError();
  const { path, params } = routeParams();
  const show = SCREENS[path] || servicesScreen;
  const section = path.startsWith('/config') ? '/configs' : path === '/service' ? '/services' : path;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === `#${section}`);
  }
  try {
    await show(params, mine);
  } catch (error) {
    if (mine === screen.generation) showError(error);
  }
}

function showLogin(message) {
  if (screen.timer !== null) clearInterval(screen.timer);
  screen.timer = null;
  document.getElementById('login').hidden = false;
  document.getElementById('login-error').textContent = message || '';
  document.getElementById('login-username').focus();
}

async function start() {
  try {
    // Any API call tells whether auth is on: 403 means a login is needed.
    await api.get('/nacos/v1/cs/configs', { search: 'blur', dataId: '', group: '', pageNo: 1, pageSize: 1 });
    await refreshNamespaces();
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 403) return;
    showError(error);
  }
  document.getElementById('user').textContent = api.username();
  document.getElementById('logout').hidden = !api.loggedIn();
  document.getElementById('login').hidden = true;
  await render();
}

api.onAuthLost(() => showLogin(api.loggedIn() ? '' : 'Please log in.'));
document.getElementById('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await api.login(document.getElementById('login-username').value,
      document.getElementById('login-password').value);
    await start();
  } catch (error) {
    document.getElementById('login-error').textContent =
      error instanceof api.ApiError && [401, 403].includes(error.status) ? 'Wrong username or password.' : error.message;
  }
});
document.getElementById('logout').addEventListener('click', () => {
  api.logout();
  showLogin('Logged out.');
});
document.getElementById('namespace').addEventListener('change', (event) => {
  sessionStorage.setItem('nacore.namespace', event.target.value);
  render();
});
window.addEventListener('hashchange', render);
start();
