// Config screens: search, the editor (type, validation, preview), history with a line diff
// and rollback, and listeners.

import * as api from './api.js';
import {
  REFRESH_MS, screen, view, h, table, showError, confirmButton, namespace, link, go, rerender,
  pager, pageParam,
} from './dom.js';
import { lineDiff, diffStats } from './diff.js';
import { TYPES, validate, highlight, createEditor } from './editor.js';

const CONFIGS_PAGE_SIZE = 50;
const HISTORY_PAGE_SIZE = 50;

export async function configsScreen(params, mine) {
  const dataId = h('input', { testid: 'config-search-dataid', placeholder: 'dataId (* wildcard)',
    value: params.get('dataId') || '' });
  const group = h('input', { testid: 'config-search-group', placeholder: 'group',
    value: params.get('group') || '' });
  const body = h('div', {});
  const pageNo = pageParam(params);
  const apply = (toPage = 1) => {
    go(`#/configs?${new URLSearchParams({ dataId: dataId.value, group: group.value, page: toPage })}`);
  };
  dataId.addEventListener('keydown', (e) => e.key === 'Enter' && apply());
  group.addEventListener('keydown', (e) => e.key === 'Enter' && apply());
  view.replaceChildren(h('h2', {}, 'Configs'),
    h('div', { class: 'toolbar' }, dataId, group,
      h('button', { testid: 'config-search-button', onclick: () => apply() }, 'Search'),
      h('button', { class: 'secondary', testid: 'config-new',
        onclick: () => { location.hash = '#/config/edit'; } }, 'New config')), body);
  const page = await api.get('/nacos/v1/cs/configs', {
    search: 'blur', dataId: dataId.value, group: group.value, tenant: namespace(),
    pageNo, pageSize: CONFIGS_PAGE_SIZE,
  });
  if (mine !== screen.generation) return;
  const rows = page.pageItems.map((c) => {
    const target = { dataId: c.dataId, group: c.group };
    return h('tr', { testid: 'config-row', 'data-dataid': c.dataId, 'data-group': c.group },
      h('td', {}, c.dataId), h('td', {}, c.group), h('td', {}, c.type || 'text'),
      h('td', {}, link('/config/edit', target, 'Edit', 'config-edit'), ' · ',
        link('/config/history', target, 'History', 'config-history'), ' · ',
        link('/config/listeners', target, 'Listeners', 'config-listeners'), ' ',
        confirmButton('Delete', 'config-delete', async () => {
          await api.del('/nacos/v1/cs/configs', { ...target, tenant: namespace() }, { text: true });
          rerender();
        })));
  });
  body.replaceChildren(table(['Data ID', 'Group', 'Type', ''], rows, 'configs-table'),
    pager(pageNo, page.totalCount, CONFIGS_PAGE_SIZE, apply)
      || h('p', { class: 'muted' }, `${page.totalCount} config(s)`));
}

async function fetchConfig(dataId, group) {
  try {
    return await api.get('/nacos/v1/cs/configs', { dataId, group, tenant: namespace() }, { text: true });
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 404) return null;
    throw error;
  }
}

async function configType(dataId, group) {
  const page = await api.get('/nacos/v1/cs/configs', { search: 'accurate', dataId, group,
    tenant: namespace(), pageNo: 1, pageSize: 1 });
  return page.pageItems.length ? page.pageItems[0].type || 'text' : 'text';
}

/** A message for the next editor screen (a new config's page replaces the one it came from). */
let editorNote = '';

export async function editScreen(params, mine) {
  const editing = params.has('dataId');
  const dataId = h('input', { testid: 'config-dataid', id: 'config-dataid', value: params.get('dataId') || '',
    readonly: editing });
  const group = h('input', { testid: 'config-group', id: 'config-group',
    value: params.get('group') || 'DEFAULT_GROUP', readonly: editing });
  const type = h('select', { testid: 'config-type', id: 'config-type' },
    TYPES.map((t) => h('option', { value: t }, t)));
  const check = h('p', { testid: 'config-validation' });
  const status = h('p', { testid: 'config-status', class: editorNote ? 'okmsg' : null }, editorNote);
  editorNote = '';
  const preview = h('pre', { class: 'preview', testid: 'config-preview' });
  const host = h('div', {});
  let content = '';
  if (editing) {
    const [current, kind] = await Promise.all([fetchConfig(dataId.value, group.value),
      configType(dataId.value, group.value)]);
    if (mine !== screen.generation) return;
    content = current || '';
    type.value = TYPES.includes(kind) ? kind : 'text';
  }
  const onChange = () => {
    const problem = validate(type.value, editor.value());
    check.textContent = problem || `valid ${type.value}`;
    check.className = problem ? 'error' : 'okmsg';
    preview.innerHTML = highlight(type.value, editor.value());
  };
  const editor = createEditor(host, content, onChange);
  type.addEventListener('change', onChange);
  const publish = h('button', { testid: 'config-publish', type: 'button' }, 'Publish');
  publish.addEventListener('click', async () => {
    const problem = validate(type.value, editor.value());
    if (problem) {
      status.textContent = `not published: ${problem}`;
      status.className = 'error';
      return;
    }
    try {
      await api.post('/nacos/v1/cs/configs', { dataId: dataId.value, group: group.value,
        content: editor.value(), type: type.value, tenant: namespace() }, { text: true });
      status.textContent = `published at ${new Date().toLocaleTimeString()}`;
      status.className = 'okmsg';
      editorNote = editing ? '' : status.textContent;
      if (!editing) location.hash = `#/config/edit?${new URLSearchParams({ dataId: dataId.value, group: group.value })}`;
    } catch (error) {
      status.textContent = error.message;
      status.className = 'error';
    }
  });
  view.replaceChildren(h('p', {}, link('/configs', {}, '← Configs')),
    h('h2', {}, editing ? 'Edit config' : 'New config'),
    h('div', { class: 'form-grid' }, h('label', {}, 'Data ID'), dataId, h('label', {}, 'Group'), group,
      h('label', {}, 'Type'), type),
    host, check, h('div', { class: 'toolbar' }, publish,
      editing ? link('/config/history', { dataId: dataId.value, group: group.value }, 'History', 'edit-history') : null),
    status, h('h3', {}, 'Preview'), preview);
  onChange();
}

