// The nacore web console: hash-routed screens (services, a service's instances, configs,
// a config's editor, history and listeners, namespaces, cluster) over the Nacos HTTP API.

import * as api from './api.js';
import { lineDiff, diffStats } from './diff.js';
import { TYPES, validate, highlight, createEditor } from './editor.js';

/** How often the services and cluster screens refresh themselves. */
const REFRESH_MS = 3000;
/** Services per catalog page (the server allows up to 1000). */
const SERVICES_PAGE_SIZE = 100;
const CONFIGS_PAGE_SIZE = 50;
const HISTORY_PAGE_SIZE = 50;

const view = document.getElementById('view');
const banner = document.getElementById('banner');
let timer = null;
/** Bumped on every navigation, so that a stale async render does not paint over a new one. */
let generation = 0;

// ------------------------------------------------------------------ small DOM helpers

/** `h('td', {class: 'num'}, 'text', child)`: an element with attributes and children. */
function h(tag, attributes = {}, ...children) {
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

function table(headers, rows, testid) {
  return h('table', { testid },
    h('thead', {}, h('tr', {}, headers.map((name) =>
      h('th', { class: /count|weight|port|healthy|instances|clusters/i.test(name) ? 'num' : null }, name)))),
    h('tbody', {}, rows.length ? rows
      : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'Nothing here.'))));
}

function showError(error) {
  if (error instanceof api.ApiError && error.status === 403) return;
  banner.textContent = error instanceof Error ? error.message : String(error);
  banner.hidden = false;
}

function clearError() {
  banner.hidden = true;
  banner.textContent = '';
}

