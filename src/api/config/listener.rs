//! `POST /nacos/v1/cs/configs/listener` (nacos-config-protocol.md §2.5): HTTP long polling.
//! A poll with `Long-Pulling-Timeout` is held on this core until one of its keys changes or
//! the hold runs out; without the header it is answered at once (short polling).

use std::time::Duration;

use crate::api::config::{client_ip, labels_of, no_cache};
use crate::config::error::{ConfigError, ConfigResult};
use crate::config::key::ConfigKey;
use crate::config::listen::{encode_changed, parse_listening_configs, ListenEntry};
use crate::config::polls::hold_ms;
use crate::config::store::Listener;
use crate::http::codec::KeptHeader;
use crate::http::conn::Request;
use crate::http::response::Response;
use crate::limits::{
    CONFIG_DATA_ID_CHARS_MAX, CONFIG_GROUP_CHARS_MAX, CONFIG_LISTEN_KEYS_PER_POLL_MAX,
    CONFIG_POLL_FULL_BACKOFF_MS, CONFIG_POLL_HOLD_DELAY_MS, CONFIG_POLL_HOLD_MAX_MS,
    CONFIG_POLL_HOLD_MIN_MS, CONFIG_TENANT_CHARS_MAX,
};
use crate::shard::core::PollOutcome;
use crate::shard::CoreHandle;

/// Java's message for every malformed `Listening-Configs`.
const INVALID_PROBE: &str = "invalid probeModify";

/// Clients below this version read a short poll's answer from headers (Java
/// `ConfigController.listener`, `Probe-Modify-Response-New`).
const HEADER_ANSWER_BELOW_VERSION: (u32, u32, u32) = (2, 0, 4);

pub async fn listener(core: &CoreHandle, request: &Request) -> ConfigResult<Response> {
    let value = request.params.get("Listening-Configs").unwrap_or("");
    let entries = parse_listening_configs(value, CONFIG_LISTEN_KEYS_PER_POLL_MAX).map_err(|e| {
        tracing::debug!(reason = e.reason(), "listener refused");
        ConfigError::invalid(INVALID_PROBE)
    })?;
    let ip = client_ip(request);
    let listens = entries
        .iter()
        .map(|entry| listen_of(entry, &ip))
        .collect::<ConfigResult<Vec<_>>>()?;
    let labels = labels_of(request);
    let Some(timeout) = request.head.header(KeptHeader::LongPullingTimeout) else {
        let changed = core.compare_poll(listens, labels).await;
        let body = changed_body(&entries, &changed);
        let mut response = answer(body.clone());
        if answers_in_headers(request.head.header(KeptHeader::ClientVersion)) {
            response =
                response.with_header("Probe-Modify-Response-New", body.trim_end().to_string());
        }
        return Ok(response);
    };
    let timeout_ms: u64 = timeout
        .trim()
        .parse()
        .map_err(|_| ConfigError::invalid(format!("invalid Long-Pulling-Timeout : {timeout}")))?;
    let no_hangup = request
        .head
        .header(KeptHeader::LongPullingNoHangup)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let hold = hold_ms(
        timeout_ms,
        CONFIG_POLL_HOLD_MIN_MS,
        CONFIG_POLL_HOLD_DELAY_MS,
        CONFIG_POLL_HOLD_MAX_MS,
    );
    match core.hold_poll(listens, labels, hold, no_hangup).await {
        PollOutcome::Changed(changed) => Ok(answer(changed_body(&entries, &changed))),
        PollOutcome::Unchanged => Ok(answer(String::new())),
        PollOutcome::Full => {
            // Java waits 1–3 s before its 503 so clients that re-poll at once do not spin.
            glommio::timer::sleep(Duration::from_millis(CONFIG_POLL_FULL_BACKOFF_MS)).await;
            Err(ConfigError::unavailable(format!(
                "this server holds its limit of {} long polls per core",
                crate::limits::CONFIG_HELD_POLLS_PER_CORE_MAX
            )))
        }
    }
}

/// The key and listener of one record. Names are not validated as a publish validates them
/// (a key nobody can publish simply never changes), only bounded.
fn listen_of(entry: &ListenEntry, ip: &str) -> ConfigResult<(ConfigKey, Listener)> {
    let bounded = entry.data_id.chars().count() <= CONFIG_DATA_ID_CHARS_MAX
        && entry.group.chars().count() <= CONFIG_GROUP_CHARS_MAX
        && entry.tenant.chars().count() <= CONFIG_TENANT_CHARS_MAX
        && entry.md5.len() <= crate::config::listen::MD5_HEX_LEN;
    if !bounded {
        return Err(ConfigError::invalid(INVALID_PROBE));
    }
    let key = ConfigKey::from_parts(&entry.tenant, &entry.group, &entry.data_id);
    let listener = Listener {
        md5: entry.md5.clone(),
        ip: ip.to_string(),
        tenant_spelling: entry.tenant.clone(),
    };
    Ok((key, listener))
}

/// The changed entries as the client listed them (its tenant spelling), deduplicated.
fn changed_body(entries: &[ListenEntry], changed: &[usize]) -> String {
    let mut keys: Vec<(&str, &str, &str)> = Vec::with_capacity(changed.len());
    for entry in changed.iter().filter_map(|&i| entries.get(i)) {
        let key = (
            entry.data_id.as_str(),
            entry.group.as_str(),
            entry.tenant.as_str(),
        );
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    encode_changed(&keys)
}

/// 200 with no Content-Type and the no-cache headers, as Java answers.
fn answer(body: String) -> Response {
    let mut response = no_cache(Response::text(200, body));
    response.content_type = "";
    response
}

/// Whether a client of `version` (`Nacos-Java-Client:v1.4.1`, `2.0.3`, …) reads the answer
/// from headers: absent or below 2.0.4.
fn answers_in_headers(version: Option<&str>) -> bool {
    let Some(version) = version else {
        return true;
    };
    let digits = version.rsplit(['v', ':']).next().unwrap_or(version);
    let mut parts = digits.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    });
    let parsed = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    parsed < HEADER_ANSWER_BELOW_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(data_id: &str, tenant: &str) -> ListenEntry {
        ListenEntry {
            data_id: data_id.into(),
            group: "DEFAULT_GROUP".into(),
            md5: String::new(),
            tenant: tenant.into(),
        }
    }

    #[test]
    fn changed_body_echoes_spelling_once() {
        let entries = [entry("a", "public"), entry("b", ""), entry("a", "public")];
        assert_eq!(
            changed_body(&entries, &[0, 1, 2]),
            "a%02DEFAULT_GROUP%02public%01b%02DEFAULT_GROUP%01\n"
        );
        assert_eq!(changed_body(&entries, &[]), "");
    }

    #[test]
    fn client_versions() {
        assert!(answers_in_headers(None));
        assert!(answers_in_headers(Some("Nacos-Java-Client:v1.4.1")));
        assert!(answers_in_headers(Some("2.0.3")));
        assert!(!answers_in_headers(Some("Nacos-Java-Client:v2.0.4")));
        assert!(!answers_in_headers(Some("2.3.0")));
    }

    #[test]
    fn records_are_bounded() {
        let long = "d".repeat(CONFIG_DATA_ID_CHARS_MAX + 1);
        assert!(listen_of(&entry(&long, ""), "1.2.3.4").is_err());
        let (key, listener) = listen_of(&entry("a", "public"), "1.2.3.4").unwrap();
        assert_eq!(
            (key.tenant(), listener.tenant_spelling.as_str()),
            ("", "public")
        );
    }
}
