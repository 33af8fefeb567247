//! `Switches`: the runtime settings of Nacos `SwitchDomain` that clients can read and change
//! through `operator/switches`. Every core keeps its own copy; a change is applied on every
//! core through a fan-out op, so reads never leave the core.

use serde::Serialize;

use crate::naming::error::{NamingError, NamingResult};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthParams {
    pub max: u64,
    pub min: u64,
    pub factor: f32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Switches {
    pub name: String,
    pub masters: Option<Vec<String>>,
    pub ad_weight_map: std::collections::BTreeMap<String, u32>,
    pub default_push_cache_millis: u64,
    pub client_beat_interval: u64,
    pub default_cache_millis: u64,
    pub distro_threshold: f32,
    pub health_check_enabled: bool,
    pub auto_change_health_check_enabled: bool,
    pub distro_enabled: bool,
    pub enable_standalone: bool,
    pub push_enabled: bool,
    pub check_times: u32,
    pub http_health_params: HealthParams,
    pub tcp_health_params: HealthParams,
    pub mysql_health_params: HealthParams,
    pub incremental_list: Vec<String>,
    pub server_status_synchronization_period_millis: u64,
    pub service_status_synchronization_period_millis: u64,
    pub disable_add_i_p: bool,
    pub send_beat_only: bool,
    pub light_beat_enabled: bool,
    pub limited_url_map: std::collections::BTreeMap<String, u32>,
    pub distro_server_expired_millis: u64,
    pub push_go_version: String,
    pub push_java_version: String,
    pub push_python_version: String,
    pub push_c_version: String,
    pub push_c_sharp_version: String,
    pub enable_authentication: bool,
    pub overridden_server_status: Option<String>,
    pub default_instance_ephemeral: bool,
    pub health_check_white_list: Vec<String>,
    pub checksum: Option<String>,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            name: "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00".to_string(),
            masters: None,
            ad_weight_map: Default::default(),
            default_push_cache_millis: 10_000,
            client_beat_interval: 5_000,
            default_cache_millis: 3_000,
            distro_threshold: 0.7,
            health_check_enabled: true,
            auto_change_health_check_enabled: true,
            distro_enabled: true,
            enable_standalone: true,
            push_enabled: true,
            check_times: 3,
            http_health_params: HealthParams {
                max: 5000,
                min: 500,
                factor: 0.85,
            },
            tcp_health_params: HealthParams {
                max: 5000,
                min: 1000,
                factor: 0.75,
            },
            mysql_health_params: HealthParams {
                max: 3000,
                min: 2000,
                factor: 0.65,
            },
            incremental_list: Vec::new(),
            server_status_synchronization_period_millis: 2000,
            service_status_synchronization_period_millis: 5000,
            disable_add_i_p: false,
            send_beat_only: false,
            light_beat_enabled: true,
            limited_url_map: Default::default(),
            distro_server_expired_millis: 10_000,
            push_go_version: "0.1.0".to_string(),
            push_java_version: "0.1.0".to_string(),
            push_python_version: "0.4.3".to_string(),
            push_c_version: "1.0.12".to_string(),
            push_c_sharp_version: "0.9.0".to_string(),
            enable_authentication: false,
            overridden_server_status: None,
            default_instance_ephemeral: true,
            health_check_white_list: Vec::new(),
            checksum: None,
        }
    }
}

impl Switches {
    /// Applies `entry=value` as Nacos `SwitchManager.update` does for the entries it knows.
    pub fn update(&mut self, entry: &str, value: &str) -> NamingResult<()> {
        let value = value.trim();
        match entry {
            "defaultPushCacheMillis" => self.default_push_cache_millis = parse(entry, value)?,
            "clientBeatInterval" => self.client_beat_interval = parse(entry, value)?,
            "defaultCacheMillis" => self.default_cache_millis = parse(entry, value)?,
            "distroThreshold" => self.distro_threshold = parse(entry, value)?,
            "healthCheckEnabled" => self.health_check_enabled = parse_bool(value),
            "pushEnabled" => self.push_enabled = parse_bool(value),
            "checkTimes" => self.check_times = parse(entry, value)?,
            "lightBeatEnabled" => self.light_beat_enabled = parse_bool(value),
            "defaultInstanceEphemeral" => self.default_instance_ephemeral = parse_bool(value),
            "distroServerExpiredMillis" => self.distro_server_expired_millis = parse(entry, value)?,
            "sendBeatOnly" => self.send_beat_only = parse_bool(value),
            "disableAddIP" => self.disable_add_i_p = parse_bool(value),
            "autoChangeHealthCheckEnabled" => {
                self.auto_change_health_check_enabled = parse_bool(value)
            }
            "pushJavaVersion" => self.push_java_version = value.to_string(),
            "pushGoVersion" => self.push_go_version = value.to_string(),
            "pushPythonVersion" => self.push_python_version = value.to_string(),
            "pushCVersion" => self.push_c_version = value.to_string(),
            "pushCSharpVersion" => self.push_c_sharp_version = value.to_string(),
            "overriddenServerStatus" => {
                self.overridden_server_status = Some(value.to_string()).filter(|v| !v.is_empty())
            }
            _ => {
                return Err(NamingError::invalid(format!(
                    "update entry not found: {entry}"
                )));
            }
        }
        Ok(())
    }
}

fn parse<T: std::str::FromStr>(entry: &str, value: &str) -> NamingResult<T> {
    value
        .parse()
        .map_err(|_| NamingError::invalid(format!("illegal value for switch {entry}: {value}")))
}

/// Java's `Boolean.parseBoolean`: "true" in any case is true, everything else false.
pub fn parse_bool(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known entries change; unknown ones and bad numbers are refused.
    #[test]
    fn update_entries() {
        let mut s = Switches::default();
        s.update("defaultPushCacheMillis", "2000").unwrap();
        assert_eq!(s.default_push_cache_millis, 2000);
        s.update("lightBeatEnabled", "false").unwrap();
        assert!(!s.light_beat_enabled);
        assert!(s.update("nope", "1").is_err());
        assert!(s.update("clientBeatInterval", "x").is_err());
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["name"], "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00");
        assert_eq!(json["clientBeatInterval"], 5000);
        assert_eq!(json["disableAddIP"], false);
    }
}
