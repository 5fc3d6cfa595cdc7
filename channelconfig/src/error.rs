//! Errors of this crate: [`ConfigError`] for building a channel bundle from a config, and
//! [`UpdateError`] for config updates and config envelopes that are refused.

use weft_msp::MspError;
use weft_policy::PolicyError;

/// Why a config could not be turned into a channel bundle. `path` names the offending
/// element (`/Channel/Orderer/BatchSize`) so the operator knows what to fix in the config.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ConfigError {
    #[error("{what} could not be decoded ({reason}); the config block or envelope is corrupt")]
    Decode { what: String, reason: String },
    #[error("config value {path} is invalid: {reason}")]
    InvalidValue { path: String, reason: String },
    #[error("config group {path} is invalid: {reason}")]
    InvalidGroup { path: String, reason: String },
    #[error(
        "{kind} capability {name} is required by the channel config but not supported by Weft; \
         upgrade Weft before processing this channel"
    )]
    UnsupportedCapability { kind: &'static str, name: String },
    #[error("MSP of {path} could not be set up: {source}")]
    Msp { path: String, source: MspError },
    #[error("the channel's MSP manager could not be set up: {0}")]
    MspManager(MspError),
    #[error("the channel's policies could not be set up: {0}")]
    Policy(PolicyError),
    #[error("the config is not a valid config block or envelope: {0}")]
    Envelope(String),
    #[error("the config tree is not acceptable: {0}")]
    Tree(UpdateError),
    #[error("the new config may not replace the current one: {0}")]
    Successor(String),
}

/// Why a config update (or a config envelope checked against the previous config) was
/// refused. The variants follow the checks of Fabric's `common/configtx` validator in order.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum UpdateError {
    #[error("{what} could not be decoded: {reason}")]
    Decode { what: &'static str, reason: String },
    #[error("envelope must have a header")]
    MissingHeader,
    #[error("envelope has header type {found}, expected {expected}")]
    WrongHeaderType { found: i32, expected: &'static str },
    #[error("bad channel ID: {0}")]
    BadChannelId(String),
    #[error("ConfigUpdate is for channel '{update}' but this channel is '{channel}'")]
    ChannelMismatch { update: String, channel: String },
    #[error("illegal key {key}: {reason}")]
    IllegalKey { key: String, reason: String },
    #[error("config tree nests deeper than {max} groups at {path}")]
    TooDeep { path: String, max: usize },
    #[error("config tree holds more than {max} elements")]
    TooManyElements { max: usize },
    #[error("existing config does not contain element for {key} but it was in the read set")]
    ReadSetMissing { key: String },
    #[error(
        "proposed update requires that key {key} be at version {required}, but it is currently \
         at version {current}; fetch the latest config and recompute the update"
    )]
    ReadSetVersion {
        key: String,
        required: u64,
        current: u64,
    },
    #[error("delta set was empty -- update would have no effect")]
    EmptyDelta,
    #[error("invalid mod_policy for element {key}: {reason}")]
    BadModPolicy { key: String, reason: String },
    #[error("attempted to set key {key} to version {version}, but key does not exist")]
    NewElementVersion { key: String, version: u64 },
    #[error("attempt to set key {key} to version {proposed}, but key is at version {current}")]
    VersionNotIncremented {
        key: String,
        proposed: u64,
        current: u64,
    },
    #[error("unexpected missing policy {policy} for item {key}")]
    MissingPolicy { key: String, policy: String },
    #[error("policy {policy} for {key} not satisfied: {source}; collect the required signatures")]
    PolicyNotSatisfied {
        key: String,
        policy: String,
        source: PolicyError,
    },
    #[error("writeset contained key {key} which did not appear in proposed config")]
    WriteSetNotInResult { key: String },
    #[error("could not turn the config map back into a channel group: {0}")]
    Rebuild(String),
    #[error("config envelope has no config")]
    MissingConfig,
    #[error("config has no channel group")]
    MissingChannelGroup,
    #[error(
        "config currently at sequence {current}, cannot validate config at sequence {proposed}"
    )]
    SequenceMismatch { current: u64, proposed: u64 },
    #[error("ConfigEnvelope LastUpdate did not produce the supplied config result")]
    ResultMismatch,
    #[error("no differences detected between original and updated config")]
    NoDifferences,
}

impl UpdateError {
    /// A stable, short name of the refusal, used by data-driven test tables.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Decode { .. } => "decode",
            Self::MissingHeader => "missing_header",
            Self::WrongHeaderType { .. } => "wrong_header_type",
            Self::BadChannelId(_) => "bad_channel_id",
            Self::ChannelMismatch { .. } => "channel_mismatch",
            Self::IllegalKey { .. } => "illegal_key",
            Self::TooDeep { .. } => "too_deep",
            Self::TooManyElements { .. } => "too_many_elements",
            Self::ReadSetMissing { .. } => "read_set_missing",
            Self::ReadSetVersion { .. } => "read_set_version",
            Self::EmptyDelta => "empty_delta",
            Self::BadModPolicy { .. } => "bad_mod_policy",
            Self::NewElementVersion { .. } => "new_element_version",
            Self::VersionNotIncremented { .. } => "version_not_incremented",
            Self::MissingPolicy { .. } => "missing_policy",
            Self::PolicyNotSatisfied { .. } => "policy_not_satisfied",
            Self::WriteSetNotInResult { .. } => "write_set_not_in_result",
            Self::Rebuild(_) => "rebuild",
            Self::MissingConfig => "missing_config",
            Self::MissingChannelGroup => "missing_channel_group",
            Self::SequenceMismatch { .. } => "sequence_mismatch",
            Self::ResultMismatch => "result_mismatch",
            Self::NoDifferences => "no_differences",
        }
    }
}
