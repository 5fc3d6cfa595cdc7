//! Which channel policy guards a gateway resource: the channel's `ACLs` override when it
//! names one, else Fabric's default (`core/aclmgmt/defaultaclprovider.go`).

use fabric_protos::common::Config;
use fabric_protos::protos::AcLs;
use prost::Message;

pub const GATEWAY_COMMIT_STATUS: &str = "gateway/CommitStatus";
pub const GATEWAY_CHAINCODE_EVENTS: &str = "gateway/ChaincodeEvents";
/// The default policy of both gateway resources.
pub const CHANNEL_APPLICATION_READERS: &str = "/Channel/Application/Readers";

/// The absolute path of the policy guarding `resource` on the channel.
pub fn policy_for(config: &Config, resource: &str) -> String {
    let overridden = config
        .channel_group
        .as_ref()
        .and_then(|root| root.groups.get("Application"))
        .and_then(|app| app.values.get("ACLs"))
        .and_then(|value| AcLs::decode(value.value.as_slice()).ok())
        .and_then(|acls| acls.acls.get(resource).map(|r| r.policy_ref.clone()))
        .filter(|r| !r.is_empty());
    match overridden {
        Some(r) if r.starts_with('/') => r,
        Some(r) => format!("/Channel/Application/{r}"),
        None => CHANNEL_APPLICATION_READERS.to_owned(),
    }
}
