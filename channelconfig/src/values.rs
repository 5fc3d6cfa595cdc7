//! Decoding the values of a config group: each group kind admits a fixed set of keys
//! (Fabric's `DeserializeProtoValuesFromGroup`), absent values read as empty messages.

use fabric_protos::common::ConfigGroup;
use prost::Message;

use crate::error::ConfigError;

/// Fails on the first value key the group kind does not admit.
pub(crate) fn check_value_keys(
    group: &ConfigGroup,
    path: &str,
    allowed: &[&str],
) -> Result<(), ConfigError> {
    match group.values.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(ConfigError::InvalidValue {
            path: format!("{path}/{key}"),
            reason: format!("Unexpected key {key}"),
        }),
        None => Ok(()),
    }
}

/// The decoded value `key`, or the empty message when the group does not set it.
pub(crate) fn decode_value<M: Message + Default>(
    group: &ConfigGroup,
    path: &str,
    key: &str,
) -> Result<M, ConfigError> {
    match group.values.get(key) {
        None => Ok(M::default()),
        Some(v) => M::decode(v.value.as_slice()).map_err(|e| ConfigError::InvalidValue {
            path: format!("{path}/{key}"),
            reason: format!("could not decode: {e}"),
        }),
    }
}

pub(crate) fn invalid_value(path: &str, key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        path: format!("{path}/{key}"),
        reason: reason.into(),
    }
}

pub(crate) fn invalid_group(path: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidGroup {
        path: path.to_string(),
        reason: reason.into(),
    }
}
