//! `_lifecycle`'s view of the ledger through the stub: the public namespace, and each org's
//! implicit collection (values for this peer's org, hashes for every org).

use weft_chaincode_api::{ChaincodeStub, StubError};

use crate::error::LifecycleError;
use crate::state::{OpaqueState, ReadableState, WritableState};

fn stub_error(e: StubError) -> LifecycleError {
    LifecycleError::State(e.to_string())
}

/// The public `_lifecycle` namespace through the stub.
pub(super) struct PublicState<'s> {
    pub(super) stub: &'s mut dyn ChaincodeStub,
}

impl ReadableState for PublicState<'_> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        self.stub.get_state(key).map_err(stub_error)
    }
}

impl WritableState for PublicState<'_> {
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), LifecycleError> {
        self.stub.put_state(key, value).map_err(stub_error)
    }
    fn del_state(&mut self, key: &str) -> Result<(), LifecycleError> {
        self.stub.del_state(key).map_err(stub_error)
    }
}

/// One org's implicit collection through the stub: readable and writable for this peer's org,
/// hashes only for the others.
pub(super) struct OrgState<'s> {
    pub(super) stub: &'s mut dyn ChaincodeStub,
    pub(super) collection: String,
}

impl ReadableState for OrgState<'_> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        self.stub
            .get_private_data(&self.collection, key)
            .map_err(stub_error)
    }
}

impl WritableState for OrgState<'_> {
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), LifecycleError> {
        self.stub
            .put_private_data(&self.collection, key, value)
            .map_err(stub_error)
    }
    fn del_state(&mut self, key: &str) -> Result<(), LifecycleError> {
        self.stub
            .del_private_data(&self.collection, key)
            .map_err(stub_error)
    }
}

impl OpaqueState for OrgState<'_> {
    fn get_state_hash(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        self.stub
            .get_private_data_hash(&self.collection, key)
            .map_err(stub_error)
    }
}
