//! `ConfigStore`: one core's share of the config center. It holds the configs whose owner it
//! is (formal and gray versions), their history rows (without content), their listeners (held
//! long polls and gRPC connections) and, on core 0, the namespaces. Committed commands are
//! applied here; a change of what a key serves queues a notification of its listeners.

use std::collections::BTreeMap;

use bytes::Bytes;
use hashbrown::HashMap;

use crate::config::command::{ConfigCommand, ConfigRecord, Publish};
use crate::config::error::{ConfigError, ConfigErrorKind, ConfigResult};
use crate::config::item::{
    ConfigItem, Gray, GrayRule, HistoryOp, HistoryRow, Namespace, ReaderLabels,
};
use crate::config::key::ConfigKey;
use crate::config::listen::md5_hex;
use crate::limits::{CONFIG_GRAYS_PER_CONFIG_MAX, CONFIG_HISTORY_ROWS_PER_CONFIG_MAX};

/// A listener of one key: the md5 it holds, its IP (for listener queries) and, for gRPC, the
/// tenant as the client spelled it (pushes echo it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub md5: String,
    pub ip: String,
    pub tenant_spelling: String,
}

#[derive(Debug, Default)]
struct Listeners {
    /// Held long polls, by poll id (the holding core in the top bits).
    polls: HashMap<u64, Listener>,
    /// gRPC connections, by connection id.
    grpc: HashMap<u64, Listener>,
}

impl Listeners {
    fn is_empty(&self) -> bool {
        self.polls.is_empty() && self.grpc.is_empty()
    }
}

#[derive(Debug, Default)]
struct Entry {
    formal: Option<ConfigItem>,
    /// Highest priority first.
    grays: Vec<Gray>,
    /// Newest last.
    history: Vec<HistoryRow>,
    listeners: Listeners,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.formal.is_none()
            && self.grays.is_empty()
            && self.history.is_empty()
            && self.listeners.is_empty()
    }

    fn version(&self, gray_name: Option<&str>) -> Option<&ConfigItem> {
        match gray_name {
            None => self.formal.as_ref(),
            Some(name) => self
                .grays
                .iter()
                .find(|g| g.rule.name() == name)
                .map(|g| &g.item),
        }
    }

    /// What `labels` reads: the highest-priority matching gray, else the formal config. A
    /// `tag` parameter with no matching tag gray reads nothing.
    fn served(&self, labels: &ReaderLabels) -> Option<Served<'_>> {
        for gray in &self.grays {
            let matches = match &gray.rule {
                GrayRule::Beta { ips } => labels.ips.iter().any(|ip| ips.contains(ip)),
                GrayRule::Tag { tag } => {
                    let asked = labels.tag_param.as_ref().or(labels.tag_header.as_ref());
                    asked == Some(tag)
                }
            };
            if matches {
                return Some(Served {
                    item: &gray.item,
                    rule: Some(&gray.rule),
                });
            }
        }
        if labels.tag_param.is_some() {
            return None;
        }
        self.formal.as_ref().map(|item| Served { item, rule: None })
    }

    fn served_md5(&self, labels: &ReaderLabels) -> &str {
        self.served(labels).map_or("", |s| s.item.md5.as_str())
    }
}

/// A version chosen for a reader, and the gray rule that chose it.
pub struct Served<'a> {
    pub item: &'a ConfigItem,
    pub rule: Option<&'a GrayRule>,
}

/// A read's answer, owned (it crosses the mesh).
#[derive(Debug, Clone)]
pub struct ServedConfig {
    pub item: ConfigItem,
    pub beta: bool,
    /// The tag of the tag gray served.
    pub tag: Option<String>,
}

/// Listeners to tell that `key` changed.
#[derive(Debug, Clone)]
pub struct Notification {
    pub key: ConfigKey,
    pub polls: Vec<u64>,
    /// (connection, the tenant as it spelled it).
    pub grpc: Vec<(u64, String)>,
}

/// One item of a search, or of a namespace's config list.
#[derive(Debug, Clone)]
pub struct ConfigSummary {
    pub key: ConfigKey,
    pub item: ConfigItem,
}

