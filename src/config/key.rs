//! `ConfigKey`: (tenant, group, dataId) with the default namespace normalised, and the
//! validation Nacos runs on those names before anything is stored (nacos-config-protocol.md
//! §1.1, §1.4).

use crate::config::error::{ConfigError, ConfigErrorKind, ConfigResult};
use crate::limits::{
    CONFIG_DATA_ID_CHARS_MAX, CONFIG_GROUP_CHARS_MAX, CONFIG_TAG_CHARS_MAX,
    CONFIG_TENANT_CHARS_MAX, NAMESPACE_CHARS_MAX,
};

pub const DEFAULT_GROUP: &str = "DEFAULT_GROUP";

/// The identity of a config. The tenant is stored normalised: `""`, `public` and `null` (any
/// case) all name the default namespace, kept as `""`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ConfigKey {
    tenant: String,
    group: String,
    data_id: String,
}

/// The default namespace under any of its spellings becomes `""`.
pub fn normalise_tenant(raw: &str) -> &str {
    let trimmed = raw.trim();
    if trimmed.is_empty()
        || trimmed.eq_ignore_ascii_case("public")
        || trimmed.eq_ignore_ascii_case("null")
    {
        ""
    } else {
        trimmed
    }
}

impl ConfigKey {
    /// Validates and normalises the three names a client sent (`None`: absent).
    pub fn parse(
        data_id: Option<&str>,
        group: Option<&str>,
        tenant: Option<&str>,
    ) -> ConfigResult<ConfigKey> {
        let data_id = data_id.ok_or_else(|| ConfigError::missing("dataId"))?;
        let group = group.ok_or_else(|| ConfigError::missing("group"))?;
        let tenant = tenant.unwrap_or("");
        check_name("dataId", data_id, CONFIG_DATA_ID_CHARS_MAX)?;
        check_name("group", group, CONFIG_GROUP_CHARS_MAX)?;
        check_tenant(tenant)?;
        if data_id.trim().is_empty() || !is_valid(data_id) {
            return Err(ConfigError::invalid(format!("invalid dataId : {data_id}")));
        }
        if group.trim().is_empty() || !is_valid(group) {
            return Err(ConfigError::invalid(format!("invalid group : {group}")));
        }
        Ok(ConfigKey::from_parts(tenant, group, data_id))
    }

    /// A key from names already validated (stored records, tests).
    pub fn from_parts(tenant: &str, group: &str, data_id: &str) -> ConfigKey {
        ConfigKey {
            tenant: normalise_tenant(tenant).to_string(),
            group: group.to_string(),
            data_id: data_id.to_string(),
        }
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn data_id(&self) -> &str {
        &self.data_id
    }

    /// The parts the owner core is hashed from.
    pub fn parts(&self) -> [&str; 3] {
        [&self.tenant, &self.group, &self.data_id]
    }
}

/// Nacos's parameter checker: length, then ASCII characters `[a-zA-Z0-9-_:.]`. Blank values
/// are left to the handler's own checks.
pub(crate) fn check_name(param: &str, value: &str, max_chars: usize) -> ConfigResult<()> {
    if value.is_empty() {
        return Ok(());
    }
    if value.chars().count() > max_chars {
        return Err(ConfigError::new(
            ConfigErrorKind::ParamCheck,
            format!("Param '{param}' is illegal, the param length should not exceed {max_chars}."),
        ));
    }
    let legal = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'));
    if !legal {
        return Err(ConfigError::new(
            ConfigErrorKind::ParamCheck,
            format!(
                "Param '{param}' is illegal, illegal characters should not appear in the param."
            ),
        ));
    }
    Ok(())
}

/// A namespace id: `^[\w-]+`, at most `NAMESPACE_CHARS_MAX` characters (blank is the default).
pub fn check_tenant(tenant: &str) -> ConfigResult<()> {
    let tenant = tenant.trim();
    if tenant.is_empty() {
        return Ok(());
    }
    if tenant.chars().count() > NAMESPACE_CHARS_MAX.min(CONFIG_TENANT_CHARS_MAX) {
        return Err(ConfigError::new(
            ConfigErrorKind::ParamCheck,
            format!(
                "Param 'namespaceId' is illegal, the param length should not exceed {NAMESPACE_CHARS_MAX}."
            ),
        ));
    }
    if !is_namespace_id(tenant) {
        return Err(ConfigError::new(
            ConfigErrorKind::ParamCheck,
            "Param 'namespaceId' is illegal, illegal characters should not appear in the param.",
        ));
    }
    Ok(())
}

/// `^[\w-]+$` with Java's ASCII `\w`.
pub fn is_namespace_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `ParamUtils.isValid`: letters or digits (any script) and `_ - . :`.
fn is_valid(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// A gray tag: valid characters, at most `CONFIG_TAG_CHARS_MAX`.
pub fn check_tag(tag: &str) -> ConfigResult<()> {
    if !is_valid(tag) {
        return Err(ConfigError::invalid(format!("invalid tag : {tag}")));
    }
    if tag.chars().count() > CONFIG_TAG_CHARS_MAX {
        return Err(ConfigError::invalid(format!(
            "too long tag, over {CONFIG_TAG_CHARS_MAX}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_namespace_spellings_are_one() {
        for spelling in ["", "public", "PUBLIC", "null", " "] {
            let key = ConfigKey::parse(Some("a"), Some("G"), Some(spelling)).unwrap();
            assert_eq!(key.tenant(), "");
        }
        let key = ConfigKey::parse(Some("a"), Some("G"), Some("dev")).unwrap();
        assert_eq!(key.tenant(), "dev");
        assert_eq!(key, ConfigKey::from_parts("dev", "G", "a"));
    }

    #[test]
    fn names_are_checked() {
        let bad = |d: &str, g: &str, t: &str| {
            ConfigKey::parse(Some(d), Some(g), Some(t))
                .unwrap_err()
                .kind
        };
        assert_eq!(bad("a b", "G", ""), ConfigErrorKind::ParamCheck);
        assert_eq!(bad("a", "G/H", ""), ConfigErrorKind::ParamCheck);
        assert_eq!(bad(&"x".repeat(257), "G", ""), ConfigErrorKind::ParamCheck);
        assert_eq!(bad("a", &"x".repeat(129), ""), ConfigErrorKind::ParamCheck);
        assert_eq!(bad("a", "G", "dev space"), ConfigErrorKind::ParamCheck);
        assert_eq!(bad("", "G", ""), ConfigErrorKind::Invalid);
        assert_eq!(bad("a", "", ""), ConfigErrorKind::Invalid);
        let missing = ConfigKey::parse(None, Some("G"), None).unwrap_err();
        assert_eq!(missing.kind, ConfigErrorKind::MissingParam);
        assert!(ConfigKey::parse(Some("app.yaml"), Some("DEFAULT_GROUP"), None).is_ok());
        assert!(ConfigKey::parse(Some("a-b_c:d.e"), Some("G"), Some("ns-1_x")).is_ok());
    }

    #[test]
    fn tags() {
        assert!(check_tag("v1.2").is_ok());
        assert!(check_tag("a b").is_err());
        assert!(check_tag(&"t".repeat(17)).is_err());
    }
}
