// HTTP calls of the console: every call carries the session's accessToken (when logged in);
// a 403 (Nacos's answer to a missing, wrong or expired token; 401 is taken the same way) ends
// the session and shows the login screen.

const TOKEN_KEY = 'nacore.accessToken';
const USER_KEY = 'nacore.username';

export class ApiError extends Error {
  constructor(status, body) {
    super(`HTTP ${status}: ${body}`);
    this.status = status;
    this.body = body;
  }
}

let authLost = () => {};

/** Called with no argument whenever the server answers 403. */
export function onAuthLost(callback) {
  authLost = callback;
}

export function username() {
  return sessionStorage.getItem(USER_KEY) || '';
}

export function loggedIn() {
  return sessionStorage.getItem(TOKEN_KEY) !== null;
}

export function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
}

function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null) q.append(name, String(value));
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token !== null) q.set('accessToken', token);
  return q;
}

/**
 * `method` on `path`: GET and DELETE send `params` in the query, POST and PUT as a form.
 * Answers the parsed JSON, or the text with `{text: true}`.
 */
export async function call(method, path, params, options = {}) {
  const q = query(params);
  let url = path;
  const init = { method, headers: {}, cache: 'no-store' };
  if (method === 'GET' || method === 'DELETE') {
    url += '?' + q.toString();
  } else {
    init.body = q.toString();
    init.headers['Content-Type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
  }
  const response = await fetch(url, init);
  const body = await response.text();
  if (response.status === 403 || response.status === 401) {
    logout();
    authLost();
    throw new ApiError(403, body);
  }
  if (!response.ok) throw new ApiError(response.status, body);
  if (options.text) return body;
  return body === '' ? null : JSON.parse(body);
}

export const get = (path, params, options) => call('GET', path, params, options);
export const post = (path, params, options) => call('POST', path, params, options);
export const put = (path, params, options) => call('PUT', path, params, options);
export const del = (path, params, options) => call('DELETE', path, params, options);

/** POSTs the credentials to `/nacos/v1/auth/login`; keeps the token for the session. */
export async function login(user, password) {
  const form = new URLSearchParams({ username: user, password });
  const response = await fetch('/nacos/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    body: form.toString(),
  });
  const body = await response.text();
  if (!response.ok) throw new ApiError(response.status, body || 'login failed');
  const answer = JSON.parse(body);
  if (!answer.accessToken) throw new ApiError(response.status, 'no accessToken in the answer');
  sessionStorage.setItem(TOKEN_KEY, answer.accessToken);
  sessionStorage.setItem(USER_KEY, answer.username || user);
  return answer;
}
