//! Channel join on peers (`cscc JoinChain`) and chaincode deployment through `_lifecycle`,
//! as `peer channel join` and `peer lifecycle chaincode install/approveformyorg/commit` do.

use fabric_protos::lifecycle::{
    ApproveChaincodeDefinitionForMyOrgArgs, ChaincodeSource, CommitChaincodeDefinitionArgs,
    InstallChaincodeArgs, InstallChaincodeResult, QueryChaincodeDefinitionArgs,
    QueryChaincodeDefinitionResult, chaincode_source,
};
use prost::Message;
use weft_protoutil::Invocation;

use crate::admin::{OrdererClient, PeerClient, Signer, evaluate, submit};
use crate::error::Result;

const LIFECYCLE: &str = "_lifecycle";

/// Joins `peer` to the channel whose genesis block is `block` (admin of the peer's org signs).
pub async fn join_peer(peer: &PeerClient, admin: &Signer, block: &[u8]) -> Result<()> {
    let invocation = Invocation {
        chaincode: "cscc".into(),
        args: vec![b"JoinChain".to_vec(), block.to_vec()],
        ..Default::default()
    };
    evaluate(peer, admin, &invocation, "cscc JoinChain")
        .await
        .map(drop)
}

/// Installs a chaincode package on `peer`; returns its package id.
pub async fn install(peer: &PeerClient, admin: &Signer, package: &[u8]) -> Result<String> {
    let args = InstallChaincodeArgs {
        chaincode_install_package: package.to_vec(),
    };
    let invocation = lifecycle_call("", "InstallChaincode", args.encode_to_vec());
    let payload = evaluate(peer, admin, &invocation, "InstallChaincode").await?;
    Ok(InstallChaincodeResult::decode(payload.as_slice())?.package_id)
}

/// The definition both orgs approve and commit.
#[derive(Debug, Clone)]
pub struct Definition {
    pub name: String,
    pub version: String,
    pub sequence: i64,
    /// Empty: the channel's /Channel/Application/Endorsement policy (Fabric's default).
    pub validation_parameter: Vec<u8>,
}

/// Approves `definition` with `package_id` for the admin's org, endorsed by its own peer.
pub async fn approve(
    channel: &str,
    definition: &Definition,
    package_id: &str,
    admin: &Signer,
    own_peer: &PeerClient,
    orderer: &OrdererClient,
) -> Result<String> {
    let args = ApproveChaincodeDefinitionForMyOrgArgs {
        sequence: definition.sequence,
        name: definition.name.clone(),
        version: definition.version.clone(),
        validation_parameter: definition.validation_parameter.clone(),
        source: Some(ChaincodeSource {
            r#type: Some(chaincode_source::Type::LocalPackage(
                chaincode_source::Local {
                    package_id: package_id.to_owned(),
                },
            )),
        }),
        ..Default::default()
    };
    let invocation = lifecycle_call(
        channel,
        "ApproveChaincodeDefinitionForMyOrg",
        args.encode_to_vec(),
    );
    submit(
        admin,
        &invocation,
        &[own_peer],
        orderer,
        &[own_peer],
        "ApproveChaincodeDefinitionForMyOrg",
    )
    .await
}

/// Commits `definition`, endorsed by `endorsers` (one peer per approving org), and waits until
/// every endorser has committed it.
pub async fn commit(
    channel: &str,
    definition: &Definition,
    admin: &Signer,
    endorsers: &[&PeerClient],
    orderer: &OrdererClient,
) -> Result<String> {
    let args = CommitChaincodeDefinitionArgs {
        sequence: definition.sequence,
        name: definition.name.clone(),
        version: definition.version.clone(),
        validation_parameter: definition.validation_parameter.clone(),
        ..Default::default()
    };
    let invocation = lifecycle_call(channel, "CommitChaincodeDefinition", args.encode_to_vec());
    submit(
        admin,
        &invocation,
        endorsers,
        orderer,
        endorsers,
        "CommitChaincodeDefinition",
    )
    .await
}

/// The committed definition of `name` on `channel`, as `peer lifecycle chaincode querycommitted`.
pub async fn query_committed(
    channel: &str,
    name: &str,
    signer: &Signer,
    peer: &PeerClient,
) -> Result<QueryChaincodeDefinitionResult> {
    let args = QueryChaincodeDefinitionArgs {
        name: name.to_owned(),
    };
    let invocation = lifecycle_call(channel, "QueryChaincodeDefinition", args.encode_to_vec());
    let payload = evaluate(peer, signer, &invocation, "QueryChaincodeDefinition").await?;
    Ok(QueryChaincodeDefinitionResult::decode(payload.as_slice())?)
}

fn lifecycle_call(channel: &str, function: &str, args: Vec<u8>) -> Invocation {
    Invocation {
        channel_id: channel.to_owned(),
        chaincode: LIFECYCLE.into(),
        args: vec![function.as_bytes().to_vec(), args],
        ..Default::default()
    }
}
