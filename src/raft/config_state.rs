//! The config center's records as state-table entries, beside the naming ones of `state.rs`
//! (their kind bytes differ). Items and history rows are stored as a JSON header line and
//! the raw content after it, so a large config is neither escaped nor parsed twice.

use bytes::Bytes;

use crate::config::command::ConfigRecord;
use crate::config::item::{ConfigItem, ConfigMeta, GrayRule, HistoryRow, Namespace};
use crate::config::key::ConfigKey;
use crate::raft::state::{json, key_of, parts_of, TableChange};

pub const CONFIG: u8 = b'f';
/// History rows keyed by config first (written before `HISTORY_BY_NID`); still read, found
/// and deleted, never written.
pub const HISTORY: u8 = b'h';
pub const NAMESPACE: u8 = b'n';
/// History rows keyed by their nid first: the nid is the Raft index of the write, so new rows
/// append to the end of the table instead of dirtying one page per config in every batch.
pub const HISTORY_BY_NID: u8 = b'H';

/// An item's fields other than its content, as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct ItemHeader {
    rule: Option<GrayRule>,
    id: u64,
    md5: String,
    app_name: String,
    meta: ConfigMeta,
    src_user: String,
    src_ip: String,
    created_ms: u64,
    modified_ms: u64,
}

/// The formal version is stored under an empty gray name (real gray names never are).
fn item_key(key: &ConfigKey, gray_name: Option<&str>) -> Vec<u8> {
    let [tenant, group, data_id] = key.parts();
    key_of(CONFIG, &[tenant, group, data_id, gray_name.unwrap_or("")])
}

/// Zero-padded nids sort in nid order.
fn history_key(key: &ConfigKey, nid: u64) -> Vec<u8> {
    let [tenant, group, data_id] = key.parts();
    key_of(
        HISTORY_BY_NID,
        &[&format!("{nid:020}"), tenant, group, data_id],
    )
}

fn legacy_history_key(key: &ConfigKey, nid: u64) -> Vec<u8> {
    let [tenant, group, data_id] = key.parts();
    key_of(HISTORY, &[tenant, group, data_id, &format!("{nid:020}")])
}

fn with_content(header: Vec<u8>, content: &[u8]) -> Vec<u8> {
    let mut value = header;
    value.reserve(content.len() + 1);
    value.push(b'\n');
    value.extend_from_slice(content);
    value
}

fn split_content(value: &[u8]) -> Option<(&[u8], Bytes)> {
    let at = value.iter().position(|&b| b == b'\n')?;
    Some((&value[..at], Bytes::copy_from_slice(&value[at + 1..])))
}

pub fn change_of(record: &ConfigRecord) -> TableChange {
    match record {
        ConfigRecord::Item { key, rule, item } => {
            let gray_name = rule.as_ref().map(GrayRule::name);
            let header = ItemHeader {
                rule: rule.clone(),
                id: item.id,
                md5: item.md5.clone(),
                app_name: item.app_name.clone(),
                meta: item.meta.clone(),
                src_user: item.src_user.clone(),
                src_ip: item.src_ip.clone(),
                created_ms: item.created_ms,
                modified_ms: item.modified_ms,
            };
            TableChange::Put(
                item_key(key, gray_name.as_deref()),
                with_content(json(&header), &item.content),
            )
        }
        ConfigRecord::NoItem { key, gray_name } => {
            TableChange::Delete(item_key(key, gray_name.as_deref()))
        }
        ConfigRecord::History { key, row, content } => {
            TableChange::Put(history_key(key, row.nid), with_content(json(row), content))
        }
        ConfigRecord::NoHistory { key, nid } => TableChange::Delete(history_key(key, *nid)),
        ConfigRecord::Namespace(namespace) => {
            TableChange::Put(key_of(NAMESPACE, &[&namespace.id]), json(namespace))
        }
        ConfigRecord::NoNamespace { id } => TableChange::Delete(key_of(NAMESPACE, &[id])),
    }
}

/// The second change a record makes, besides `change_of`'s: deleting a history row also
/// deletes it under the key older versions wrote it with.
pub fn legacy_change_of(record: &ConfigRecord) -> Option<TableChange> {
    match record {
        ConfigRecord::NoHistory { key, nid } => {
            Some(TableChange::Delete(legacy_history_key(key, *nid)))
        }
        _ => None,
    }
}

