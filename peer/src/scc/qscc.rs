//! `qscc`, the ledger query system chaincode (Fabric's `core/scc/qscc`): GetChainInfo,
//! GetBlockByNumber, GetBlockByHash, GetTransactionByID and GetBlockByTxID. Arguments are
//! `[function, channel, argument]`; access needs the channel's application Readers.

use std::sync::Arc;

use fabric_protos::protos::ProcessedTransaction;
use prost::Message;
use weft_chaincode_api::{Chaincode, ChaincodeStub, Response};

use super::{function_name, signed_proposal};
use crate::channels::{ChannelManager, PeerChannel};
use crate::proposal;

pub const NAME: &str = "qscc";

pub struct Qscc {
    channels: Arc<ChannelManager>,
}

impl Qscc {
    pub fn new(channels: Arc<ChannelManager>) -> Self {
        Self { channels }
    }

    fn check_readers(
        &self,
        stub: &dyn ChaincodeStub,
        channel: &PeerChannel,
        function: &str,
    ) -> Result<(), String> {
        let signed = signed_proposal(stub)?;
        proposal::check_reader_acl(
            &channel.bundle(),
            &format!("{NAME}/{function}"),
            &proposal::signed_data(&signed, stub.creator()),
        )
    }
}

impl Chaincode for Qscc {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Response {
        let args = stub.args().to_vec();
        if args.len() < 2 {
            return Response::error(format!("Incorrect number of arguments, {}", args.len()));
        }
        let function = function_name(&args);
        let channel_id = String::from_utf8_lossy(&args[1]).into_owned();
        if channel_id.is_empty() {
            return Response::error("Bad channel name");
        }
        let argument = args.get(2).map(Vec::as_slice);
        if function != "GetChainInfo" && argument.is_none() {
            return Response::error(format!("missing 3rd argument for {function}"));
        }
        let channel = match self.channels.get(&channel_id) {
            Ok(Some(channel)) => channel,
            Ok(None) => return Response::error(format!("Invalid chain ID, {channel_id}")),
            Err(e) => return Response::error(e.to_string()),
        };
        if let Err(e) = self.check_readers(stub, &channel, &function) {
            return Response::error(format!(
                "access denied for [{function}][{channel_id}]: [{e}]"
            ));
        }
        let argument = argument.unwrap_or_default();
        let result = match function.as_str() {
            "GetChainInfo" => chain_info(&channel),
            "GetBlockByNumber" => block_by_number(&channel, argument),
            "GetBlockByHash" => block_by_hash(&channel, argument),
            "GetTransactionByID" => transaction_by_id(&channel, argument),
            "GetBlockByTxID" => block_by_txid(&channel, argument),
            _ => Err(format!("Requested function {function} not found.")),
        };
        match result {
            Ok(payload) => Response::success(payload),
            Err(message) => Response::error(message),
        }
    }
}

fn chain_info(channel: &PeerChannel) -> Result<Vec<u8>, String> {
    channel
        .ledger()
        .info()
        .map(|info| info.encode_to_vec())
        .map_err(|e| format!("Failed to get block info with error {e}"))
}

fn block_by_number(channel: &PeerChannel, number: &[u8]) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(number);
    let number: u64 = text
        .parse()
        .map_err(|e| format!("Failed to parse block number with error {e}"))?;
    match channel.ledger().block_bytes_by_number(number) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(format!(
            "Failed to get block number {number}, error no such block number [{number}] in index"
        )),
        Err(e) => Err(format!("Failed to get block number {number}, error {e}")),
    }
}

fn block_by_hash(channel: &PeerChannel, hash: &[u8]) -> Result<Vec<u8>, String> {
    let found = channel
        .ledger()
        .block_number_by_hash(hash)
        .and_then(|n| match n {
            Some(n) => channel.ledger().block_bytes_by_number(n),
            None => Ok(None),
        });
    match found {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(format!(
            "Failed to get block hash {}, error no such block hash [{}] in index",
            String::from_utf8_lossy(hash),
            hex_string(hash)
        )),
        Err(e) => Err(format!("Failed to get block by hash: {e}")),
    }
}

fn transaction_by_id(channel: &PeerChannel, txid: &[u8]) -> Result<Vec<u8>, String> {
    let txid = String::from_utf8_lossy(txid);
    match channel.ledger().tx_by_id(&txid) {
        Ok(Some(tx)) => Ok(ProcessedTransaction {
            transaction_envelope: Some(tx.envelope),
            validation_code: tx.validation_code.map_or(0, i32::from),
        }
        .encode_to_vec()),
        Ok(None) => Err(format!(
            "Failed to get transaction with id {txid}, error no such transaction ID [{txid}] in index"
        )),
        Err(e) => Err(format!(
            "Failed to get transaction with id {txid}, error {e}"
        )),
    }
}

fn block_by_txid(channel: &PeerChannel, txid: &[u8]) -> Result<Vec<u8>, String> {
    let txid = String::from_utf8_lossy(txid);
    let found = channel.ledger().tx_location(&txid).and_then(|l| match l {
        Some(l) => channel.ledger().block_bytes_by_number(l.block_number),
        None => Ok(None),
    });
    match found {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(format!(
            "Failed to get block for txID {txid}, error no such transaction ID [{txid}] in index"
        )),
        Err(e) => Err(format!("Failed to get block for txID {txid}, error {e}")),
    }
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
