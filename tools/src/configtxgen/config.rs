//! The configtx.yaml model, loaded as Fabric's configtxgen loads it: YAML anchors, aliases and
//! `<<:` merge keys resolved, byte sizes such as "98 MB" accepted for 32-bit size fields,
//! Go-style durations for BatchTimeout, relative MSPDir and consenter certificate paths taken
//! relative to the directory of configtx.yaml, and the same defaults filled in for unset
//! orderer and etcdraft options.
//!
//! Differences from upstream: struct keys are matched with their configtx.yaml spelling (plus a
//! few common aliases) rather than case-insensitively, unknown keys are ignored, and
//! `CONFIGTX_*` environment overrides are not read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use crate::error::ToolError;

/// Largest configtx.yaml accepted; real ones are a few tens of kilobytes.
pub const CONFIG_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;

#[derive(Debug, Default, Deserialize)]
pub struct TopLevel {
    #[serde(rename = "Profiles", default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Profile {
    #[serde(rename = "Consortium", default)]
    pub consortium: String,
    #[serde(rename = "Application", default)]
    pub application: Option<Application>,
    #[serde(rename = "Orderer", default)]
    pub orderer: Option<Orderer>,
    #[serde(rename = "Consortiums", default)]
    pub consortiums: Option<serde_yaml_ng::Value>,
    #[serde(rename = "Capabilities", default)]
    pub capabilities: BTreeMap<String, bool>,
    #[serde(rename = "Policies", default)]
    pub policies: Option<BTreeMap<String, PolicySpec>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct PolicySpec {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(rename = "Rule", default)]
    pub rule: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Application {
    #[serde(
        rename = "Organizations",
        default,
        deserialize_with = "null_as_default"
    )]
    pub organizations: Vec<Organization>,
    #[serde(rename = "Capabilities", default)]
    pub capabilities: BTreeMap<String, bool>,
    #[serde(rename = "Policies", default)]
    pub policies: Option<BTreeMap<String, PolicySpec>>,
    #[serde(rename = "ACLs", default)]
    pub acls: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Organization {
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "MSPDir", default)]
    pub msp_dir: String,
    #[serde(rename = "MSPType", default)]
    pub msp_type: String,
    #[serde(rename = "Policies", default)]
    pub policies: Option<BTreeMap<String, PolicySpec>>,
    #[serde(rename = "AnchorPeers", default, deserialize_with = "null_as_default")]
    pub anchor_peers: Vec<AnchorPeerSpec>,
    #[serde(
        rename = "OrdererEndpoints",
        default,
        deserialize_with = "null_as_default"
    )]
    pub orderer_endpoints: Vec<String>,
    #[serde(rename = "SkipAsForeign", default)]
    pub skip_as_foreign: bool,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct AnchorPeerSpec {
    #[serde(rename = "Host", default)]
    pub host: String,
    #[serde(rename = "Port", default)]
    pub port: i32,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Orderer {
    #[serde(rename = "OrdererType", default)]
    pub orderer_type: String,
    #[serde(rename = "Addresses", default, deserialize_with = "null_as_default")]
    pub addresses: Vec<String>,
    #[serde(rename = "BatchTimeout", default, deserialize_with = "go_duration")]
    pub batch_timeout_nanos: i64,
    #[serde(rename = "BatchSize", default)]
    pub batch_size: BatchSizeSpec,
    #[serde(rename = "Kafka", default)]
    pub kafka: KafkaSpec,
    #[serde(rename = "EtcdRaft", default)]
    pub etcd_raft: Option<EtcdRaftSpec>,
    #[serde(
        rename = "Organizations",
        default,
        deserialize_with = "null_as_default"
    )]
    pub organizations: Vec<Organization>,
    #[serde(rename = "MaxChannels", default)]
    pub max_channels: u64,
    #[serde(rename = "Capabilities", default)]
    pub capabilities: BTreeMap<String, bool>,
    #[serde(rename = "Policies", default)]
    pub policies: Option<BTreeMap<String, PolicySpec>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct BatchSizeSpec {
    #[serde(rename = "MaxMessageCount", default, deserialize_with = "byte_size")]
    pub max_message_count: u32,
    #[serde(rename = "AbsoluteMaxBytes", default, deserialize_with = "byte_size")]
    pub absolute_max_bytes: u32,
    #[serde(rename = "PreferredMaxBytes", default, deserialize_with = "byte_size")]
    pub preferred_max_bytes: u32,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct KafkaSpec {
    #[serde(rename = "Brokers", default)]
    pub brokers: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct EtcdRaftSpec {
    #[serde(rename = "Consenters", default, deserialize_with = "null_as_default")]
    pub consenters: Vec<ConsenterSpec>,
    #[serde(rename = "Options", default)]
    pub options: Option<RaftOptionsSpec>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ConsenterSpec {
    #[serde(rename = "Host", default)]
    pub host: String,
    #[serde(rename = "Port", default)]
    pub port: u32,
    #[serde(rename = "ClientTLSCert", alias = "ClientTlsCert", default)]
    pub client_tls_cert: String,
    #[serde(rename = "ServerTLSCert", alias = "ServerTlsCert", default)]
    pub server_tls_cert: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct RaftOptionsSpec {
    #[serde(rename = "TickInterval", default)]
    pub tick_interval: String,
    #[serde(rename = "ElectionTick", default, deserialize_with = "byte_size")]
    pub election_tick: u32,
    #[serde(rename = "HeartbeatTick", default, deserialize_with = "byte_size")]
    pub heartbeat_tick: u32,
    #[serde(rename = "MaxInflightBlocks", default, deserialize_with = "byte_size")]
    pub max_inflight_blocks: u32,
    #[serde(
        rename = "SnapshotIntervalSize",
        default,
        deserialize_with = "byte_size"
    )]
    pub snapshot_interval_size: u32,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

/// A 32-bit size: a number, or text like "98 MB", "512 KB", "1g" (powers of 1024), as
/// Fabric's viper decode hook accepts for every uint32 field.
fn byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let value = match Option::<NumberOrText>::deserialize(d)? {
        None => return Ok(0),
        Some(NumberOrText::Number(n)) => n,
        Some(NumberOrText::Text(text)) => {
            parse_byte_size(&text).map_err(serde::de::Error::custom)?
        }
    };
    u32::try_from(value)
        .map_err(|_| serde::de::Error::custom(format!("value {value} overflows uint32")))
}

pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(digits_end);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is neither a number nor a size like \"98 MB\""))?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        _ => {
            return Err(format!(
                "{text:?} has an unknown size unit (use KB, MB or GB)"
            ));
        }
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