/// Decodes one stored config entry; `None` for other kinds or unreadable entries.
pub fn record_of(key: &[u8], value: &[u8]) -> Option<ConfigRecord> {
    let kind = *key.first()?;
    let parts = parts_of(key)?;
    match kind {
        NAMESPACE => Some(ConfigRecord::Namespace(
            serde_json::from_slice::<Namespace>(value).ok()?,
        )),
        CONFIG => {
            let config_key = ConfigKey::from_parts(parts.first()?, parts.get(1)?, parts.get(2)?);
            let (header, content) = split_content(value)?;
            let header: ItemHeader = serde_json::from_slice(header).ok()?;
            let item = ConfigItem {
                id: header.id,
                content,
                md5: header.md5,
                app_name: header.app_name,
                meta: header.meta,
                src_user: header.src_user,
                src_ip: header.src_ip,
                created_ms: header.created_ms,
                modified_ms: header.modified_ms,
            };
            Some(ConfigRecord::Item {
                key: config_key,
                rule: header.rule,
                item,
            })
        }
        HISTORY | HISTORY_BY_NID => {
            let at = usize::from(kind == HISTORY_BY_NID);
            let config_key =
                ConfigKey::from_parts(parts.get(at)?, parts.get(at + 1)?, parts.get(at + 2)?);
            let (header, content) = split_content(value)?;
            let row: HistoryRow = serde_json::from_slice(header).ok()?;
            Some(ConfigRecord::History {
                key: config_key,
                row,
                content,
            })
        }
        _ => None,
    }
}

/// The table keys a history row may be under (this version's first), to read its content
/// back on demand.
pub fn history_table_keys(key: &ConfigKey, nid: u64) -> [Vec<u8>; 2] {
    [history_key(key, nid), legacy_history_key(key, nid)]
}

/// The content stored in a history row's value.
pub fn history_content(value: &[u8]) -> Option<Bytes> {
    split_content(value).map(|(_, content)| content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::item::HistoryOp;

    fn put(record: &ConfigRecord) -> (Vec<u8>, Vec<u8>) {
        match change_of(record) {
            TableChange::Put(k, v) => (k, v),
            TableChange::Delete(_) => panic!("expected a put"),
        }
    }

    fn history_row() -> HistoryRow {
        HistoryRow {
            nid: 9,
            id: 7,
            op: HistoryOp::Update,
            gray_name: None,
            ext_info: String::new(),
            md5: "m".into(),
            app_name: "app".into(),
            src_ip: "10.0.0.1".into(),
            src_user: String::new(),
            encrypted_data_key: String::new(),
            created_ms: 3,
            modified_ms: 3,
        }
    }

    /// Items (formal and gray, content with newlines and non-ASCII), history rows and
    /// namespaces round-trip; deletions hit the same keys; naming kinds are not read here.
    #[test]
    fn records_round_trip() {
        let key = ConfigKey::from_parts("", "G", "app.yaml");
        let item = ConfigItem {
            id: 7,
            content: Bytes::from("a: 1\nb: 你好\n"),
            md5: "m".into(),
            app_name: "app".into(),
            meta: ConfigMeta {
                config_type: "yaml".into(),
                ..ConfigMeta::default()
            },
            src_user: String::new(),
            src_ip: "10.0.0.1".into(),
            created_ms: 1,
            modified_ms: 2,
        };
        let beta = GrayRule::Beta {
            ips: vec!["10.0.0.2".into()],
        };
        let row = history_row();
        let records = vec![
            ConfigRecord::Item {
                key: key.clone(),
                rule: None,
                item: item.clone(),
            },
            ConfigRecord::Item {
                key: key.clone(),
                rule: Some(beta),
                item,
            },
            ConfigRecord::History {
                key: key.clone(),
                row,
                content: Bytes::from("old\ncontent"),
            },
            ConfigRecord::Namespace(Namespace {
                id: "dev".into(),
                name: "Dev".into(),
                desc: String::new(),
                created_ms: 1,
                modified_ms: 1,
            }),
        ];
        for record in &records {
            let (k, v) = put(record);
            assert_eq!(record_of(&k, &v).as_ref(), Some(record));
        }
        assert_ne!(put(&records[0]).0, put(&records[1]).0);
        let gone = ConfigRecord::NoItem {
            key: key.clone(),
            gray_name: Some("beta".into()),
        };
        assert_eq!(change_of(&gone), TableChange::Delete(put(&records[1]).0));
        let (history_key, history_value) = put(&records[2]);
        let [new_key, old_key] = history_table_keys(&key, 9);
        assert_eq!(history_key, new_key);
        // A row an older version wrote reads back the same.
        assert_eq!(
            record_of(&old_key, &history_value).as_ref(),
            Some(&records[2])
        );
        let gone = ConfigRecord::NoHistory {
            key: key.clone(),
            nid: 9,
        };
        assert_eq!(change_of(&gone), TableChange::Delete(new_key));
        assert_eq!(legacy_change_of(&gone), Some(TableChange::Delete(old_key)));
        assert_eq!(legacy_change_of(&records[2]), None);
        // New rows sort by nid whatever their config.
        let later = ConfigRecord::History {
            key: ConfigKey::from_parts("", "A", "a"),
            row: HistoryRow {
                nid: 10,
                ..history_row()
            },
            content: Bytes::new(),
        };
        assert!(put(&later).0 > history_key);
        assert_eq!(
            &history_content(&history_value).unwrap()[..],
            b"old\ncontent"
        );
        assert!(record_of(b"s\0ns\0g\0svc", b"{}").is_none());
    }
}