export async function historyScreen(params, mine) {
  const target = { dataId: params.get('dataId'), group: params.get('group') };
  const [page, current] = await Promise.all([
    api.get('/nacos/v1/cs/history', { search: 'accurate', ...target, tenant: namespace(),
      pageNo: 1, pageSize: HISTORY_PAGE_SIZE }),
    fetchConfig(target.dataId, target.group),
  ]);
  if (mine !== screen.generation) return;
  const detail = h('div', { testid: 'history-detail' });
  const rows = page.pageItems.map((row) => h('tr', { testid: 'history-row', 'data-nid': row.id },
    h('td', {}, row.id), h('td', {}, { I: 'create', U: 'update', D: 'delete' }[row.opType.trim()] || row.opType),
    h('td', {}, row.lastModifiedTime), h('td', {}, row.srcIp || ''),
    h('td', {}, h('button', { class: 'secondary', testid: 'history-diff', type: 'button',
      onclick: () => showHistory(row.id, target, current, detail).catch(showError) }, 'Diff with current'))));
  view.replaceChildren(h('p', {}, link('/configs', {}, '← Configs')),
    h('h2', { testid: 'history-title' }, `History of ${target.group} / ${target.dataId}`),
    table(['Id', 'Operation', 'Time', 'Source IP', ''], rows, 'history-table'), detail);
}

async function showHistory(nid, target, current, detail) {
  const row = await api.get('/nacos/v1/cs/history', { nid, ...target, tenant: namespace() });
  const old = row.content || '';
  const script = lineDiff(old, current === null ? '' : current);
  const stats = diffStats(script);
  const pre = h('pre', { class: 'diff', testid: 'history-diff-lines' }, script.map((line) =>
    h('span', { class: { ' ': 'same', '-': 'del', '+': 'add' }[line.op] }, `${line.op} ${line.text}`)));
  const status = h('span', { testid: 'rollback-status' });
  const rollback = confirmButton('Rollback', 'history-rollback', async () => {
    await api.post('/nacos/v1/cs/configs', { ...target, content: old, tenant: namespace(),
      type: row.type || undefined }, { text: true });
    status.textContent = `rolled back to version ${nid}`;
    status.className = 'okmsg';
  });
  detail.replaceChildren(h('h3', {}, `Version ${nid} → current`),
    h('p', { class: 'muted' }, `- lines only in version ${nid}: ${stats.removed}; + lines only in current: ${stats.added}`),
    pre, h('div', { class: 'toolbar' }, rollback, status));
}

export async function listenersScreen(params, mine) {
  const target = { dataId: params.get('dataId'), group: params.get('group') };
  const body = h('div', {});
  view.replaceChildren(h('p', {}, link('/configs', {}, '← Configs')),
    h('h2', {}, `Listeners of ${target.group} / ${target.dataId}`),
    h('p', { class: 'muted' }, 'Clients holding a long poll or a gRPC listener now (refreshed every few seconds).'),
    body);
  // A long-polling client is between two polls for a moment after each change: the list is
  // refreshed rather than read once.
  const refresh = async () => {
    const [answer, page] = await Promise.all([
      api.get('/nacos/v1/cs/configs/listener', { ...target, tenant: namespace() }),
      api.get('/nacos/v1/cs/configs', { search: 'accurate', ...target, tenant: namespace(), pageNo: 1, pageSize: 1 }),
    ]);
    if (mine !== screen.generation) return;
    const md5 = page.pageItems.length ? page.pageItems[0].md5 : null;
    const rows = Object.entries(answer.lisentersGroupkeyStatus || {}).map(([ip, theirs]) => {
      const current = md5 === null || md5 === undefined || theirs === md5;
      return h('tr', { testid: 'listener-row' }, h('td', {}, ip), h('td', {}, theirs),
        h('td', { class: current ? 'ok' : 'warn' }, current ? 'up to date' : 'behind'));
    });
    body.replaceChildren(table(['Client IP', 'MD5 they hold', 'State'], rows, 'listeners-table'));
  };
  await refresh();
  screen.timer = setInterval(() => refresh().catch(showError), REFRESH_MS);
}

