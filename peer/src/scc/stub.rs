//! A stub without state for system chaincodes the peer runs outside a transaction simulation
//! (cscc, qscc): it carries the invocation context and refuses state calls.

use std::collections::BTreeMap;

use weft_chaincode_api::{
    ChaincodeStub, KeyModification, KeyValue, RangePage, Response, StateMetadata, StubError,
};

/// The invocation context of one system chaincode call.
pub struct ContextStub {
    pub channel_id: String,
    pub tx_id: String,
    pub args: Vec<Vec<u8>>,
    pub creator: Vec<u8>,
    pub transient: BTreeMap<String, Vec<u8>>,
    pub signed_proposal: Vec<u8>,
    pub timestamp: (i64, i32),
    pub binding: Vec<u8>,
}

fn no_state<T>() -> Result<T, StubError> {
    Err(StubError::Unsupported(
        "this system chaincode runs without a transaction simulator".into(),
    ))
}

impl ChaincodeStub for ContextStub {
    fn channel_id(&self) -> &str {
        &self.channel_id
    }
    fn tx_id(&self) -> &str {
        &self.tx_id
    }
    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }
    fn creator(&self) -> &[u8] {
        &self.creator
    }
    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.transient
    }
    fn signed_proposal(&self) -> &[u8] {
        &self.signed_proposal
    }
    fn tx_timestamp(&self) -> (i64, i32) {
        self.timestamp
    }
    fn binding(&self) -> &[u8] {
        &self.binding
    }
    fn get_state(&mut self, _key: &str) -> Result<Option<Vec<u8>>, StubError> {
        no_state()
    }
    fn put_state(&mut self, _key: &str, _value: &[u8]) -> Result<(), StubError> {
        no_state()
    }
    fn del_state(&mut self, _key: &str) -> Result<(), StubError> {
        no_state()
    }
    fn get_state_metadata(&mut self, _key: &str) -> Result<StateMetadata, StubError> {
        no_state()
    }
    fn set_state_metadata(
        &mut self,
        _key: &str,
        _name: &str,
        _value: &[u8],
    ) -> Result<(), StubError> {
        no_state()
    }
    fn get_state_by_range(
        &mut self,
        _start: &str,
        _end: &str,
        _page_size: u32,
        _bookmark: &str,
    ) -> Result<RangePage, StubError> {
        no_state()
    }
    fn get_history_for_key(&mut self, _key: &str) -> Result<Vec<KeyModification>, StubError> {
        no_state()
    }
    fn get_private_data(&mut self, _c: &str, _key: &str) -> Result<Option<Vec<u8>>, StubError> {
        no_state()
    }
    fn get_private_data_hash(
        &mut self,
        _c: &str,
        _key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        no_state()
    }
    fn put_private_data(&mut self, _c: &str, _key: &str, _value: &[u8]) -> Result<(), StubError> {
        no_state()
    }
    fn del_private_data(&mut self, _c: &str, _key: &str) -> Result<(), StubError> {
        no_state()
    }
    fn get_private_data_by_range(
        &mut self,
        _c: &str,
        _start: &str,
        _end: &str,
    ) -> Result<Vec<KeyValue>, StubError> {
        no_state()
    }
    fn get_private_data_metadata(
        &mut self,
        _c: &str,
        _key: &str,
    ) -> Result<StateMetadata, StubError> {
        no_state()
    }
    fn set_private_data_metadata(
        &mut self,
        _c: &str,
        _key: &str,
        _name: &str,
        _value: &[u8],
    ) -> Result<(), StubError> {
        no_state()
    }
    fn set_event(&mut self, _name: &str, _payload: &[u8]) -> Result<(), StubError> {
        no_state()
    }
    fn invoke_chaincode(
        &mut self,
        _chaincode: &str,
        _args: &[Vec<u8>],
        _channel: &str,
    ) -> Result<Response, StubError> {
        no_state()
    }
}
