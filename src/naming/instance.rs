//! `Instance`: one registered address of a service, and the rules that turn raw registration
//! values (weight, metadata, heartbeat settings) into one.

use std::collections::BTreeMap;
use std::rc::Rc;

use compact_str::CompactString;

use crate::limits::{
    BEAT_INTERVAL_DEFAULT_MS, BEAT_TIMEOUT_DEFAULT_MS, IP_DELETE_TIMEOUT_DEFAULT_MS,
    METADATA_CHARS_MAX,
};
use crate::naming::error::{ErrorKind, NamingError, NamingResult};
use crate::naming::key::{check_cluster, check_ip};

pub type Metadata = BTreeMap<String, String>;

pub const META_BEAT_INTERVAL: &str = "preserved.heart.beat.interval";
pub const META_BEAT_TIMEOUT: &str = "preserved.heart.beat.timeout";
pub const META_DELETE_TIMEOUT: &str = "preserved.ip.delete.timeout";
pub const META_ID_GENERATOR: &str = "preserved.instance.id.generator";

pub const WEIGHT_MIN: f64 = 0.0;
pub const WEIGHT_MAX: f64 = 10_000.0;

/// What a client asked to register: validated, ready to store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InstanceSpec {
    pub ip: String,
    pub port: u16,
    pub cluster: String,
    pub weight: f64,
    pub healthy: bool,
    pub enabled: bool,
    pub ephemeral: bool,
    pub metadata: Metadata,
}

/// Heartbeat timing of one instance, read from its `preserved.*` metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeatTiming {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub delete_timeout_ms: u64,
}

impl InstanceSpec {
    /// Checks the rules Nacos applies on every write (`NamingUtils.checkInstanceIsLegal` and the
    /// weight range of `HttpRequestInstanceBuilder`).
    pub fn validate(&self) -> NamingResult<BeatTiming> {
        check_ip(&self.ip)?;
        check_cluster(&self.cluster)?;
        check_weight(self.weight)?;
        check_metadata_size(&self.metadata)?;
        BeatTiming::from_metadata(&self.metadata)
    }
}

pub fn check_weight(weight: f64) -> NamingResult<()> {
    if !(WEIGHT_MIN..=WEIGHT_MAX).contains(&weight) {
        return Err(NamingError::new(
            ErrorKind::InvalidWeight,
            "instance format invalid: The weights range from 0.0 to 10000.0",
        ));
    }
    Ok(())
}

pub fn check_metadata_size(metadata: &Metadata) -> NamingResult<()> {
    let chars: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if chars > METADATA_CHARS_MAX {
        return Err(NamingError::new(
            ErrorKind::InvalidMetadata,
            format!(
                "Param 'Metadata' is illegal, the param length should not exceed {METADATA_CHARS_MAX}."
            ),
        ));
    }
    Ok(())
}

impl BeatTiming {
    pub const DEFAULT: BeatTiming = BeatTiming {
        interval_ms: BEAT_INTERVAL_DEFAULT_MS,
        timeout_ms: BEAT_TIMEOUT_DEFAULT_MS,
        delete_timeout_ms: IP_DELETE_TIMEOUT_DEFAULT_MS,
    };

    pub fn from_metadata(metadata: &Metadata) -> NamingResult<BeatTiming> {
        let timing = BeatTiming {
            interval_ms: metadata_ms(metadata, META_BEAT_INTERVAL, BEAT_INTERVAL_DEFAULT_MS)?,
            timeout_ms: metadata_ms(metadata, META_BEAT_TIMEOUT, BEAT_TIMEOUT_DEFAULT_MS)?,
            delete_timeout_ms: metadata_ms(
                metadata,
                META_DELETE_TIMEOUT,
                IP_DELETE_TIMEOUT_DEFAULT_MS,
            )?,
        };
        if timing.interval_ms > timing.timeout_ms || timing.interval_ms > timing.delete_timeout_ms {
            return Err(NamingError::new(
                ErrorKind::InvalidMetadata,
                "Instance 'heart beat interval' must less than 'heart beat timeout' and 'ip delete \
                 timeout'.",
            ));
        }
        Ok(timing)
    }
}

fn metadata_ms(metadata: &Metadata, key: &str, default_ms: u64) -> NamingResult<u64> {
    match metadata.get(key) {
        None => Ok(default_ms),
        Some(raw) => raw.trim().parse::<u64>().map_err(|_| {
            NamingError::new(
                ErrorKind::InvalidMetadata,
                format!("metadata format incorrect: {key} must be a number of ms, got '{raw}'"),
            )
        }),
    }
}

/// Parses the `metadata` parameter: a JSON object, or `k1=v1,k2=v2` (Nacos
/// `UtilsAndCommons.parseMetadata`). Non-string JSON values are kept as their JSON text.
pub fn parse_metadata(raw: &str) -> NamingResult<Metadata> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(Metadata::new());
    }
    if raw.starts_with('{') {
        return parse_metadata_json(raw);
    }
    let mut metadata = Metadata::new();
    for pair in raw.split(',') {
        match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                metadata.insert(key.to_string(), value.to_string());
            }
            _ => return Err(metadata_format_error(raw)),
        }
    }
    Ok(metadata)
}

fn parse_metadata_json(raw: &str) -> NamingResult<Metadata> {
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|_| metadata_format_error(raw))?;
    let object = value
        .as_object()
        .ok_or_else(|| metadata_format_error(raw))?;
    Ok(object
        .iter()
        .map(|(k, v)| (k.clone(), json_value_text(v)))
        .collect())
}

/// Nacos metadata maps are `Map<String,String>`; Jackson turns scalars into their text.
pub fn json_value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn metadata_format_error(raw: &str) -> NamingError {
    NamingError::new(
        ErrorKind::InvalidMetadata,
        format!("metadata format incorrect:{raw}"),
    )
}

