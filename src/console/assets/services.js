// Services screens: the catalog with headline numbers and a health bar per service, and one
// service's instances (weight and enabled edited in place) and subscribers.

import * as api from './api.js';
import {
  REFRESH_MS, screen, view, h, table, showError, healthClass, healthBar, namespace, link, go,
  pager, pageParam,
} from './dom.js';

/** Services per catalog page (the server allows up to 1000). */
const SERVICES_PAGE_SIZE = 100;

export async function servicesScreen(params, mine) {
  const nameFilter = h('input', { id: 'service-search', testid: 'service-search',
    placeholder: 'service name contains', value: params.get('name') || '' });
  const groupFilter = h('input', { id: 'group-search', testid: 'group-search',
    placeholder: 'group contains', value: params.get('group') || '' });
  const hideEmpty = h('input', { type: 'checkbox', testid: 'hide-empty',
    checked: params.get('hideEmpty') === 'true' });
  const stats = h('div', { class: 'stats', testid: 'service-stats' });
  const body = h('div', {});
  const pageNo = pageParam(params);
  const apply = (toPage = 1) => {
    go(`#/services?${new URLSearchParams({ name: nameFilter.value, group: groupFilter.value,
      hideEmpty: hideEmpty.checked, page: toPage })}`);
  };
  hideEmpty.addEventListener('change', () => apply());
  nameFilter.addEventListener('keydown', (e) => e.key === 'Enter' && apply());
  groupFilter.addEventListener('keydown', (e) => e.key === 'Enter' && apply());
  view.replaceChildren(h('h2', {}, 'Services'), stats,
    h('div', { class: 'toolbar' }, nameFilter, groupFilter,
      h('button', { testid: 'service-search-button', onclick: () => apply() }, 'Search'),
      h('label', {}, hideEmpty, ' hide services without instances')), body);
  const refresh = async () => {
    const page = await api.get('/nacos/v1/ns/catalog/services', {
      withInstances: false, pageNo, pageSize: SERVICES_PAGE_SIZE, namespaceId: namespace(),
      serviceNameParam: nameFilter.value, groupNameParam: groupFilter.value,
      hasIpCount: hideEmpty.checked,
    });
    if (mine !== screen.generation) return;
    renderStats(stats, page);
    body.replaceChildren(servicesTable(page), pager(pageNo, page.count, SERVICES_PAGE_SIZE, apply) || '');
  };
  await refresh();
  screen.timer = setInterval(() => refresh().catch(showError), REFRESH_MS);
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
  return table(['Service', 'Group', 'Clusters', 'Instances', 'Healthy', 'Health'],
    rows, 'services-table');
}

// ------------------------------------------------------------------ one service

export async function serviceScreen(params, mine) {
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
    if (mine !== screen.generation) return;
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

