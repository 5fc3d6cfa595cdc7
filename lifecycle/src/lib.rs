//! Fabric's _lifecycle system chaincode: chaincode packages, approvals, definitions, with Fabric's state layout.
