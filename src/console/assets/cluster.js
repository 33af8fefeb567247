// Cluster screen: each member's state in colour, its Raft role, last report and version.

import * as api from './api.js';
import { REFRESH_MS, screen, view, h, table, showError, healthClass } from './dom.js';

export async function clusterScreen(_params, mine) {
  const body = h('div', {});
  view.replaceChildren(h('h2', {}, 'Cluster'), body);
  const refresh = async () => {
    const answer = await api.get('/nacos/v1/core/cluster/nodes', {});
    if (mine !== screen.generation) return;
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
  screen.timer = setInterval(() => refresh().catch(showError), REFRESH_MS);
}

