// Namespaces screen (list, create, rename, delete) and the namespace selector at the top.

import * as api from './api.js';
import { view, screen, h, table, showError, confirmButton, rerender } from './dom.js';

export async function namespacesScreen(_params, mine) {
  const answer = await api.get('/nacos/v1/console/namespaces', {});
  if (mine !== screen.generation) return;
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
          rerender();
        } catch (error) { showError(error); }
      } }, 'Save'), ' ',
      confirmButton('Delete', 'namespace-delete', async () => {
        await api.del('/nacos/v1/console/namespaces', { namespaceId: ns.namespace }, { text: true });
        await refreshNamespaces();
        rerender();
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
      rerender();
    } catch (error) { showError(error); }
  } }, 'Create');
  view.replaceChildren(h('h2', {}, 'Namespaces'),
    table(['Id', 'Name', 'Description', 'Configs', ''], rows, 'namespaces-table'),
    h('h3', {}, 'New namespace'), h('div', { class: 'toolbar' }, id, name, desc, create));
}

export async function refreshNamespaces() {
  const select = document.getElementById('namespace');
  const chosen = select.value || sessionStorage.getItem('nacore.namespace') || '';
  const answer = await api.get('/nacos/v1/console/namespaces', {});
  select.replaceChildren(...answer.data.map((ns) => h('option', { value: ns.namespace },
    ns.namespace ? `${ns.namespaceShowName} (${ns.namespace})` : ns.namespaceShowName)));
  select.value = answer.data.some((ns) => ns.namespace === chosen) ? chosen : '';
}

