//! Read-only config queries that span cores: search, lookup by id, every version of a key, and
//! listener queries. Each core owns part of the keys, so a search asks every core for its
//! matches and merges them here; a key's versions or listeners come from its owner alone.

use crate::config::error::{ConfigError, ConfigResult};
use crate::config::item::{ConfigItem, Gray};
use crate::config::key::ConfigKey;
use crate::config::store::{ConfigStore, ConfigSummary, SearchFilter};
use crate::shard::core::{config_owner, ConfigOp, ConfigReply, Core, RAFT_CORE};

/// A query of one core's share of the configs.
#[derive(Debug, Clone)]
pub enum ConfigQuery {
    /// Formal configs matching `filter`: how many, and the `keep` with the lowest ids (a page
    /// ends at most `keep` items in, so no core needs to send more).
    Search { filter: SearchFilter, keep: usize },
    /// Formal configs with these ids.
    ByIds(Vec<u64>),
    /// The formal version and the grays of a key.
    Versions(ConfigKey),
    /// (ip, md5) of the listeners of a key.
    ListenersOf(ConfigKey),
    /// Keys listened to from an IP, with the md5 held.
    ListenedBy(String),
    /// Whether a namespace is stored (core 0 holds them).
    NamespaceExists(String),
}

#[derive(Debug)]
// Moved once per query; boxing the item would cost an allocation per answer.
#[allow(clippy::large_enum_variant)]
pub enum QueryAnswer {
    /// Matches (sorted by id, possibly cut short) and how many matched in all.
    Summaries {
        items: Vec<ConfigSummary>,
        total: usize,
    },
    Versions(Option<ConfigItem>, Vec<Gray>),
    Listeners(Vec<(String, String)>),
    Listened(Vec<(ConfigKey, String)>),
    Exists(bool),
}

impl ConfigQuery {
    /// Runs on the core's own store (called from `apply_config_op`).
    pub fn run(self, store: &ConfigStore) -> QueryAnswer {
        match self {
            ConfigQuery::Search { filter, keep } => {
                let mut items = store.search(&filter);
                let total = items.len();
                items.sort_by_key(|s| s.item.id);
                items.truncate(keep);
                QueryAnswer::Summaries { items, total }
            }
            ConfigQuery::ByIds(ids) => {
                let mut items: Vec<ConfigSummary> = store
                    .by_ids(&ids)
                    .into_iter()
                    .filter_map(|key| {
                        let item = store.versions(&key).0?;
                        Some(ConfigSummary { key, item })
                    })
                    .collect();
                items.sort_by_key(|s| s.item.id);
                let total = items.len();
                QueryAnswer::Summaries { items, total }
            }
            ConfigQuery::Versions(key) => {
                let (formal, grays) = store.versions(&key);
                QueryAnswer::Versions(formal, grays)
            }
            ConfigQuery::ListenersOf(key) => QueryAnswer::Listeners(store.listeners_of(&key)),
            ConfigQuery::ListenedBy(ip) => QueryAnswer::Listened(store.listened_by(&ip)),
            ConfigQuery::NamespaceExists(id) => {
                QueryAnswer::Exists(store.namespaces().iter().any(|n| n.id == id))
            }
        }
    }
}

/// A reply that is not the answer a query expects: a core that did not answer.
fn unexpected(reply: ConfigReply) -> ConfigError {
    match reply {
        ConfigReply::Committed(Err(error), _) => error,
        other => ConfigError::internal(format!("unexpected query reply {other:?}")),
    }
}

impl Core {
    /// In a cluster the query first waits for a read barrier (concurrent queries of one
    /// request share its round trip), so it sees every acknowledged write.
    async fn query_on(&self, core: usize, query: ConfigQuery) -> ConfigResult<QueryAnswer> {
        self.read_barrier().await;
        match self.execute_config_on(core, ConfigOp::Query(query)).await {
            ConfigReply::Query(answer) => Ok(answer),
            other => Err(unexpected(other)),
        }
    }

    /// Asks every core at once and merges their summaries by id.
    async fn summaries_everywhere(
        &self,
        query: ConfigQuery,
    ) -> ConfigResult<(Vec<ConfigSummary>, usize)> {
        let calls = (0..self.cores).map(|core| self.query_on(core, query.clone()));
        let answers = futures::future::join_all(calls).await;
        let (mut merged, mut total) = (Vec::new(), 0);
        for answer in answers {
            match answer? {
                QueryAnswer::Summaries {
                    mut items,
                    total: n,
                } => {
                    merged.append(&mut items);
                    total += n;
                }
                other => {
                    return Err(ConfigError::internal(format!(
                        "unexpected search answer {other:?}"
                    )))
                }
            }
        }
        // Java orders searches by id; ids are Raft indices, unique per config.
        merged.sort_by_key(|s| s.item.id);
        Ok((merged, total))
    }

    /// Formal configs matching `filter` across every core: the first `keep` by id, and the
    /// number that matched in all.
    pub async fn search_configs(
        &self,
        filter: SearchFilter,
        keep: usize,
    ) -> ConfigResult<(Vec<ConfigSummary>, usize)> {
        let (mut items, total) = self
            .summaries_everywhere(ConfigQuery::Search { filter, keep })
            .await?;
        items.truncate(keep);
        Ok((items, total))
    }