/// Search filters (`search=accurate|blur`).
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    pub tenant: String,
    pub data_id: String,
    pub group: String,
    pub app_name: String,
    pub tags: Vec<String>,
    pub types: Vec<String>,
    pub content: String,
    pub blur: bool,
}

impl SearchFilter {
    fn matches(&self, key: &ConfigKey, item: &ConfigItem) -> bool {
        if key.tenant() != self.tenant {
            return false;
        }
        let field = |pattern: &str, value: &str| {
            pattern.is_empty()
                || if self.blur {
                    like(pattern, value)
                } else {
                    pattern == value
                }
        };
        field(&self.data_id, key.data_id())
            && field(&self.group, key.group())
            && (self.app_name.is_empty() || field(&self.app_name, &item.app_name))
            && (self.types.is_empty() || self.types.contains(&item.meta.config_type))
            && (self.tags.is_empty()
                || item
                    .meta
                    .tags
                    .split(',')
                    .any(|t| self.tags.iter().any(|want| want == t.trim())))
            && (self.content.is_empty()
                || std::str::from_utf8(&item.content).is_ok_and(|c| like(&self.content, c)))
    }
}

/// Nacos's blur match (`generateLikeArgument`): `*` becomes SQL `%`, any run of characters; a
/// pattern without `*` is passed to `LIKE` as it is, so it matches only itself (the console
/// adds the stars around what the user typed).
fn like(pattern: &str, value: &str) -> bool {
    glob(pattern.as_bytes(), value.as_bytes())
}