/// Who published an instance (Nacos "client"): an HTTP `ip:port` client holds one instance per
/// service (its own address); a gRPC connection holds one instance, or one batch, per service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    Http,
    Connection(u64),
}

/// One stored instance. Owned by exactly one core: the owner core of its service.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Inline up to 24 bytes (every IPv4 and most IPv6 text): looking an instance up by
    /// address then reads no second heap line.
    pub ip: CompactString,
    pub port: u16,
    /// Interned per core: instances of one cluster share the name.
    pub cluster: Rc<str>,
    pub weight: f64,
    pub healthy: bool,
    pub enabled: bool,
    pub ephemeral: bool,
    /// Interned per core: instances registered with the same metadata share one map.
    pub metadata: Rc<Metadata>,
    pub timing: BeatTiming,
    /// Monotonic ms of the last beat or registration.
    pub last_beat_ms: u64,
    /// Unique per core; a timer that carries another epoch is stale and ignored.
    pub timer_epoch: u64,
    pub owner: Owner,
    /// Consecutive failed / passed health probes (persistent instances only).
    pub probe_failures: u8,
    pub probe_passes: u8,
    /// When it was published, as a version from a hybrid clock (wall ms, then a counter):
    /// of two publications of one address, reads show the higher version.
    pub version: u64,
    /// Published through another member, which runs its beat expiry (a Distro replica).
    pub replica: bool,
}

impl Instance {
    pub fn from_spec(spec: InstanceSpec, timing: BeatTiming, now_ms: u64, epoch: u64) -> Self {
        Instance {
            ip: CompactString::from(spec.ip),
            port: spec.port,
            cluster: Rc::from(spec.cluster.as_str()),
            weight: spec.weight,
            healthy: spec.healthy,
            enabled: spec.enabled,
            ephemeral: spec.ephemeral,
            metadata: Rc::new(spec.metadata),
            timing,
            last_beat_ms: now_ms,
            timer_epoch: epoch,
            owner: Owner::Http,
            probe_failures: 0,
            probe_passes: 0,
            version: 0,
            replica: false,
        }
    }

    /// Whether registering `spec` at this instance's address (by HTTP) would store exactly this
    /// instance again. Only the timing state (`last_beat_ms`, probes) is left out.
    pub fn registered_as(&self, spec: &InstanceSpec) -> bool {
        debug_assert!(*self.ip == *spec.ip && self.port == spec.port);
        self.owner == Owner::Http
            && *self.cluster == *spec.cluster
            && self.weight == spec.weight
            && self.healthy == spec.healthy
            && self.enabled == spec.enabled
            && self.ephemeral == spec.ephemeral
            && *self.metadata == spec.metadata
    }

    /// `ip#port#cluster#group@@service`, Nacos's default "simple" instance id.
    pub fn instance_id(&self, grouped_service: &str) -> String {
        format!(
            "{}#{}#{}#{}",
            self.ip, self.port, self.cluster, grouped_service
        )
    }

    /// The next moment the heartbeat checker must look at this instance: when it turns
    /// unhealthy if it is healthy, else when it is deleted. Nacos compares with `>`, so the
    /// deadline is one millisecond past the timeout.
    pub fn next_beat_deadline_ms(&self) -> u64 {
        let timeout_ms = if self.healthy {
            self.timing.timeout_ms
        } else {
            self.timing.delete_timeout_ms
        };
        self.last_beat_ms
            .saturating_add(timeout_ms)
            .saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Metadata parses from JSON and from k=v lists; anything else is a format error.
    #[test]
    fn metadata_formats() {
        let m = parse_metadata(r#"{"a":"1","b":2,"c":true}"#).unwrap();
        assert_eq!(m.get("a").unwrap(), "1");
        assert_eq!(m.get("b").unwrap(), "2");
        assert_eq!(m.get("c").unwrap(), "true");
        let m = parse_metadata("k1=v1,k2=v2").unwrap();
        assert_eq!(m.len(), 2);
        assert!(parse_metadata("").unwrap().is_empty());
        assert!(parse_metadata("{bad json").is_err());
        assert!(parse_metadata("[1,2]").is_err());
        assert!(parse_metadata("novalue").is_err());
        assert!(parse_metadata("=v").is_err());
    }

    /// Heartbeat settings come from preserved metadata and must be ordered.
    #[test]
    fn beat_timing_from_metadata() {
        assert_eq!(
            BeatTiming::from_metadata(&Metadata::new()).unwrap(),
            BeatTiming::DEFAULT
        );
        let m = parse_metadata(
            r#"{"preserved.heart.beat.interval":"1000","preserved.heart.beat.timeout":"3000","preserved.ip.delete.timeout":"6000"}"#,
        )
        .unwrap();
        let t = BeatTiming::from_metadata(&m).unwrap();
        assert_eq!(
            (t.interval_ms, t.timeout_ms, t.delete_timeout_ms),
            (1000, 3000, 6000)
        );
        let bad = parse_metadata("preserved.heart.beat.interval=20000").unwrap();
        assert!(BeatTiming::from_metadata(&bad).is_err());
        let nan = parse_metadata("preserved.heart.beat.timeout=abc").unwrap();
        assert!(BeatTiming::from_metadata(&nan).is_err());
    }

    /// Weights outside 0..=10000 are rejected with the Nacos message.
    #[test]
    fn weight_range() {
        assert!(check_weight(0.0).is_ok());
        assert!(check_weight(10_000.0).is_ok());
        assert!(check_weight(-0.1).is_err());
        assert!(check_weight(10_000.1).is_err());
        assert!(check_weight(f64::NAN).is_err());
    }
}
