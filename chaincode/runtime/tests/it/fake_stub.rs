//! An in-memory ChaincodeStub: public state with history, private data, one event, and
//! chaincode-to-chaincode calls routed to a registered chaincode.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use weft_chaincode_api::{
    Chaincode, ChaincodeStub, KeyModification, KeyValue, RangePage, Response, StateMetadata,
    StubError,
};

#[derive(Default)]
pub struct FakeStub {
    pub args: Vec<Vec<u8>>,
    pub tx_id: String,
    pub state: BTreeMap<String, Vec<u8>>,
    pub history: BTreeMap<String, Vec<KeyModification>>,
    pub metadata: BTreeMap<String, StateMetadata>,
    pub private: BTreeMap<(String, String), Vec<u8>>,
    pub transient: BTreeMap<String, Vec<u8>>,
    pub event: Option<(String, Vec<u8>)>,
    pub get_state_calls: usize,
    /// Chaincode reached by invoke_chaincode, and the responses it gave.
    pub callee: Option<Arc<dyn Chaincode>>,
    pub callee_responses: Arc<Mutex<Vec<Response>>>,
}

impl FakeStub {
    pub fn with_args(args: &[&str]) -> Self {
        FakeStub {
            tx_id: "tx1".into(),
            ..Default::default()
        }
        .args(args)
    }

    /// Replaces the arguments and moves to a new transaction id (as a new proposal would).
    pub fn args(mut self, args: &[&str]) -> Self {
        self.set_args(args);
        self
    }

    pub fn set_args(&mut self, args: &[&str]) {
        self.args = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        self.tx_id = format!(
            "tx{}",
            self.history.values().map(Vec::len).sum::<usize>() + 1
        );
    }

    fn record(&mut self, key: &str, value: &[u8], is_delete: bool) {
        let tx_id = self.tx_id.clone();
        let changes = self.history.entry(key.to_owned()).or_default();
        let seconds = 1_700_000_000 + changes.len() as i64;
        changes.push(KeyModification {
            tx_id,
            value: value.to_vec(),
            timestamp_seconds: seconds,
            timestamp_nanos: 7,
            is_delete,
        });
    }
}

fn check_key(key: &str) -> Result<(), StubError> {
    if key.is_empty() {
        return Err(StubError::InvalidArgument("key must not be empty".into()));
    }
    Ok(())
}

impl ChaincodeStub for FakeStub {
    fn channel_id(&self) -> &str {
        "mychannel"
    }
    fn tx_id(&self) -> &str {
        &self.tx_id
    }
    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }
    fn creator(&self) -> &[u8] {
        b"creator-bytes"
    }
    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.transient
    }
    fn signed_proposal(&self) -> &[u8] {
        b"signed-proposal"
    }
    fn tx_timestamp(&self) -> (i64, i32) {
        (1_700_000_000, 5)
    }
    fn binding(&self) -> &[u8] {
        b"binding"
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        self.get_state_calls += 1;
        check_key(key)?;
        Ok(self.state.get(key).cloned())
    }
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), StubError> {
        check_key(key)?;
        self.state.insert(key.to_owned(), value.to_vec());
        self.record(key, value, false);
        Ok(())
    }
    fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        check_key(key)?;
        self.state.remove(key);
        self.record(key, &[], true);
        Ok(())
    }
    fn get_state_metadata(&mut self, key: &str) -> Result<StateMetadata, StubError> {
        Ok(self.metadata.get(key).cloned().unwrap_or_default())
    }
    fn set_state_metadata(&mut self, key: &str, name: &str, value: &[u8]) -> Result<(), StubError> {
        self.metadata
            .entry(key.to_owned())
            .or_default()
            .insert(name.to_owned(), value.to_vec());
        Ok(())
    }
    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage, StubError> {
        if !end.is_empty() && start > end {
            return Err(StubError::InvalidArgument("start key after end key".into()));
        }
        let from = if bookmark.is_empty() { start } else { bookmark };
        let mut items: Vec<KeyValue> = self
            .state
            .range(from.to_owned()..)
            .take_while(|(k, _)| end.is_empty() || k.as_str() < end)
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        let mut next = String::new();
        if page_size > 0 && items.len() > page_size as usize {
            next = items[page_size as usize].key.clone();
            items.truncate(page_size as usize);
        }
        Ok(RangePage {
            fetched_records_count: items.len() as u32,
            items,
            bookmark: next,
        })
    }
    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        Ok(self.history.get(key).cloned().unwrap_or_default())
    }

    fn get_private_data(&mut self, c: &str, k: &str) -> Result<Option<Vec<u8>>, StubError> {
        Ok(self.private.get(&(c.to_owned(), k.to_owned())).cloned())
    }
    fn get_private_data_hash(&mut self, c: &str, k: &str) -> Result<Option<Vec<u8>>, StubError> {
        // Not a real hash: the tests only check the call is routed.
        Ok(self
            .private
            .get(&(c.to_owned(), k.to_owned()))
            .map(|v| v.iter().rev().copied().collect()))
    }
    fn put_private_data(&mut self, c: &str, k: &str, v: &[u8]) -> Result<(), StubError> {
        if c.is_empty() {
            return Err(StubError::InvalidArgument(
                "collection must not be empty".into(),
            ));
        }
        self.private
            .insert((c.to_owned(), k.to_owned()), v.to_vec());
        Ok(())
    }
    fn del_private_data(&mut self, c: &str, k: &str) -> Result<(), StubError> {
        self.private.remove(&(c.to_owned(), k.to_owned()));
        Ok(())
    }
    fn get_private_data_by_range(
        &mut self,
        c: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<KeyValue>, StubError> {
        Ok(self
            .private
            .iter()
            .filter(|((coll, k), _)| {
                coll == c && k.as_str() >= start && (end.is_empty() || k.as_str() < end)
            })
            .map(|((_, k), v)| KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect())
    }
    fn get_private_data_metadata(&mut self, _: &str, _: &str) -> Result<StateMetadata, StubError> {
        Err(StubError::Unsupported(
            "private metadata in the fake".into(),
        ))
    }
    fn set_private_data_metadata(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
        _: &[u8],
    ) -> Result<(), StubError> {
        Err(StubError::Unsupported(
            "private metadata in the fake".into(),
        ))
    }

    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), StubError> {
        self.event = Some((name.to_owned(), payload.to_vec()));
        Ok(())
    }

    fn invoke_chaincode(
        &mut self,
        chaincode: &str,
        args: &[Vec<u8>],
        _channel: &str,
    ) -> Result<Response, StubError> {
        let callee = self
            .callee
            .clone()
            .ok_or_else(|| StubError::InvalidArgument(format!("no chaincode {chaincode}")))?;
        let mut inner = FakeStub {
            args: args.to_vec(),
            tx_id: self.tx_id.clone(),
            callee: Some(callee.clone()),
            callee_responses: self.callee_responses.clone(),
            ..Default::default()
        };
        let response = callee.invoke(&mut inner);
        self.callee_responses.lock().unwrap().push(response.clone());
        Ok(response)
    }
}
