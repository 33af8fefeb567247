//! The writes of the config center as Raft commands, and the durable records applying them
//! produces (what the state tables hold).

use bytes::Bytes;

use crate::config::error::{ConfigError, ConfigResult};
use crate::config::item::{ConfigItem, ConfigMeta, GrayRule, HistoryRow, Namespace};
use crate::config::key::{check_tag, ConfigKey};
use crate::limits::CONFIG_CONTENT_CHARS_MAX;

/// A publish as the client asked for it, with who asked and when (the proposer's wall clock:
/// every member applies the same time).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Publish {
    pub key: ConfigKey,
    pub content: String,
    /// `None` keeps the stored app name (Nacos: a null `appName` on update).
    pub app_name: Option<String>,
    pub meta: ConfigMeta,
    /// Compare-and-set: publish only if the stored md5 is this (or absent/empty).
    pub cas_md5: Option<String>,
    /// Publish a gray variant instead of the formal config.
    pub gray: Option<GrayRule>,
    pub src_user: String,
    pub src_ip: String,
    pub at_ms: u64,
}

/// A publish's content, checked as Nacos does: present, not blank, within `maxContent`.
pub fn checked_content(content: Option<&str>) -> ConfigResult<&str> {
    let content = content.ok_or_else(|| ConfigError::missing("content"))?;
    if content.trim().is_empty() {
        return Err(ConfigError::invalid("content is blank : "));
    }
    if content.chars().count() > CONFIG_CONTENT_CHARS_MAX {
        return Err(ConfigError::invalid(format!(
            "invalid content, over {CONFIG_CONTENT_CHARS_MAX}"
        )));
    }
    Ok(content)
}

/// The gray a publish targets: `betaIps` (a comma list) wins over `tag`; blank values count
/// as absent (the 3.x Python SDK sends every field, blank).
pub fn gray_of(beta_ips: Option<&str>, tag: Option<&str>) -> ConfigResult<Option<GrayRule>> {
    let tag = tag.map(str::trim).filter(|t| !t.is_empty());
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    let beta_ips = beta_ips.filter(|v| !v.trim().is_empty());
    Ok(match (beta_ips, tag) {
        (Some(ips), _) => Some(GrayRule::Beta {
            ips: ips
                .split(',')
                .map(str::trim)
                .filter(|ip| !ip.is_empty())
                .map(str::to_string)
                .collect(),
        }),
        (None, Some(tag)) => Some(GrayRule::Tag {
            tag: tag.to_string(),
        }),
        (None, None) => None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConfigCommand {
    Publish(Box<Publish>),
    /// Removes the formal config (`gray_name: None`) or one gray; absent is not an error.
    Remove {
        key: ConfigKey,
        gray_name: Option<String>,
        src_user: String,
        src_ip: String,
        at_ms: u64,
    },
    /// Creates (`create`: fails if it exists) or updates a namespace.
    PutNamespace {
        namespace: Namespace,
        create: bool,
    },
    RemoveNamespace {
        id: String,
    },
    /// Drops history rows last modified before `before_ms` (retention).
    PruneHistory {
        before_ms: u64,
    },
}

/// Where a command is applied.
pub enum Placement<'a> {
    /// On the owner core of this key.
    Key(&'a ConfigKey),
    /// On core 0 (namespaces).
    First,
    /// On every core.
    Everywhere,
}

impl ConfigCommand {
    pub fn placement(&self) -> Placement<'_> {
        match self {
            ConfigCommand::Publish(publish) => Placement::Key(&publish.key),
            ConfigCommand::Remove { key, .. } => Placement::Key(key),
            ConfigCommand::PutNamespace { .. } | ConfigCommand::RemoveNamespace { .. } => {
                Placement::First
            }
            ConfigCommand::PruneHistory { .. } => Placement::Everywhere,
        }
    }
}

/// One durable change of the config tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigRecord {
    /// A formal config (`rule: None`) or a gray.
    Item {
        key: ConfigKey,
        rule: Option<GrayRule>,
        item: ConfigItem,
    },
    NoItem {
        key: ConfigKey,
        gray_name: Option<String>,
    },
    /// A history row; `content` goes to the table only (memory keeps the row without it).
    History {
        key: ConfigKey,
        row: HistoryRow,
        content: Bytes,
    },
    NoHistory {
        key: ConfigKey,
        nid: u64,
    },
    Namespace(Namespace),
    NoNamespace {
        id: String,
    },
}

impl ConfigRecord {
    /// Where a stored record goes back at start: the key's owner, or core 0.
    pub fn key(&self) -> Option<&ConfigKey> {
        match self {
            ConfigRecord::Item { key, .. }
            | ConfigRecord::NoItem { key, .. }
            | ConfigRecord::History { key, .. }
            | ConfigRecord::NoHistory { key, .. } => Some(key),
            ConfigRecord::Namespace(_) | ConfigRecord::NoNamespace { .. } => None,
        }
    }
}
