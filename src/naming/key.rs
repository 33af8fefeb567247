//! Service identity and the Nacos rules for names: namespace normalisation, `group@@service`
//! splitting, and the parameter checks of Nacos `ParamCheckRule` / `NamingUtils`.

use crate::limits::{
    CLUSTER_CHARS_MAX, GROUP_CHARS_MAX, IP_CHARS_MAX, NAMESPACE_CHARS_MAX, SERVICE_NAME_CHARS_MAX,
};
use crate::naming::error::{ErrorKind, NamingError, NamingResult};

pub const DEFAULT_NAMESPACE: &str = "public";
pub const DEFAULT_GROUP: &str = "DEFAULT_GROUP";
pub const DEFAULT_CLUSTER: &str = "DEFAULT";
pub const GROUP_SEPARATOR: &str = "@@";

/// A service's identity: (namespace, group, service). The ephemeral flag is not part of it.
/// The three parts live in one string: a key is built for every request and compared on
/// every lookup, so that is one allocation and one comparison instead of three.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(from = "KeyParts", into = "KeyParts")]
pub struct ServiceKey {
    /// `namespace`, `group` and `service` back to back.
    text: String,
    group_at: u32,
    service_at: u32,
}

/// How a key is stored and sent (the three named fields it has always had).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename = "ServiceKey")]
struct KeyParts {
    namespace: String,
    group: String,
    service: String,
}

impl ServiceKey {
    /// Builds a key from raw request values: `namespace` is normalised, `service` may be grouped
    /// (`group@@name`, which wins over `group`), and every part is checked.
    pub fn parse(
        namespace: Option<&str>,
        group: Option<&str>,
        service: &str,
    ) -> NamingResult<Self> {
        let namespace = namespace_of(namespace)?;
        let (group, service) = split_grouped(group, service)?;
        check_group(group)?;
        check_service_name(service)?;
        Ok(ServiceKey::from_parts(namespace, group, service))
    }

    /// A key from parts that are already checked (stored keys, tests).
    pub fn from_parts(namespace: &str, group: &str, service: &str) -> Self {
        // Each part is bounded by its `*_CHARS_MAX` when checked; stored keys were checked.
        debug_assert!(namespace.len() + group.len() + service.len() <= u32::MAX as usize);
        let mut text = String::with_capacity(namespace.len() + group.len() + service.len());
        text.push_str(namespace);
        text.push_str(group);
        text.push_str(service);
        ServiceKey {
            text,
            group_at: namespace.len() as u32,
            service_at: (namespace.len() + group.len()) as u32,
        }
    }

    pub fn namespace(&self) -> &str {
        &self.text[..self.group_at as usize]
    }

    pub fn group(&self) -> &str {
        &self.text[self.group_at as usize..self.service_at as usize]
    }

    pub fn service(&self) -> &str {
        &self.text[self.service_at as usize..]
    }

    /// `group@@service`, the name HTTP list responses and instance ids carry.
    pub fn grouped_name(&self) -> String {
        format!("{}{GROUP_SEPARATOR}{}", self.group(), self.service())
    }
}

impl From<KeyParts> for ServiceKey {
    fn from(parts: KeyParts) -> Self {
        ServiceKey::from_parts(&parts.namespace, &parts.group, &parts.service)
    }
}

impl From<ServiceKey> for KeyParts {
    fn from(key: ServiceKey) -> Self {
        KeyParts {
            namespace: key.namespace().to_string(),
            group: key.group().to_string(),
            service: key.service().to_string(),
        }
    }
}

/// Ordered as the tuple (namespace, group, service), as listings expect.
impl Ord for ServiceKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.namespace(), self.group(), self.service()).cmp(&(
            other.namespace(),
            other.group(),
            other.service(),
        ))
    }
}

impl PartialOrd for ServiceKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKey")
            .field("namespace", &self.namespace())
            .field("group", &self.group())
            .field("service", &self.service())
            .finish()
    }
}

/// `""`, `"public"` and `"null"` all mean the public namespace (Nacos
/// `NamespaceUtil.processNamespaceParameter`).
pub fn normalize_namespace(namespace: Option<&str>) -> NamingResult<String> {
    namespace_of(namespace).map(str::to_string)
}

fn namespace_of(namespace: Option<&str>) -> NamingResult<&str> {
    let raw = namespace.map(str::trim).unwrap_or("");
    if raw.is_empty() || raw == DEFAULT_NAMESPACE || raw == "null" {
        return Ok(DEFAULT_NAMESPACE);
    }
    check_length("namespaceId", raw, NAMESPACE_CHARS_MAX)?;
    let legal = raw
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if !legal {
        return Err(illegal_chars("namespaceId"));
    }
    Ok(raw)
}

/// Splits `group@@name`; an un-grouped name takes `group` or `DEFAULT_GROUP`.
fn split_grouped<'a>(group: Option<&'a str>, service: &'a str) -> NamingResult<(&'a str, &'a str)> {
    if service.is_empty() {
        return Err(NamingError::missing("serviceName"));
    }
    match service.split_once(GROUP_SEPARATOR) {
        Some((group_part, name)) => {
            if group_part.is_empty() || name.is_empty() {
                return Err(NamingError::new(
                    ErrorKind::InvalidServiceName,
                    "Param 'serviceName' is illegal, it should be format as \
                     'groupName@@serviceName'",
                ));
            }
            Ok((group_part, name))
        }
        None => {
            let group = group.map(str::trim).filter(|g| !g.is_empty());
            Ok((group.unwrap_or(DEFAULT_GROUP), service))
        }
    }
}

