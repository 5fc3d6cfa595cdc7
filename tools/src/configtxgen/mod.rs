//! Fabric-compatible `configtxgen`: application channel genesis blocks from configtx.yaml.

pub mod config;
pub mod encoder;
pub mod genesis;
pub mod inspect;
pub mod policy_text;

use std::path::Path;

use fabric_protos::common::Block;

use crate::error::ToolError;

/// Loads `profile` from the configtx.yaml at `config_file` and builds its genesis block.
pub fn genesis_block_for_profile(
    config_file: &Path,
    profile: &str,
    channel_id: &str,
) -> Result<Block, ToolError> {
    let profile = config::load_profile(config_file, profile)?;
    if profile.orderer.is_none() {
        return Err(ToolError::Config(
            "refusing to generate a block for a profile without an Orderer section".into(),
        ));
    }
    if profile.application.is_none() {
        return Err(ToolError::Config(
            "refusing to generate an application channel block for a profile without an \
             Application section"
                .into(),
        ));
    }
    let group = encoder::channel_group(&profile)?;
    genesis::genesis_block(channel_id, group)
}
