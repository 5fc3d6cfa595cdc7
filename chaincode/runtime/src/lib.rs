//! The WASM chaincode runtime hosted inside the peer.