fn go_duration<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Option::<NumberOrText>::deserialize(d)? {
        None => Ok(0),
        // A bare number is nanoseconds, as Go's decoder reads an integer into a Duration.
        Some(NumberOrText::Number(n)) => i64::try_from(n).map_err(serde::de::Error::custom),
        Some(NumberOrText::Text(t)) => parse_go_duration(&t).map_err(serde::de::Error::custom),
    }
}

pub use weft_protoutil::parse_go_duration;

/// Formats nanoseconds as Go's `time.Duration.String` does ("2s", "1m0s", "500ms", "1.5s").
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fraction(u, div));
    }
    let hours = u / 3_600_000_000_000;
    let minutes = (u / 60_000_000_000) % 60;
    let secs = fraction(u % 60_000_000_000, 1_000_000_000);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{secs}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

/// `value / div` with the fractional part written without trailing zeros.
fn fraction(value: u64, div: u64) -> String {
    let whole = value / div;
    let frac = value % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Finds configtx.yaml (or .yml) in `dir`.
pub fn find_config_file(dir: &Path) -> Result<PathBuf, ToolError> {
    for name in ["configtx.yaml", "configtx.yml"] {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(ToolError::Config(format!(
        "could not find configtx.yaml in {}; set FABRIC_CFG_PATH or -configPath to the \
         directory that contains it",
        dir.display()
    )))
}

/// Parses configtx.yaml text, resolving anchors and merge keys.
pub fn parse_top_level(text: &str) -> Result<TopLevel, String> {
    let mut value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    value.apply_merge().map_err(|e| e.to_string())?;
    serde_yaml_ng::from_value(value).map_err(|e| e.to_string())
}

/// Loads `profile_name` from the configtx.yaml at `path` with defaults and paths completed.
pub fn load_profile(path: &Path, profile_name: &str) -> Result<Profile, ToolError> {
    let meta = std::fs::metadata(path).map_err(|e| ToolError::read(path, e))?;
    if meta.len() > CONFIG_FILE_BYTES_MAX {
        return Err(ToolError::Config(format!(
            "{} is larger than {CONFIG_FILE_BYTES_MAX} bytes",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| ToolError::read(path, e))?;
    let top = parse_top_level(&text).map_err(|message| ToolError::Yaml {
        path: path.to_path_buf(),
        message,
    })?;
    let mut profile = top.profiles.get(profile_name).cloned().ok_or_else(|| {
        ToolError::Config(format!(
            "could not find profile {profile_name:?} in {}; the file defines {:?}",
            path.display(),
            top.profiles.keys().collect::<Vec<_>>()
        ))
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    complete_profile(&mut profile, dir)?;
    Ok(profile)
}

/// Fills defaults and resolves relative paths, as upstream's completeInitialization does.
pub fn complete_profile(profile: &mut Profile, config_dir: &Path) -> Result<(), ToolError> {
    if let Some(app) = &mut profile.application {
        for org in &mut app.organizations {
            complete_org(org, config_dir);
        }
    }
    if let Some(orderer) = &mut profile.orderer {
        for org in &mut orderer.organizations {
            complete_org(org, config_dir);
        }
        complete_orderer(orderer, config_dir)?;
    }
    Ok(())
}

fn complete_org(org: &mut Organization, config_dir: &Path) {
    if org.msp_type.is_empty() {
        org.msp_type = "bccsp".to_string();
    }
    org.msp_dir = translate_path(config_dir, &org.msp_dir);
}

/// Relative paths are taken relative to the configuration directory.
pub fn translate_path(config_dir: &Path, path: &str) -> String {
    if path.is_empty() || Path::new(path).is_absolute() {
        path.to_string()
    } else {
        config_dir.join(path).to_string_lossy().into_owned()
    }
}

fn complete_orderer(orderer: &mut Orderer, config_dir: &Path) -> Result<(), ToolError> {
    if orderer.orderer_type.is_empty() {
        orderer.orderer_type = "solo".to_string();
    }
    if orderer.batch_timeout_nanos == 0 {
        orderer.batch_timeout_nanos = 2_000_000_000;
    }
    let size = &mut orderer.batch_size;
    if size.max_message_count == 0 {
        size.max_message_count = 500;
    }
    if size.absolute_max_bytes == 0 {
        size.absolute_max_bytes = 10 * 1024 * 1024;
    }
    if size.preferred_max_bytes == 0 {
        size.preferred_max_bytes = 2 * 1024 * 1024;
    }
    match orderer.orderer_type.as_str() {
        "solo" => Ok(()),
        "kafka" => {
            if orderer.kafka.brokers.is_none() {
                orderer.kafka.brokers = Some(vec!["127.0.0.1:9092".to_string()]);
            }
            Ok(())
        }
        "etcdraft" => complete_etcd_raft(orderer, config_dir),
        other => Err(ToolError::Config(format!(
            "unknown orderer type {other:?}; use etcdraft, solo or kafka"
        ))),
    }
}

fn complete_etcd_raft(orderer: &mut Orderer, config_dir: &Path) -> Result<(), ToolError> {
    let raft = orderer.etcd_raft.as_mut().ok_or_else(|| {
        ToolError::Config("Orderer.EtcdRaft is missing but OrdererType is etcdraft".to_string())
    })?;
    let options = raft.options.get_or_insert_with(RaftOptionsSpec::default);
    if options.tick_interval.is_empty() {
        options.tick_interval = "500ms".to_string();
    }
    if options.election_tick == 0 {
        options.election_tick = 10;
    }
    if options.heartbeat_tick == 0 {
        options.heartbeat_tick = 1;
    }
    if options.max_inflight_blocks == 0 {
        options.max_inflight_blocks = 5;
    }
    if options.snapshot_interval_size == 0 {
        options.snapshot_interval_size = 16 * 1024 * 1024;
    }
    if raft.consenters.is_empty() {
        return Err(ToolError::Config(
            "Orderer.EtcdRaft.Consenters is empty; list at least one consenter".to_string(),
        ));
    }
    parse_go_duration(&options.tick_interval)
        .map_err(|e| ToolError::Config(format!("Orderer.EtcdRaft.Options.TickInterval: {e}")))?;
    if options.election_tick <= options.heartbeat_tick {
        return Err(ToolError::Config(
            "Orderer.EtcdRaft.Options.ElectionTick must be greater than HeartbeatTick".to_string(),
        ));
    }
    for c in &mut raft.consenters {
        let missing = if c.host.is_empty() {
            Some("Host")
        } else if c.port == 0 {
            Some("Port")
        } else if c.client_tls_cert.is_empty() {
            Some("ClientTLSCert")
        } else if c.server_tls_cert.is_empty() {
            Some("ServerTLSCert")
        } else {
            None
        };
        if let Some(field) = missing {
            return Err(ToolError::Config(format!(
                "an etcdraft consenter does not set {field}"
            )));
        }
        c.client_tls_cert = translate_path(config_dir, &c.client_tls_cert);
        c.server_tls_cert = translate_path(config_dir, &c.server_tls_cert);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: crypto/orderer/msp
    Policies: &OrdererOrgPolicies
      Readers: { Type: Signature, Rule: "OR('OrdererMSP.member')" }
    OrdererEndpoints: ["orderer.example.com:7050"]
  - &Org1
    Name: Org1MSP
    ID: Org1MSP
    MSPDir: /abs/org1/msp
    AnchorPeers:
      - Host: peer0.org1.example.com
        Port: 7051
Capabilities:
  Channel: &ChannelCapabilities
    V2_0: true
  Application: &ApplicationCapabilities
    V2_5: true
    V2_0: false
Application: &ApplicationDefaults
  Organizations:
  Policies:
    Readers: { Type: ImplicitMeta, Rule: "ANY Readers" }
  ACLs:
    _lifecycle/CheckCommitReadiness: /Channel/Application/Writers
  Capabilities:
    <<: *ApplicationCapabilities
Orderer: &OrdererDefaults
  OrdererType: etcdraft
  BatchTimeout: 2s
  BatchSize:
    MaxMessageCount: 10
    AbsoluteMaxBytes: 99 MB
    PreferredMaxBytes: "512 KB"
  EtcdRaft:
    Consenters:
      - Host: orderer.example.com
        Port: 7050
        ClientTLSCert: tls/server.crt
        ServerTLSCert: /abs/server.crt
  Organizations:
Channel: &ChannelDefaults
  Policies:
    Admins: { Type: ImplicitMeta, Rule: "MAJORITY Admins" }
  Capabilities:
    <<: *ChannelCapabilities
Profiles:
  ChannelUsingRaft:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      Organizations:
        - *OrdererOrg
    Application:
      <<: *ApplicationDefaults
      Organizations:
        - *Org1
"#;

    #[test]
    fn profile_merges_anchors_and_fills_defaults() {
        // Mirrors upstream genesisconfig: merge keys, byte sizes, default Raft options, and
        // paths relative to the configtx.yaml directory.
        let top = parse_top_level(SAMPLE).unwrap();
        let mut profile = top.profiles["ChannelUsingRaft"].clone();
        complete_profile(&mut profile, Path::new("/cfg")).unwrap();
        assert_eq!(profile.capabilities.get("V2_0"), Some(&true));
        let policies = profile.policies.as_ref().unwrap();
        assert_eq!(policies["Admins"].rule, "MAJORITY Admins");

        let orderer = profile.orderer.as_ref().unwrap();
        assert_eq!(orderer.batch_timeout_nanos, 2_000_000_000);
        assert_eq!(orderer.batch_size.max_message_count, 10);
        assert_eq!(orderer.batch_size.absolute_max_bytes, 99 * 1024 * 1024);
        assert_eq!(orderer.batch_size.preferred_max_bytes, 512 * 1024);
        let raft = orderer.etcd_raft.as_ref().unwrap();
        let options = raft.options.as_ref().unwrap();
        assert_eq!(options.tick_interval, "500ms");
        assert_eq!((options.election_tick, options.heartbeat_tick), (10, 1));
        assert_eq!(options.snapshot_interval_size, 16 * 1024 * 1024);
        assert_eq!(raft.consenters[0].client_tls_cert, "/cfg/tls/server.crt");
        assert_eq!(raft.consenters[0].server_tls_cert, "/abs/server.crt");
        assert_eq!(orderer.organizations[0].msp_dir, "/cfg/crypto/orderer/msp");
        assert_eq!(orderer.organizations[0].msp_type, "bccsp");
        assert_eq!(
            orderer.organizations[0].orderer_endpoints,
            ["orderer.example.com:7050"]
        );

        let app = profile.application.as_ref().unwrap();
        assert_eq!(app.organizations[0].msp_dir, "/abs/org1/msp");
        assert_eq!(app.organizations[0].anchor_peers[0].port, 7051);
        assert_eq!(app.capabilities.get("V2_5"), Some(&true));
        assert_eq!(app.capabilities.get("V2_0"), Some(&false));
        assert_eq!(
            app.acls["_lifecycle/CheckCommitReadiness"],
            "/Channel/Application/Writers"
        );
    }

    #[test]
    fn byte_sizes_follow_viper_hook() {
        assert_eq!(parse_byte_size("98 MB").unwrap(), 98 << 20);
        assert_eq!(parse_byte_size("10k").unwrap(), 10 << 10);
        assert_eq!(parse_byte_size("1 g").unwrap(), 1 << 30);
        assert_eq!(parse_byte_size("42").unwrap(), 42);
        assert!(parse_byte_size("12 TB").is_err());
        assert!(
            parse_top_level(
                "Profiles:\n  P:\n    Orderer:\n      BatchSize: { AbsoluteMaxBytes: 8 GB }\n"
            )
            .is_err()
        );
    }

    #[test]
    fn durations_round_trip_like_go() {
        for (text, nanos, go) in [
            ("2s", 2_000_000_000, "2s"),
            ("500ms", 500_000_000, "500ms"),
            ("1m", 60_000_000_000, "1m0s"),
            ("1.5s", 1_500_000_000, "1.5s"),
            ("1h2m3s", 3_723_000_000_000, "1h2m3s"),
            ("2000ms", 2_000_000_000, "2s"),
        ] {
            assert_eq!(parse_go_duration(text).unwrap(), nanos, "{text}");
            assert_eq!(format_go_duration(nanos), go, "{text}");
        }
        assert!(parse_go_duration("2 seconds").is_err());
        assert!(parse_go_duration("").is_err());
    }

    #[test]
    fn raft_without_consenters_is_refused() {
        let mut profile = parse_top_level(
            "Profiles:\n  P:\n    Orderer:\n      OrdererType: etcdraft\n      EtcdRaft: { Consenters: [] }\n",
        )
        .unwrap()
        .profiles["P"]
            .clone();
        assert!(complete_profile(&mut profile, Path::new("/")).is_err());
    }
}