/// Nacos pattern `^[a-zA-Z0-9-_:\.]*$`, at most 128 characters.
pub fn check_group(group: &str) -> NamingResult<()> {
    check_length("groupName", group, GROUP_CHARS_MAX)?;
    let legal = group
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if !legal {
        return Err(illegal_chars("groupName"));
    }
    Ok(())
}

/// Nacos pattern `^(?!@).((?!@@)[^\u4E00-\u9FA5\s])*$`: no leading `@`, no `@@`, no whitespace,
/// no CJK ideographs; at most 512 characters.
pub fn check_service_name(service: &str) -> NamingResult<()> {
    check_length("serviceName", service, SERVICE_NAME_CHARS_MAX)?;
    let legal = !service.starts_with('@')
        && !service.contains(GROUP_SEPARATOR)
        && !service.chars().any(|c| c.is_whitespace() || is_cjk(c));
    if !legal {
        return Err(NamingError::new(
            ErrorKind::InvalidServiceName,
            "Param 'serviceName' is illegal, illegal characters should not appear in the param.",
        ));
    }
    Ok(())
}

/// Cluster names of instances: `^[0-9a-zA-Z-]+$` (Nacos `NamingUtils.checkInstanceIsLegal`).
pub fn check_cluster(cluster: &str) -> NamingResult<()> {
    let legal = !cluster.is_empty()
        && cluster.len() <= CLUSTER_CHARS_MAX
        && cluster
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !legal {
        return Err(NamingError::new(
            ErrorKind::InvalidCluster,
            format!(
                "Instance 'clusterName' should be characters with only 0-9a-zA-Z-. (current: {cluster})"
            ),
        ));
    }
    Ok(())
}

/// IPs (or host names): at most 128 characters, no whitespace, no CJK.
pub fn check_ip(ip: &str) -> NamingResult<()> {
    if ip.is_empty() {
        return Err(NamingError::missing("ip"));
    }
    check_length("ip", ip, IP_CHARS_MAX)?;
    if ip
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || is_cjk(c))
    {
        return Err(illegal_chars("ip"));
    }
    Ok(())
}

fn check_length(param: &str, value: &str, max_chars: usize) -> NamingResult<()> {
    if value.chars().count() > max_chars {
        return Err(NamingError::invalid(format!(
            "Param '{param}' is illegal, the param length should not exceed {max_chars}."
        )));
    }
    Ok(())
}

fn illegal_chars(param: &str) -> NamingError {
    NamingError::invalid(format!(
        "Param '{param}' is illegal, illegal characters should not appear in the param."
    ))
}

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FA5}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key is stored and sent as its three named parts (Raft log and snapshots written by
    /// earlier versions read back the same), and parts never run into each other.
    #[test]
    fn key_format_and_parts() {
        let key = ServiceKey::parse(Some("dev"), Some("G"), "orders").unwrap();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(
            json,
            r#"{"namespace":"dev","group":"G","service":"orders"}"#
        );
        assert_eq!(serde_json::from_str::<ServiceKey>(&json).unwrap(), key);
        assert_eq!(
            (key.namespace(), key.group(), key.service()),
            ("dev", "G", "orders")
        );
        assert_ne!(
            ServiceKey::from_parts("n", "ab", "c"),
            ServiceKey::from_parts("n", "a", "bc")
        );
        assert!(ServiceKey::from_parts("n", "a", "z") < ServiceKey::from_parts("n", "ab", "a"));
    }

    /// Blank, "public" and "null" namespaces are the same namespace.
    #[test]
    fn namespace_aliases_are_public() {
        for raw in [None, Some(""), Some("public"), Some("null"), Some("  ")] {
            assert_eq!(normalize_namespace(raw).unwrap(), "public");
        }
        assert_eq!(normalize_namespace(Some("dev-1")).unwrap(), "dev-1");
        assert!(normalize_namespace(Some("a b")).is_err());
        assert!(normalize_namespace(Some(&"x".repeat(65))).is_err());
    }

    /// A grouped service name wins over the group parameter; a bad grouped name is rejected.
    #[test]
    fn grouped_names_split() {
        let key = ServiceKey::parse(None, Some("G"), "A@@orders").unwrap();
        assert_eq!((key.group(), key.service()), ("A", "orders"));
        let key = ServiceKey::parse(None, None, "orders").unwrap();
        assert_eq!(key.group(), DEFAULT_GROUP);
        assert_eq!(key.grouped_name(), "DEFAULT_GROUP@@orders");
        assert!(ServiceKey::parse(None, None, "@@orders").is_err());
        assert!(ServiceKey::parse(None, None, "A@@").is_err());
        assert!(ServiceKey::parse(None, None, "").is_err());
        assert!(ServiceKey::parse(None, Some("bad group"), "x").is_err());
        assert!(ServiceKey::parse(None, None, "has space").is_err());
        assert!(ServiceKey::parse(None, None, "@lead").is_err());
        assert!(ServiceKey::parse(None, None, "服务").is_err());
    }

    /// Cluster names allow only 0-9a-zA-Z- (no underscore), 1 to 64 characters.
    #[test]
    fn cluster_names() {
        assert!(check_cluster("DEFAULT").is_ok());
        assert!(check_cluster("az-1").is_ok());
        assert!(check_cluster("a_b").is_err());
        assert!(check_cluster("").is_err());
        assert!(check_cluster(&"c".repeat(64)).is_ok());
        assert!(check_cluster(&"c".repeat(65)).is_err());
    }
}
