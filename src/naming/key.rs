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
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ServiceKey {
    pub namespace: String,
    pub group: String,
    pub service: String,
}

impl ServiceKey {
    /// Builds a key from raw request values: `namespace` is normalised, `service` may be grouped
    /// (`group@@name`, which wins over `group`), and every part is checked.
    pub fn parse(
        namespace: Option<&str>,
        group: Option<&str>,
        service: &str,
    ) -> NamingResult<Self> {
        let namespace = normalize_namespace(namespace)?;
        let (group, service) = split_grouped(group, service)?;
        check_group(&group)?;
        check_service_name(&service)?;
        Ok(ServiceKey {
            namespace,
            group,
            service,
        })
    }

    /// `group@@service`, the name HTTP list responses and instance ids carry.
    pub fn grouped_name(&self) -> String {
        format!("{}{GROUP_SEPARATOR}{}", self.group, self.service)
    }
}

/// `""`, `"public"` and `"null"` all mean the public namespace (Nacos
/// `NamespaceUtil.processNamespaceParameter`).
pub fn normalize_namespace(namespace: Option<&str>) -> NamingResult<String> {
    let raw = namespace.map(str::trim).unwrap_or("");
    if raw.is_empty() || raw == DEFAULT_NAMESPACE || raw == "null" {
        return Ok(DEFAULT_NAMESPACE.to_string());
    }
    check_length("namespaceId", raw, NAMESPACE_CHARS_MAX)?;
    let legal = raw
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if !legal {
        return Err(illegal_chars("namespaceId"));
    }
    Ok(raw.to_string())
}

/// Splits `group@@name`; an un-grouped name takes `group` or `DEFAULT_GROUP`.
fn split_grouped(group: Option<&str>, service: &str) -> NamingResult<(String, String)> {
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
            Ok((group_part.to_string(), name.to_string()))
        }
        None => {
            let group = group.map(str::trim).filter(|g| !g.is_empty());
            Ok((
                group.unwrap_or(DEFAULT_GROUP).to_string(),
                service.to_string(),
            ))
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
        assert_eq!((key.group.as_str(), key.service.as_str()), ("A", "orders"));
        let key = ServiceKey::parse(None, None, "orders").unwrap();
        assert_eq!(key.group, DEFAULT_GROUP);
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
