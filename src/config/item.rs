//! One stored config version (`ConfigItem`), its gray variants (beta and tag), history rows
//! and namespaces: the data of the config center, free of any wire format.

use bytes::Bytes;

/// The types Nacos knows (`ConfigType`); anything else is stored as `text`.
const CONFIG_TYPES: [&str; 8] = [
    "properties",
    "xml",
    "json",
    "text",
    "html",
    "yaml",
    "toml",
    "unset",
];

/// A blank or unknown type becomes `text`, as Nacos does on publish.
pub fn normalise_type(raw: Option<&str>) -> String {
    let raw = raw.unwrap_or("").trim();
    match CONFIG_TYPES.iter().find(|t| t.eq_ignore_ascii_case(raw)) {
        Some(known) => (*known).to_string(),
        None => "text".to_string(),
    }
}

/// The optional descriptive fields a publish carries (Nacos `configAdvanceInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfigMeta {
    pub config_type: String,
    pub desc: String,
    #[serde(rename = "use")]
    pub usage: String,
    pub effect: String,
    pub schema: String,
    pub tags: String,
    pub encrypted_data_key: String,
}

/// One version of a config (formal, or the content of a gray).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigItem {
    /// The config's id: the Raft index that created it (the same on every member).
    pub id: u64,
    pub content: Bytes,
    pub md5: String,
    pub app_name: String,
    pub meta: ConfigMeta,
    pub src_user: String,
    pub src_ip: String,
    pub created_ms: u64,
    pub modified_ms: u64,
}

/// What decides who sees a gray version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GrayRule {
    /// Clients whose IP is listed (`betaIps`).
    Beta { ips: Vec<String> },
    /// Clients asking with this tag.
    Tag { tag: String },
}

impl GrayRule {
    /// The gray's stored name: `beta`, or `tag_<tag>`.
    pub fn name(&self) -> String {
        match self {
            GrayRule::Beta { .. } => "beta".to_string(),
            GrayRule::Tag { tag } => format!("tag_{tag}"),
        }
    }

    /// Higher is chosen first (Nacos: beta `Integer.MAX_VALUE`, tag one less).
    pub fn priority(&self) -> u8 {
        match self {
            GrayRule::Beta { .. } => 2,
            GrayRule::Tag { .. } => 1,
        }
    }

    /// Nacos's `gray_rule` JSON, shown in history `extInfo`.
    pub fn rule_json(&self) -> String {
        let (kind, expr) = match self {
            GrayRule::Beta { ips } => ("beta", ips.join(",")),
            GrayRule::Tag { tag } => ("tag", tag.clone()),
        };
        serde_json::json!({"type": kind, "version": "1.0.0", "expr": expr, "priority": self.priority()})
            .to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gray {
    pub rule: GrayRule,
    pub item: ConfigItem,
}

/// Who is reading: the labels a gray is matched against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderLabels {
    /// The client's IPs: the one it reports and the TCP peer's (beta matches either).
    pub ips: Vec<String>,
    /// The `tag` parameter: with no matching tag gray the read finds nothing.
    pub tag_param: Option<String>,
    /// The `Vipserver-Tag` header (or app labels): falls back to the formal version.
    pub tag_header: Option<String>,
}

/// History `op_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HistoryOp {
    Insert,
    Update,
    Delete,
}

impl HistoryOp {
    pub fn code(self) -> &'static str {
        match self {
            HistoryOp::Insert => "I",
            HistoryOp::Update => "U",
            HistoryOp::Delete => "D",
        }
    }
}

/// A history row without its content (memory keeps these; the content stays in LMDB).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryRow {
    /// The row's id: the Raft index of the write that made it.
    pub nid: u64,
    /// The config's id (0 for an insert, as Nacos writes).
    pub id: u64,
    pub op: HistoryOp,
    /// `None`: the formal config; otherwise the gray's name.
    pub gray_name: Option<String>,
    /// The gray rule JSON of a gray row (Nacos `ext_info`).
    pub ext_info: String,
    pub md5: String,
    pub app_name: String,
    pub src_ip: String,
    pub src_user: String,
    pub encrypted_data_key: String,
    pub created_ms: u64,
    pub modified_ms: u64,
}

/// A namespace (Nacos `tenant_info`). The default one is implicit and never stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Namespace {
    pub id: String,
    pub name: String,
    pub desc: String,
    pub created_ms: u64,
    pub modified_ms: u64,
}