/** A button that asks for a second click within 4 s before it acts. */
function confirmButton(label, testid, action) {
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

function healthClass(healthy, total) {
  if (total === 0) return 'muted';
  if (healthy === total) return 'ok';
  return healthy === 0 ? 'bad' : 'warn';
}

function healthBar(healthy, total) {
  const share = total === 0 ? 0 : (100 * healthy) / total;
  return h('div', { class: 'bar', title: `${healthy} of ${total} healthy` },
    h('div', { class: 'h', style: `width:${share}%` }),
    h('div', { class: 'u', style: `width:${total === 0 ? 0 : 100 - share}%` }));
}

function namespace() {
  return document.getElementById('namespace').value;
}

function routeParams() {
  const hash = location.hash || '#/services';
  const at = hash.indexOf('?');
  const path = at < 0 ? hash.slice(1) : hash.slice(1, at);
  return { path, params: new URLSearchParams(at < 0 ? '' : hash.slice(at + 1)) };
}

/** Navigates to `hash`, rendering again when it is the current one. */
function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function link(path, params, text, testid) {
  return h('a', { href: `#${path}?${new URLSearchParams(params)}`, testid }, text);
}

// ------------------------------------------------------------------ services

async function servicesScreen(params, mine) {
  const nameFilter = h('input', { id: 'service-search', testid: 'service-search',
    placeholder: 'service name contains', value: params.get('name') || '' });
  const groupFilter = h('input', { id: 'group-search', testid: 'group-search',
    placeholder: 'group contains', value: params.get('group') || '' });
  const hideEmpty = h('input', { type: 'checkbox', testid: 'hide-empty',
    checked: params.get('hideEmpty') === 'true' });
  const stats = h('div', { class: 'stats', testid: 'service-stats' });
  const body = h('div', {});
  const apply = () => {
    go(`#/services?${new URLSearchParams({ name: nameFilter.value, group: groupFilter.value,
      hideEmpty: hideEmpty.checked })}`);
  };
  hideEmpty.addEventListener('change', apply);
  nameFilter.addEventListener('keydown', (e) => e.key === 'Enter' && apply());
  groupFilter.addEventListener('keydown', (e) => e.key === 'Enter' && apply());
  view.replaceChildren(h('h2', {}, 'Services'), stats,
    h('div', { class: 'toolbar' }, nameFilter, groupFilter,
      h('button', { testid: 'service-search-button', onclick: apply }, 'Search'),
      h('label', {}, hideEmpty, ' hide services without instances')), body);
  const refresh = async () => {
    const page = await api.get('/nacos/v1/ns/catalog/services', {
      withInstances: false, pageNo: 1, pageSize: SERVICES_PAGE_SIZE, namespaceId: namespace(),
      serviceNameParam: nameFilter.value, groupNameParam: groupFilter.value,
      hasIpCount: hideEmpty.checked,
    });
    if (mine !== generation) return;
    renderStats(stats, page);
    body.replaceChildren(servicesTable(page));
  };
  await refresh();
  timer = setInterval(() => refresh().catch(showError), REFRESH_MS);
}

function renderStats(stats, page) {
  const percent = page.instanceCount === 0 ? 100
    : Math.round((100 * page.healthyInstanceCount) / page.instanceCount);
  const card = (testid, number, label, cls) => h('div', { class: 'stat' },
    h('div', { class: `num ${cls || ''}`, testid }, number), h('div', { class: 'label' }, label));
  stats.replaceChildren(
    card('stat-services', page.count, 'services'),
    card('stat-instances', page.instanceCount, 'instances'),
    card('stat-healthy', page.healthyInstanceCount, 'healthy instances',
      healthClass(page.healthyInstanceCount, page.instanceCount)),
    card('stat-healthy-percent', `${percent}%`, 'healthy',
      healthClass(page.healthyInstanceCount, page.instanceCount)));
}

function servicesTable(page) {
  const rows = page.serviceList.map((s) => {
    const cls = healthClass(s.healthyInstanceCount, s.ipCount);
    return h('tr', { testid: 'service-row', 'data-service': s.name, 'data-group': s.groupName },
      h('td', {}, link('/service', { name: s.name, group: s.groupName }, s.name, 'service-link')),
      h('td', {}, s.groupName),
      h('td', { class: 'num' }, s.clusterCount),
      h('td', { class: 'num', testid: 'service-instances' }, s.ipCount),
      h('td', { class: `num ${cls}`, testid: 'service-healthy' }, s.healthyInstanceCount),
      h('td', {}, healthBar(s.healthyInstanceCount, s.ipCount)));
  });
  const more = page.count > page.serviceList.length
    ? h('p', { class: 'muted' }, `Showing ${page.serviceList.length} of ${page.count}; narrow the search.`)
    : null;
  return h('div', {}, table(['Service', 'Group', 'Clusters', 'Instances', 'Healthy', 'Health'],
    rows, 'services-table'), more);
}

// ------------------------------------------------------------------ one service

async function serviceScreen(params, mine) {
  const name = params.get('name');
  const group = params.get('group') || 'DEFAULT_GROUP';
  const key = { serviceName: name, groupName: group, namespaceId: namespace() };
  const instances = h('div', {});
  const subscribers = h('div', {});
  const refresh = async () => {
    const [list, subs] = await Promise.all([
      api.get('/nacos/v1/ns/catalog/instances', { ...key, pageNo: 1, pageSize: 1000 }),
      api.get('/nacos/v1/ns/service/subscribers', { ...key, pageNo: 1, pageSize: 1000 }),
    ]);
    if (mine !== generation) return;
    instances.replaceChildren(instancesTable(key, list, refresh));
    subscribers.replaceChildren(table(['Address', 'Agent', 'App', 'Clusters'],
      subs.subscribers.map((s) => h('tr', { testid: 'subscriber-row' },
        h('td', {}, s.addrStr), h('td', {}, s.agent), h('td', {}, s.app), h('td', {}, s.cluster))),
      'subscribers-table'));
  };
  view.replaceChildren(
    h('p', {}, link('/services', {}, '← Services')),
    h('h2', { testid: 'service-title' }, `${group} / ${name}`),
    h('div', { class: 'toolbar' }, h('button', { class: 'secondary', testid: 'instances-refresh',
      onclick: () => refresh().catch(showError) }, 'Refresh')),
    h('h3', {}, 'Instances'), instances, h('h3', {}, 'Subscribers (v1 pollers)'), subscribers);
  await refresh();
}

/** The outcome of the last save per instance address, kept across re-renders of the table. */
const instanceNotes = new Map();

function instancesTable(key, list, refresh) {
  const rows = list.list.map((instance) => {
    const address = `${instance.ip}:${instance.port}`;
    const weight = h('input', { type: 'number', min: 0, max: 10000, step: 'any',
      value: instance.weight, testid: 'weight-input', style: 'width:6rem' });
    const enabled = h('input', { type: 'checkbox', checked: instance.enabled, testid: 'enabled-input' });
    const note = instanceNotes.get(address) || { text: '', cls: '' };
    const status = h('span', { testid: 'instance-status', class: note.cls }, note.text);
    const save = h('button', { testid: 'save-instance', type: 'button' }, 'Save');
    save.addEventListener('click', async () => {
      status.textContent = '';
      instanceNotes.delete(address);
      try {
        await api.put('/nacos/v1/ns/instance', {
          ...key, ip: instance.ip, port: instance.port, clusterName: instance.clusterName,
          ephemeral: instance.ephemeral, weight: weight.value, enabled: enabled.checked,
          metadata: JSON.stringify(instance.metadata || {}),
        }, { text: true });
        instanceNotes.set(address, { text: 'saved', cls: 'okmsg' });
        await refresh();
      } catch (error) {
        status.textContent = error.message;
        status.className = 'error';
      }
    });
    const health = instance.healthy ? 'ok' : 'bad';
    const metadata = Object.entries(instance.metadata || {}).map(([k, v]) => h('span', { class: 'chip' }, `${k}=${v}`));
    return h('tr', { testid: 'instance-row', 'data-address': address },
      h('td', {}, instance.ip), h('td', { class: 'num' }, instance.port), h('td', {}, instance.clusterName),
      h('td', { class: health, testid: 'instance-health' }, h('span', { class: `dot ${health}` }),
        instance.healthy ? 'healthy' : 'unhealthy'),
      h('td', {}, weight), h('td', {}, enabled), h('td', {}, instance.ephemeral ? 'yes' : 'no'),
      h('td', {}, metadata), h('td', {}, save, ' ', status));
  });
  return table(['IP', 'Port', 'Cluster', 'Health', 'Weight', 'Enabled', 'Ephemeral', 'Metadata', ''],
    rows, 'instances-table');
}

// ------------------------------------------------------------------ configs

async function configsScreen(params, mine) {
  const dataId = h('input', { testid: 'config-search-dataid', placeholder: 'dataId (* wildcard)',
    value: params.get('dataId') || '' });
  const group = h('input', { testid: 'config-search-group', placeholder: 'group',
    value: params.get('group') || '' });
  const body = h('div', {});
  const apply = () => {
    go(`#/configs?${new URLSearchParams({ dataId: dataId.value, group: group.value })}`);
  };
  dataId.addEventListener('keydown', (e) => e.key === 'Enter' && apply());
  group.addEventListener('keydown', (e) => e.key === 'Enter' && apply());
  view.replaceChildren(h('h2', {}, 'Configs'),
    h('div', { class: 'toolbar' }, dataId, group,
      h('button', { testid: 'config-search-button', onclick: apply }, 'Search'),
      h('button', { class: 'secondary', testid: 'config-new',
        onclick: () => { location.hash = '#/config/edit'; } }, 'New config')), body);
  const page = await api.get('/nacos/v1/cs/configs', {
    search: 'blur', dataId: dataId.value, group: group.value, tenant: namespace(),
    pageNo: 1, pageSize: CONFIGS_PAGE_SIZE,
  });
  if (mine !== generation) return;
  const rows = page.pageItems.map((c) => {
    const target = { dataId: c.dataId, group: c.group };
    return h('tr', { testid: 'config-row', 'data-dataid': c.dataId, 'data-group': c.group },
      h('td', {}, c.dataId), h('td', {}, c.group), h('td', {}, c.type || 'text'),
      h('td', {}, link('/config/edit', target, 'Edit', 'config-edit'), ' · ',
        link('/config/history', target, 'History', 'config-history'), ' · ',
        link('/config/listeners', target, 'Listeners', 'config-listeners'), ' ',
        confirmButton('Delete', 'config-delete', async () => {
          await api.del('/nacos/v1/cs/configs', { ...target, tenant: namespace() }, { text: true });
          render();
        })));
  });
  body.replaceChildren(table(['Data ID', 'Group', 'Type', ''], rows, 'configs-table'),
    h('p', { class: 'muted' }, `${page.totalCount} config(s)`));
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

async function editScreen(params, mine) {
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
    if (mine !== generation) return;
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

async function historyScreen(params, mine) {
  const target = { dataId: params.get('dataId'), group: params.get('group') };
  const [page, current] = await Promise.all([
    api.get('/nacos/v1/cs/history', { search: 'accurate', ...target, tenant: namespace(),
      pageNo: 1, pageSize: HISTORY_PAGE_SIZE }),
    fetchConfig(target.dataId, target.group),
  ]);
  if (mine !== generation) return;
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

async function listenersScreen(params, mine) {
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
    if (mine !== generation) return;
    const md5 = page.pageItems.length ? page.pageItems[0].md5 : null;
    const rows = Object.entries(answer.lisentersGroupkeyStatus || {}).map(([ip, theirs]) => {
      const current = md5 === null || md5 === undefined || theirs === md5;
      return h('tr', { testid: 'listener-row' }, h('td', {}, ip), h('td', {}, theirs),
        h('td', { class: current ? 'ok' : 'warn' }, current ? 'up to date' : 'behind'));
    });
    body.replaceChildren(table(['Client IP', 'MD5 they hold', 'State'], rows, 'listeners-table'));
  };
  await refresh();
  timer = setInterval(() => refresh().catch(showError), REFRESH_MS);
}

// ------------------------------------------------------------------ namespaces

async function namespacesScreen(_params, mine) {
  const answer = await api.get('/nacos/v1/console/namespaces', {});
  if (mine !== generation) return;
  const rows = answer.data.map((ns) => {
    const custom = ns.namespace !== '';
    const name = h('input', { value: ns.namespaceShowName, testid: 'namespace-name', disabled: !custom });
    const desc = h('input', { value: ns.namespaceDesc || '', testid: 'namespace-desc', disabled: !custom });
    const actions = custom ? [
      h('button', { class: 'secondary', testid: 'namespace-save', type: 'button', onclick: async () => {
        try {
          await api.put('/nacos/v1/console/namespaces', { namespace: ns.namespace,
            namespaceShowName: name.value, namespaceDesc: desc.value }, { text: true });
          await refreshNamespaces();
          render();
        } catch (error) { showError(error); }
      } }, 'Save'), ' ',
      confirmButton('Delete', 'namespace-delete', async () => {
        await api.del('/nacos/v1/console/namespaces', { namespaceId: ns.namespace }, { text: true });
        await refreshNamespaces();
        render();
      })] : [];
    return h('tr', { testid: 'namespace-row', 'data-namespace': ns.namespace },
      h('td', {}, ns.namespace || '(public)'), h('td', {}, name), h('td', {}, desc),
      h('td', { class: 'num' }, ns.configCount), h('td', {}, actions));
  });
  const id = h('input', { testid: 'namespace-new-id', placeholder: 'id (optional)' });
  const name = h('input', { testid: 'namespace-new-name', placeholder: 'name' });
  const desc = h('input', { testid: 'namespace-new-desc', placeholder: 'description' });
  const create = h('button', { testid: 'namespace-create', type: 'button', onclick: async () => {
    try {
      const ok = await api.post('/nacos/v1/console/namespaces', { customNamespaceId: id.value,
        namespaceName: name.value, namespaceDesc: desc.value }, { text: true });
      if (ok.trim() !== 'true') throw new Error('namespace not created (id taken or invalid?)');
      await refreshNamespaces();
      render();
    } catch (error) { showError(error); }
  } }, 'Create');
  view.replaceChildren(h('h2', {}, 'Namespaces'),
    table(['Id', 'Name', 'Description', 'Configs', ''], rows, 'namespaces-table'),
    h('h3', {}, 'New namespace'), h('div', { class: 'toolbar' }, id, name, desc, create));
}

async function refreshNamespaces() {
  const select = document.getElementById('namespace');
  const chosen = select.value || sessionStorage.getItem('nacore.namespace') || '';
  const answer = await api.get('/nacos/v1/console/namespaces', {});
  select.replaceChildren(...answer.data.map((ns) => h('option', { value: ns.namespace },
    ns.namespace ? `${ns.namespaceShowName} (${ns.namespace})` : ns.namespaceShowName)));
  select.value = answer.data.some((ns) => ns.namespace === chosen) ? chosen : '';
}

// ------------------------------------------------------------------ cluster

async function clusterScreen(_params, mine) {
  const body = h('div', {});
  view.replaceChildren(h('h2', {}, 'Cluster'), body);
  const refresh = async () => {
    const answer = await api.get('/nacos/v1/core/cluster/nodes', {});
    if (mine !== generation) return;
    const rows = answer.data.map((m) => {
      const cls = { UP: 'ok', SUSPICIOUS: 'warn', DOWN: 'bad' }[m.state] || 'warn';
      const info = m.extendInfo || {};
      return h('tr', { testid: 'member-row', 'data-address': m.address },
        h('td', {}, m.address),
        h('td', { class: cls, testid: 'member-state' }, h('span', { class: `dot ${cls}` }), m.state),
        h('td', { testid: 'member-role' }, info.raftRole || ''),
        h('td', {}, info.lastRefreshTime ? new Date(info.lastRefreshTime).toLocaleTimeString() : ''),
        h('td', {}, info.version || ''));
    });
    const up = answer.data.filter((m) => m.state === 'UP').length;
    body.replaceChildren(h('div', { class: 'stats' },
      h('div', { class: 'stat' }, h('div', { class: `num ${healthClass(up, answer.data.length)}`,
        testid: 'stat-members-up' }, `${up}/${answer.data.length}`), h('div', { class: 'label' }, 'members up'))),
    table(['Member', 'State', 'Raft role', 'Last heard', 'Version'], rows, 'members-table'));
  };
  await refresh();
  timer = setInterval(() => refresh().catch(showError), REFRESH_MS);
}

// ------------------------------------------------------------------ routing and login

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
  if (timer !== null) clearInterval(timer);
  timer = null;
  generation++;
  const mine = generation;
  clearError();
  const { path, params } = routeParams();
  const screen = SCREENS[path] || servicesScreen;
  const section = path.startsWith('/config') ? '/configs' : path === '/service' ? '/services' : path;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === `#${section}`);
  }
  try {
    await screen(params, mine);
  } catch (error) {
    if (mine === generation) showError(error);
  }
}

function showLogin(message) {
  if (timer !== null) clearInterval(timer);
  timer = null;
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
      error instanceof api.ApiError && error.status === 403 ? 'Wrong username or password.' : error.message;
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