    /// Formal configs with these ids, across every core, by id.
    pub async fn configs_by_ids(&self, ids: Vec<u64>) -> ConfigResult<Vec<ConfigSummary>> {
        Ok(self.summaries_everywhere(ConfigQuery::ByIds(ids)).await?.0)
    }

    /// The formal version and grays of `key`, from its owner core.
    pub async fn config_versions(
        &self,
        key: &ConfigKey,
    ) -> ConfigResult<(Option<ConfigItem>, Vec<Gray>)> {
        let owner = config_owner(key, self.cores);
        match self
            .query_on(owner, ConfigQuery::Versions(key.clone()))
            .await?
        {
            QueryAnswer::Versions(formal, grays) => Ok((formal, grays)),
            other => Err(ConfigError::internal(format!(
                "unexpected versions answer {other:?}"
            ))),
        }
    }

    /// (ip, md5) of this node's listeners of `key` (its owner core holds them).
    pub async fn config_listeners(&self, key: &ConfigKey) -> ConfigResult<Vec<(String, String)>> {
        let owner = config_owner(key, self.cores);
        match self
            .query_on(owner, ConfigQuery::ListenersOf(key.clone()))
            .await?
        {
            QueryAnswer::Listeners(listeners) => Ok(listeners),
            other => Err(ConfigError::internal(format!(
                "unexpected listeners answer {other:?}"
            ))),
        }
    }

    /// Keys this node's listeners from `ip` listen to, from every core.
    pub async fn configs_listened_by(&self, ip: &str) -> ConfigResult<Vec<(ConfigKey, String)>> {
        let calls =
            (0..self.cores).map(|core| self.query_on(core, ConfigQuery::ListenedBy(ip.into())));
        let mut merged = Vec::new();
        for answer in futures::future::join_all(calls).await {
            match answer? {
                QueryAnswer::Listened(mut keys) => merged.append(&mut keys),
                other => {
                    return Err(ConfigError::internal(format!(
                        "unexpected listened answer {other:?}"
                    )))
                }
            }
        }
        merged.sort();
        Ok(merged)
    }

    /// Whether namespace `id` exists (the default one, `""`, always does).
    pub async fn namespace_exists(&self, id: &str) -> ConfigResult<bool> {
        if id.is_empty() {
            return Ok(true);
        }
        match self
            .query_on(RAFT_CORE, ConfigQuery::NamespaceExists(id.into()))
            .await?
        {
            QueryAnswer::Exists(exists) => Ok(exists),
            other => Err(ConfigError::internal(format!(
                "unexpected namespace answer {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::command::{ConfigCommand, Publish};
    use crate::config::item::ConfigMeta;

    fn store_with(names: &[&str]) -> ConfigStore {
        let mut store = ConfigStore::new();
        // Indices descend, so insertion order and id order differ.
        for (i, name) in names.iter().enumerate() {
            let command = ConfigCommand::Publish(Box::new(Publish {
                key: ConfigKey::from_parts("", "G", name),
                content: format!("c-{name}"),
                app_name: None,
                meta: ConfigMeta::default(),
                cas_md5: None,
                gray: None,
                src_user: String::new(),
                src_ip: String::new(),
                at_ms: 1,
            }));
            let (result, _) = store.apply(&command, 100 - i as u64);
            assert!(result.is_ok());
        }
        store
    }

    fn summaries(answer: QueryAnswer) -> (Vec<u64>, usize) {
        match answer {
            QueryAnswer::Summaries { items, total } => {
                (items.iter().map(|s| s.item.id).collect(), total)
            }
            other => panic!("not summaries: {other:?}"),
        }
    }

    #[test]
    fn search_keeps_lowest_ids_and_counts_all() {
        let store = store_with(&["a", "b", "c", "d"]);
        let query = ConfigQuery::Search {
            filter: SearchFilter::default(),
            keep: 2,
        };
        assert_eq!(summaries(query.run(&store)), (vec![97, 98], 4));
        let by_ids = ConfigQuery::ByIds(vec![99, 100, 5]);
        assert_eq!(summaries(by_ids.run(&store)), (vec![99, 100], 2));
        let none = ConfigQuery::ByIds(Vec::new());
        assert_eq!(summaries(none.run(&store)), (Vec::new(), 0));
    }

    #[test]
    fn versions_and_namespaces() {
        let store = store_with(&["a"]);
        let versions = ConfigQuery::Versions(ConfigKey::from_parts("", "G", "a")).run(&store);
        assert!(
            matches!(versions, QueryAnswer::Versions(Some(item), grays) if item.id == 100 && grays.is_empty())
        );
        let absent = ConfigQuery::Versions(ConfigKey::from_parts("", "G", "z")).run(&store);
        assert!(matches!(absent, QueryAnswer::Versions(None, _)));
        let exists = ConfigQuery::NamespaceExists("dev".into()).run(&store);
        assert!(matches!(exists, QueryAnswer::Exists(false)));
    }
}
