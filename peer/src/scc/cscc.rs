//! `cscc`, the configuration system chaincode (Fabric's `core/scc/cscc`): JoinChain,
//! GetChannels, GetChannelConfig and GetConfigBlock, with Fabric's argument checks, ACLs
//! (local Admins for JoinChain, local Members for GetChannels, the channel's application
//! Readers for the config reads) and error texts.

use std::sync::Arc;

use fabric_protos::protos::{ChannelInfo, ChannelQueryResponse};
use prost::Message;
use weft_chaincode_api::{Chaincode, ChaincodeStub, Response};
use weft_msp::IdentityDeserializer;

use super::{function_name, signed_proposal};
use crate::channels::ChannelManager;
use crate::proposal::{self, LocalRole};

pub const NAME: &str = "cscc";

pub struct Cscc {
    channels: Arc<ChannelManager>,
    local_msp: Arc<dyn IdentityDeserializer>,
    local_msp_id: String,
}

impl Cscc {
    pub fn new(
        channels: Arc<ChannelManager>,
        local_msp: Arc<dyn IdentityDeserializer>,
        local_msp_id: String,
    ) -> Self {
        Self {
            channels,
            local_msp,
            local_msp_id,
        }
    }

    fn check_local(&self, stub: &dyn ChaincodeStub, role: LocalRole) -> Result<(), String> {
        let signed = signed_proposal(stub)?;
        proposal::check_local(
            self.local_msp.as_ref(),
            &self.local_msp_id,
            &signed,
            stub.creator(),
            role,
        )
    }

    fn check_readers(
        &self,
        stub: &dyn ChaincodeStub,
        channel: &str,
        function: &str,
    ) -> Result<(), String> {
        let signed = signed_proposal(stub)?;
        let channel = self.channels.require(channel).map_err(|e| e.to_string())?;
        proposal::check_reader_acl(
            &channel.bundle(),
            &format!("{NAME}/{function}"),
            &proposal::signed_data(&signed, stub.creator()),
        )
    }

    fn join_chain(&self, stub: &dyn ChaincodeStub, block: &[u8]) -> Response {
        if block.is_empty() {
            return Response::error("Cannot join the channel <nil> configuration block provided");
        }
        if let Err(e) = self.check_local(stub, LocalRole::Admin) {
            return Response::error(format!("access denied for [JoinChain]: [{e}]"));
        }
        match self.channels.join(block) {
            Ok(_) => Response::success(Vec::new()),
            Err(e) => Response::error(format!("\"JoinChain\" request failed: {e}")),
        }
    }

    fn get_channels(&self, stub: &dyn ChaincodeStub) -> Response {
        if let Err(e) = self.check_local(stub, LocalRole::Member) {
            return Response::error(format!("access denied for [GetChannels]: {e}"));
        }
        match self.channels.channel_ids() {
            Ok(ids) => Response::success(
                ChannelQueryResponse {
                    channels: ids
                        .into_iter()
                        .map(|channel_id| ChannelInfo { channel_id })
                        .collect(),
                }
                .encode_to_vec(),
            ),
            Err(e) => Response::error(format!("failed listing channels: {e}")),
        }
    }

    fn get_channel_config(&self, stub: &dyn ChaincodeStub, channel: &str) -> Response {
        if channel.is_empty() {
            return Response::error("empty channel name provided");
        }
        if let Err(e) = self.check_readers(stub, channel, "GetChannelConfig") {
            return Response::error(format!(
                "access denied for [GetChannelConfig][{channel}]: {e}"
            ));
        }
        match self.channels.require(channel) {
            Ok(c) => Response::success(c.bundle().config().encode_to_vec()),
            Err(e) => Response::error(format!("Unknown channel ID, {channel}: {e}")),
        }
    }

    fn get_config_block(&self, stub: &dyn ChaincodeStub, channel: &str) -> Response {
        if let Err(e) = self.check_readers(stub, channel, "GetConfigBlock") {
            return Response::error(format!(
                "access denied for [GetConfigBlock][{channel}]: {e}"
            ));
        }
        let block = self.channels.require(channel).and_then(|c| {
            let newest = c
                .ledger()
                .block_by_number(u64::MAX)?
                .ok_or_else(|| crate::PeerError::UnknownChannel(channel.to_owned()))?;
            let index = weft_orderer::last_config_index(&newest)
                .map_err(|e| crate::PeerError::BadRequest(e.to_string()))?;
            Ok(c.ledger().block_bytes_by_number(index)?)
        });
        match block {
            Ok(Some(bytes)) => Response::success(bytes),
            Ok(None) => Response::error(format!("Unknown chain ID, {channel}")),
            Err(e) => Response::error(e.to_string()),
        }
    }
}

impl Chaincode for Cscc {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Response {
        let args = stub.args().to_vec();
        if args.is_empty() {
            return Response::error("Incorrect number of arguments, 0");
        }
        let function = function_name(&args);
        if function != "GetChannels" && args.len() < 2 {
            return Response::error(format!("Incorrect number of arguments, {}", args.len()));
        }
        let arg = |i: usize| args.get(i).map(Vec::as_slice).unwrap_or_default();
        let text = |i: usize| String::from_utf8_lossy(arg(i)).into_owned();
        match function.as_str() {
            "JoinChain" => self.join_chain(stub, arg(1)),
            "GetChannels" => self.get_channels(stub),
            "GetChannelConfig" => self.get_channel_config(stub, &text(1)),
            "GetConfigBlock" => self.get_config_block(stub, &text(1)),
            "JoinChainBySnapshot" | "JoinBySnapshotStatus" => Response::error(format!(
                "{function} is not supported by Weft: join with the channel's genesis block"
            )),
            _ => Response::error(format!("Requested function {function} not found.")),
        }
    }
}