fn glob(pattern: &[u8], value: &[u8]) -> bool {
    // Iterative wildcard match with backtracking to the last star: linear in practice.
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, v));
            p += 1;
        } else if p < pattern.len() && pattern[p] == value[v] {
            p += 1;
            v += 1;
        } else if let Some((sp, sv)) = star {
            p = sp + 1;
            v = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[derive(Debug, Default)]
pub struct ConfigStore {
    /// Boxed: an entry is a few hundred bytes, and the table keeps up to twice its length
    /// in slots; a pointer per slot keeps the empty ones cheap.
    entries: HashMap<ConfigKey, Box<Entry>>,
    /// Core 0 only: the namespaces, by id.
    namespaces: BTreeMap<String, Namespace>,
    pending: Vec<ConfigKey>,
}

/// The result of applying one command: its outcome and the records it changed.
pub type Applied = (ConfigResult<()>, Vec<ConfigRecord>);

impl ConfigStore {
    pub fn new() -> ConfigStore {
        ConfigStore::default()
    }

    /// Applies a committed command at log `index` (ids and history ids derive from it, so
    /// every member assigns the same ones).
    pub fn apply(&mut self, command: &ConfigCommand, index: u64) -> Applied {
        match command {
            ConfigCommand::Publish(publish) => self.publish(publish, index),
            ConfigCommand::Remove {
                key,
                gray_name,
                src_user,
                src_ip,
                at_ms,
            } => self.remove(key, gray_name.as_deref(), src_user, src_ip, *at_ms, index),
            ConfigCommand::PutNamespace { namespace, create } => {
                self.put_namespace(namespace, *create)
            }
            ConfigCommand::RemoveNamespace { id } => self.remove_namespace(id),
            ConfigCommand::PruneHistory { before_ms } => (Ok(()), self.prune_history(*before_ms)),
        }
    }

    fn publish(&mut self, publish: &Publish, index: u64) -> Applied {
        let entry = self.entries.entry(publish.key.clone()).or_default();
        let gray_name = publish.gray.as_ref().map(GrayRule::name);
        let previous = entry.version(gray_name.as_deref()).cloned();
        if let Some(cas) = &publish.cas_md5 {
            let stored = previous.as_ref().map_or("", |p| p.md5.as_str());
            if !stored.is_empty() && stored != cas {
                return (Err(ConfigError::cas_mismatch()), Vec::new());
            }
        }
        if previous.is_none()
            && publish.gray.is_some()
            && entry.grays.len() >= CONFIG_GRAYS_PER_CONFIG_MAX
        {
            return (
                Err(ConfigError::new(
                    ConfigErrorKind::LimitReached,
                    format!("too many gray versions, at most {CONFIG_GRAYS_PER_CONFIG_MAX}"),
                )),
                Vec::new(),
            );
        }
        let content = Bytes::from(publish.content.clone());
        let md5 = md5_hex(&content);
        // Monotonic per config even if the proposers' clocks disagree.
        let modified_ms = previous
            .as_ref()
            .map_or(publish.at_ms, |p| publish.at_ms.max(p.modified_ms + 1));
        let item = ConfigItem {
            id: previous.as_ref().map_or(index, |p| p.id),
            content: content.clone(),
            md5: md5.clone(),
            app_name: match (&publish.app_name, &previous) {
                (Some(name), _) => name.clone(),
                (None, Some(p)) => p.app_name.clone(),
                (None, None) => String::new(),
            },
            meta: publish.meta.clone(),
            src_user: publish.src_user.clone(),
            src_ip: publish.src_ip.clone(),
            created_ms: previous.as_ref().map_or(modified_ms, |p| p.created_ms),
            modified_ms,
        };
        let changed = previous.as_ref().is_none_or(|p| p.md5 != md5);
        let (op, history_content, history_of) = match &previous {
            None => (HistoryOp::Insert, content, &item),
            Some(p) => (HistoryOp::Update, p.content.clone(), p),
        };
        let row = HistoryRow {
            nid: index,
            id: if op == HistoryOp::Insert { 0 } else { item.id },
            op,
            gray_name: gray_name.clone(),
            ext_info: publish
                .gray
                .as_ref()
                .map(GrayRule::rule_json)
                .unwrap_or_default(),
            md5: history_of.md5.clone(),
            app_name: history_of.app_name.clone(),
            src_ip: publish.src_ip.clone(),
            src_user: publish.src_user.clone(),
            encrypted_data_key: history_of.meta.encrypted_data_key.clone(),
            created_ms: modified_ms,
            modified_ms,
        };
        let mut records = vec![
            ConfigRecord::Item {
                key: publish.key.clone(),
                rule: publish.gray.clone(),
                item: item.clone(),
            },
            ConfigRecord::History {
                key: publish.key.clone(),
                row: row.clone(),
                content: history_content,
            },
        ];
        match &publish.gray {
            None => entry.formal = Some(item),
            Some(rule) => put_gray(entry, rule.clone(), item),
        }
        records.extend(push_history(&publish.key, entry, row));
        if changed {
            self.pending.push(publish.key.clone());
        }
        (Ok(()), records)
    }

    fn remove(
        &mut self,
        key: &ConfigKey,
        gray_name: Option<&str>,
        src_user: &str,
        src_ip: &str,
        at_ms: u64,
        index: u64,
    ) -> Applied {
        let Some(entry) = self.entries.get_mut(key) else {
            return (Ok(()), Vec::new());
        };
        let removed = match gray_name {
            None => entry.formal.take().map(|item| (item, None)),
            Some(name) => entry
                .grays
                .iter()
                .position(|g| g.rule.name() == name)
                .map(|at| entry.grays.remove(at))
                .map(|g| (g.item, Some(g.rule))),
        };
        let Some((item, rule)) = removed else {
            return (Ok(()), Vec::new());
        };
        let row = HistoryRow {
            nid: index,
            id: item.id,
            op: HistoryOp::Delete,
            gray_name: gray_name.map(str::to_string),
            ext_info: rule.as_ref().map(GrayRule::rule_json).unwrap_or_default(),
            md5: item.md5.clone(),
            app_name: item.app_name.clone(),
            src_ip: src_ip.to_string(),
            src_user: src_user.to_string(),
            encrypted_data_key: item.meta.encrypted_data_key.clone(),
            created_ms: at_ms,
            modified_ms: at_ms,
        };
        let mut records = vec![
            ConfigRecord::NoItem {
                key: key.clone(),
                gray_name: gray_name.map(str::to_string),
            },
            ConfigRecord::History {
                key: key.clone(),
                row: row.clone(),
                content: item.content.clone(),
            },
        ];
        records.extend(push_history(key, entry, row));
        self.pending.push(key.clone());
        (Ok(()), records)
    }

    fn put_namespace(&mut self, namespace: &Namespace, create: bool) -> Applied {
        let exists = self.namespaces.contains_key(&namespace.id);
        if create && exists {
            return (
                Err(ConfigError::invalid(format!(
                    "namespace [{}] already exists",
                    namespace.id
                ))),
                Vec::new(),
            );
        }
        if !create && !exists {
            return (
                Err(ConfigError::new(
                    ConfigErrorKind::NotFound,
                    format!("namespaceId [ {} ] not exist", namespace.id),
                )),
                Vec::new(),
            );
        }
        let mut stored = namespace.clone();
        if let Some(old) = self.namespaces.get(&namespace.id) {
            stored.created_ms = old.created_ms;
        }
        self.namespaces.insert(stored.id.clone(), stored.clone());
        (Ok(()), vec![ConfigRecord::Namespace(stored)])
    }

    fn remove_namespace(&mut self, id: &str) -> Applied {
        if self.namespaces.remove(id).is_none() {
            return (Ok(()), Vec::new());
        }
        (
            Ok(()),
            vec![ConfigRecord::NoNamespace { id: id.to_string() }],
        )
    }

    fn prune_history(&mut self, before_ms: u64) -> Vec<ConfigRecord> {
        let mut records = Vec::new();
        let mut emptied = Vec::new();
        for (key, entry) in self.entries.iter_mut() {
            let old = entry
                .history
                .iter()
                .take_while(|row| row.modified_ms < before_ms)
                .count();
            for row in entry.history.drain(..old) {
                records.push(ConfigRecord::NoHistory {
                    key: key.clone(),
                    nid: row.nid,
                });
            }
            if entry.is_empty() {
                emptied.push(key.clone());
            }
        }
        for key in emptied {
            self.entries.remove(&key);
        }
        records
    }

    /// Puts a stored record back at start (no validation, no notification).
    pub fn restore(&mut self, record: ConfigRecord) {
        match record {
            ConfigRecord::Item { key, rule, item } => {
                let entry = self.entries.entry(key).or_default();
                match rule {
                    None => entry.formal = Some(item),
                    Some(rule) => put_gray(entry, rule, item),
                }
            }
            ConfigRecord::History { key, row, .. } => {
                let entry = self.entries.entry(key).or_default();
                let at = entry.history.partition_point(|r| r.nid < row.nid);
                reserve_history_row(entry);
                entry.history.insert(at, row);
            }
            ConfigRecord::Namespace(namespace) => {
                self.namespaces.insert(namespace.id.clone(), namespace);
            }
            ConfigRecord::NoItem { .. }
            | ConfigRecord::NoHistory { .. }
            | ConfigRecord::NoNamespace { .. } => {}
        }
    }

    /// Forgets every durable record (a Raft snapshot is about to replace them); listeners
    /// stay and are told about every key that had data.
    pub fn clear_durable(&mut self) {
        let mut keep = HashMap::new();
        for (key, entry) in self.entries.drain() {
            if entry.formal.is_some() || !entry.grays.is_empty() {
                self.pending.push(key.clone());
            }
            if !entry.listeners.is_empty() {
                keep.insert(
                    key,
                    Box::new(Entry {
                        listeners: entry.listeners,
                        ..Entry::default()
                    }),
                );
            }
        }
        self.entries = keep;
        self.namespaces.clear();
    }

    /// What `labels` reads of `key`.
    pub fn get(&self, key: &ConfigKey, labels: &ReaderLabels) -> Option<ServedConfig> {
        let served = self.entries.get(key)?.served(labels)?;
        Some(ServedConfig {
            item: served.item.clone(),
            beta: matches!(served.rule, Some(GrayRule::Beta { .. })),
            tag: match served.rule {
                Some(GrayRule::Tag { tag }) => Some(tag.clone()),
                _ => None,
            },
        })
    }

    /// The formal version and every gray of `key` (for `show=all`, beta queries, export).
    pub fn versions(&self, key: &ConfigKey) -> (Option<ConfigItem>, Vec<Gray>) {
        match self.entries.get(key) {
            Some(entry) => (entry.formal.clone(), entry.grays.clone()),
            None => (None, Vec::new()),
        }
    }

    /// Registers a held long poll on `keys` (with the md5 each holds) and returns the indices
    /// of those whose served md5 differs. Registering first means a change that lands right
    /// after the comparison still wakes the poll.
    pub fn listen_poll(
        &mut self,
        poll: u64,
        keys: &[(ConfigKey, Listener)],
        labels: &ReaderLabels,
        register: bool,
    ) -> Vec<usize> {
        let mut changed = Vec::new();
        for (i, (key, listener)) in keys.iter().enumerate() {
            let entry = self.entries.entry(key.clone()).or_default();
            if register {
                entry.listeners.polls.insert(poll, listener.clone());
            }
            if entry.served_md5(labels) != listener.md5 {
                changed.push(i);
            }
        }
        self.drop_empty(keys.iter().map(|(k, _)| k));
        changed
    }

    pub fn unlisten_poll(&mut self, poll: u64, keys: &[ConfigKey]) {
        for key in keys {
            if let Some(entry) = self.entries.get_mut(key) {
                entry.listeners.polls.remove(&poll);
            }
        }
        self.drop_empty(keys.iter());
    }

    /// gRPC `ConfigBatchListenRequest`: (un)registers `connection` on `keys`; for a listen,
    /// returns the indices whose served md5 differs from the client's.
    pub fn listen_grpc(
        &mut self,
        connection: u64,
        keys: &[(ConfigKey, Listener)],
        labels: &ReaderLabels,
        listen: bool,
    ) -> Vec<usize> {
        let mut changed = Vec::new();
        for (i, (key, listener)) in keys.iter().enumerate() {
            if !listen {
                if let Some(entry) = self.entries.get_mut(key) {
                    entry.listeners.grpc.remove(&connection);
                }
                continue;
            }
            let entry = self.entries.entry(key.clone()).or_default();
            entry.listeners.grpc.insert(connection, listener.clone());
            if entry.served_md5(labels) != listener.md5 {
                changed.push(i);
            }
        }
        self.drop_empty(keys.iter().map(|(k, _)| k));
        changed
    }

    /// A gRPC connection closed: it listens no more.
    pub fn release_connection(&mut self, connection: u64, keys: &[ConfigKey]) {
        for key in keys {
            if let Some(entry) = self.entries.get_mut(key) {
                entry.listeners.grpc.remove(&connection);
            }
        }
        self.drop_empty(keys.iter());
    }

    fn drop_empty<'a>(&mut self, keys: impl Iterator<Item = &'a ConfigKey>) {
        for key in keys {
            if self.entries.get(key).is_some_and(|e| e.is_empty()) {
                self.entries.remove(key);
            }
        }
    }

    /// Keys whose served content changed since the last call, with their listeners.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort();
        pending.dedup();
        pending
            .into_iter()
            .filter_map(|key| {
                let entry = self.entries.get(&key)?;
                let polls: Vec<u64> = entry.listeners.polls.keys().copied().collect();
                let grpc: Vec<(u64, String)> = entry
                    .listeners
                    .grpc
                    .iter()
                    .map(|(c, l)| (*c, l.tenant_spelling.clone()))
                    .collect();
                (!polls.is_empty() || !grpc.is_empty()).then_some(Notification { key, polls, grpc })
            })
            .collect()
    }

    pub fn has_notifications(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Formal configs matching `filter`, on this core.
    pub fn search(&self, filter: &SearchFilter) -> Vec<ConfigSummary> {
        self.entries
            .iter()
            .filter_map(|(key, entry)| {
                let item = entry.formal.as_ref()?;
                filter.matches(key, item).then(|| ConfigSummary {
                    key: key.clone(),
                    item: item.clone(),
                })
            })
            .collect()
    }

    /// Formal configs with these ids, on this core.
    pub fn by_ids(&self, ids: &[u64]) -> Vec<ConfigKey> {
        self.entries
            .iter()
            .filter(|(_, e)| e.formal.as_ref().is_some_and(|f| ids.contains(&f.id)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// How many formal configs each tenant holds, on this core.
    // --- metrics ---
    /// Formal configs held, and gRPC (connection, key) listens on them; read at a scrape.
    pub fn gauges(&self) -> (u64, u64) {
        let mut configs = 0u64;
        let mut grpc_listens = 0u64;
        for entry in self.entries.values() {
            configs += u64::from(entry.formal.is_some());
            grpc_listens += entry.listeners.grpc.len() as u64;
        }
        debug_assert!(configs <= self.entries.len() as u64);
        (configs, grpc_listens)
    }

    pub fn counts_by_tenant(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (key, entry) in &self.entries {
            if entry.formal.is_some() {
                *counts.entry(key.tenant().to_string()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// History rows of `key`, newest first.
    pub fn history(&self, key: &ConfigKey) -> Vec<HistoryRow> {
        self.entries
            .get(key)
            .map_or_else(Vec::new, |e| e.history.iter().rev().cloned().collect())
    }

    /// The current formal version of every config in `tenant` on this core
    /// (`history/configs`).
    pub fn tenant_configs(&self, tenant: &str) -> Vec<ConfigSummary> {
        self.entries
            .iter()
            .filter(|(k, _)| k.tenant() == tenant)
            .filter_map(|(k, e)| {
                Some(ConfigSummary {
                    key: k.clone(),
                    item: e.formal.clone()?,
                })
            })
            .collect()
    }

    /// Listeners of `key`: (ip, md5) of polls and connections.
    pub fn listeners_of(&self, key: &ConfigKey) -> Vec<(String, String)> {
        self.entries.get(key).map_or_else(Vec::new, |e| {
            e.listeners
                .polls
                .values()
                .chain(e.listeners.grpc.values())
                .map(|l| (l.ip.clone(), l.md5.clone()))
                .collect()
        })
    }

    /// Keys listened to from `ip`, with the md5 each listener holds.
    pub fn listened_by(&self, ip: &str) -> Vec<(ConfigKey, String)> {
        let mut out = Vec::new();
        for (key, entry) in &self.entries {
            let listeners = entry
                .listeners
                .polls
                .values()
                .chain(entry.listeners.grpc.values());
            for listener in listeners {
                if listener.ip == ip {
                    out.push((key.clone(), listener.md5.clone()));
                    break;
                }
            }
        }
        out
    }

    pub fn namespaces(&self) -> Vec<Namespace> {
        self.namespaces.values().cloned().collect()
    }

    /// Formal configs in `tenant`, and in `group` when given (capacity usage).
    pub fn count_in(&self, tenant: &str, group: Option<&str>) -> usize {
        self.entries
            .iter()
            .filter(|(key, entry)| {
                entry.formal.is_some()
                    && key.tenant() == tenant
                    && group.is_none_or(|g| key.group() == g)
            })
            .count()
    }

    pub fn config_count(&self) -> usize {
        self.entries.values().filter(|e| e.formal.is_some()).count()
    }
}

fn put_gray(entry: &mut Entry, rule: GrayRule, item: ConfigItem) {
    let name = rule.name();
    match entry.grays.iter_mut().find(|g| g.rule.name() == name) {
        Some(gray) => {
            gray.rule = rule;
            gray.item = item;
        }
        None => {
            entry.grays.push(Gray { rule, item });
            entry
                .grays
                .sort_by_key(|g| std::cmp::Reverse(g.rule.priority()));
        }
    }
}

/// Room for one more history row. Most configs have one or two rows: the first rows grow
/// the Vec exactly rather than to its minimum of four (a row is about 250 bytes).
fn reserve_history_row(entry: &mut Entry) {
    if entry.history.len() == entry.history.capacity() && entry.history.len() < 4 {
        entry.history.reserve_exact(1);
    }
}

/// Keeps a history row in memory, dropping the oldest past the per-config bound (their
/// records delete them from the table too).
fn push_history(key: &ConfigKey, entry: &mut Entry, row: HistoryRow) -> Vec<ConfigRecord> {
    reserve_history_row(entry);
    entry.history.push(row);
    let excess = entry
        .history
        .len()
        .saturating_sub(CONFIG_HISTORY_ROWS_PER_CONFIG_MAX);
    entry
        .history
        .drain(..excess)
        .map(|row| ConfigRecord::NoHistory {
            key: key.clone(),
            nid: row.nid,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::item::ConfigMeta;

    fn key() -> ConfigKey {
        ConfigKey::from_parts("", "G", "app.yaml")
    }

    fn publish(content: &str, at_ms: u64) -> ConfigCommand {
        ConfigCommand::Publish(Box::new(Publish {
            key: key(),
            content: content.to_string(),
            app_name: None,
            meta: ConfigMeta {
                config_type: "yaml".into(),
                ..ConfigMeta::default()
            },
            cas_md5: None,
            gray: None,
            src_user: String::new(),
            src_ip: "10.0.0.1".into(),
            at_ms,
        }))
    }

    fn listener(md5: &str) -> Listener {
        Listener {
            md5: md5.into(),
            ip: "10.0.0.9".into(),
            tenant_spelling: "public".into(),
        }
    }

    /// Insert then update: ids from the log index, history I with the new content and U with
    /// the previous, md5 changes, listeners are told once per changed key.
    #[test]
    fn publish_update_history_and_notify() {
        let mut store = ConfigStore::new();
        let labels = ReaderLabels::default();
        assert_eq!(
            store.listen_poll(77, &[(key(), listener(""))], &labels, true),
            Vec::<usize>::new()
        );
        let (result, records) = store.apply(&publish("a: 1", 1000), 5);
        assert!(result.is_ok());
        assert_eq!(records.len(), 2);
        let first = store.get(&key(), &labels).unwrap();
        assert_eq!(first.item.id, 5);
        assert_eq!(first.item.md5, md5_hex(b"a: 1"));
        let notes = store.take_notifications();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].polls, vec![77]);
        let _ = store.apply(&publish("a: 2", 900), 6);
        let second = store.get(&key(), &labels).unwrap();
        assert_eq!(second.item.id, 5);
        assert!(
            second.item.modified_ms > first.item.modified_ms,
            "monotonic lastModified"
        );
        let history = store.history(&key());
        assert_eq!(history.len(), 2);
        assert_eq!(
            (history[0].op, history[0].nid, history[0].id),
            (HistoryOp::Update, 6, 5)
        );
        assert_eq!(
            history[0].md5,
            md5_hex(b"a: 1"),
            "U rows hold the previous version"
        );
        assert_eq!((history[1].op, history[1].id), (HistoryOp::Insert, 0));
        // Same content again: history grows, nobody is told.
        store.take_notifications();
        let _ = store.apply(&publish("a: 2", 2000), 7);
        assert!(store.take_notifications().is_empty());
        assert_eq!(store.history(&key()).len(), 3);
    }

    /// CAS: a wrong md5 fails and stores nothing; the right one, or a missing config, passes.
    #[test]
    fn compare_and_set() {
        let mut store = ConfigStore::new();
        let cas = |content: &str, md5: &str| {
            let ConfigCommand::Publish(mut p) = publish(content, 1) else {
                unreachable!()
            };
            p.cas_md5 = Some(md5.to_string());
            ConfigCommand::Publish(p)
        };
        assert!(
            store.apply(&cas("x", "whatever"), 1).0.is_ok(),
            "CAS on a missing config inserts"
        );
        let (result, records) = store.apply(&cas("y", "wrong"), 2);
        assert_eq!(result.unwrap_err().kind, ConfigErrorKind::CasMismatch);
        assert!(records.is_empty());
        assert!(store.apply(&cas("y", &md5_hex(b"x")), 3).0.is_ok());
        assert_eq!(
            &store
                .get(&key(), &ReaderLabels::default())
                .unwrap()
                .item
                .content[..],
            b"y"
        );
    }

    /// Beta reaches the listed IPs only, a tag param without its gray reads nothing, the tag
    /// header falls back to formal, and a formal delete keeps the grays.
    #[test]
    fn grays() {
        let mut store = ConfigStore::new();
        let _ = store.apply(&publish("formal", 1), 1);
        let gray = |content: &str, rule: GrayRule| {
            let ConfigCommand::Publish(mut p) = publish(content, 1) else {
                unreachable!()
            };
            p.gray = Some(rule);
            ConfigCommand::Publish(p)
        };
        let _ = store.apply(
            &gray(
                "beta",
                GrayRule::Beta {
                    ips: vec!["10.1.1.1".into()],
                },
            ),
            2,
        );
        let _ = store.apply(&gray("tagged", GrayRule::Tag { tag: "v2".into() }), 3);
        let read_in = |store: &ConfigStore, labels: ReaderLabels| {
            store
                .get(&key(), &labels)
                .map(|s| String::from_utf8(s.item.content.to_vec()).unwrap())
        };
        let ip = |ip: &str| ReaderLabels {
            ips: vec![ip.into()],
            ..Default::default()
        };
        let read = |labels| read_in(&store, labels);
        assert_eq!(read(ip("10.1.1.1")).as_deref(), Some("beta"));
        assert_eq!(read(ip("10.9.9.9")).as_deref(), Some("formal"));
        let tag = |param: Option<&str>, header: Option<&str>| ReaderLabels {
            tag_param: param.map(str::to_string),
            tag_header: header.map(str::to_string),
            ..Default::default()
        };
        assert_eq!(read(tag(Some("v2"), None)).as_deref(), Some("tagged"));
        assert_eq!(read(tag(Some("v3"), None)), None);
        assert_eq!(read(tag(None, Some("v3"))).as_deref(), Some("formal"));
        let remove = ConfigCommand::Remove {
            key: key(),
            gray_name: None,
            src_user: String::new(),
            src_ip: String::new(),
            at_ms: 5,
        };
        let _ = store.apply(&remove, 4);
        assert_eq!(read_in(&store, ip("10.9.9.9")), None);
        assert_eq!(read_in(&store, ip("10.1.1.1")).as_deref(), Some("beta"));
    }

    /// Listeners with an up-to-date md5 are not changed; a missing config with md5 "" is
    /// up to date; unlisten and connection release forget them.
    #[test]
    fn listeners() {
        let mut store = ConfigStore::new();
        let labels = ReaderLabels::default();
        let missing = ConfigKey::from_parts("", "G", "none");
        let changed = store.listen_grpc(3, &[(missing.clone(), listener(""))], &labels, true);
        assert!(changed.is_empty());
        let _ = store.apply(&publish("v", 1), 1);
        let keys = [
            (key(), listener(&md5_hex(b"v"))),
            (missing.clone(), listener("stale")),
        ];
        assert_eq!(store.listen_grpc(3, &keys, &labels, true), vec![1]);
        assert_eq!(store.listeners_of(&key()).len(), 1);
        store.release_connection(3, &[key(), missing.clone()]);
        assert!(store.listeners_of(&key()).is_empty());
        assert!(
            store.entries.get(&missing).is_none(),
            "an empty entry is dropped"
        );
    }

    #[test]
    fn search_and_prune() {
        let mut store = ConfigStore::new();
        let _ = store.apply(&publish("v", 1000), 1);
        let filter = |data_id: &str, blur: bool| SearchFilter {
            data_id: data_id.into(),
            blur,
            ..Default::default()
        };
        assert_eq!(store.search(&filter("app.yaml", false)).len(), 1);
        assert_eq!(store.search(&filter("app", false)).len(), 0);
        assert_eq!(store.search(&filter("app", true)).len(), 0);
        assert_eq!(store.search(&filter("*app*", true)).len(), 1);
        assert_eq!(store.search(&filter("app.yaml", true)).len(), 1);
        assert_eq!(store.search(&filter("*.yaml", true)).len(), 1);
        assert_eq!(store.search(&filter("*.json", true)).len(), 0);
        let (_, records) = store.apply(&ConfigCommand::PruneHistory { before_ms: 2000 }, 2);
        assert_eq!(records.len(), 1);
        assert!(store.history(&key()).is_empty());
        assert!(store.get(&key(), &ReaderLabels::default()).is_some());
    }
}
