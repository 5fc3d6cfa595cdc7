//! The WASM chaincode runtime hosted inside the peer.
//!
//! Weft runs chaincode as WebAssembly inside the peer process instead of Fabric's external
//! chaincode containers. One [`Engine`] per peer compiles each installed package once
//! ([`Engine::load`]) and shares the resulting [`WasmChaincode`] among every channel that uses
//! it. Each invocation ([`Chaincode::invoke`](weft_chaincode_api::Chaincode::invoke)) runs in a
//! fresh pooled instance, metered by fuel and bounded in memory (see [`Limits`]), and reaches
//! the peer only through the host ABI described in docs/chaincode-abi.md, which maps one to one
//! onto [`weft_chaincode_api::ChaincodeStub`]. There is no WASI: no clock, randomness, files or
//! network, so every endorser computes the same result.
//!
//! A guest that traps, loops, exhausts memory, passes bad pointers or answers malformed output
//! fails its invocation with an error response (status 500) whose message says what happened;
//! the engine stays usable.

mod chaincode;
mod codec;
mod engine;
mod error;
mod host;
mod limits;
pub mod package;

pub use chaincode::WasmChaincode;
pub use engine::Engine;
pub use error::RuntimeError;
pub use limits::Limits;

/// The host ABI version this runtime implements; a module's `weft_abi_version` must return it.
pub const ABI_VERSION: i32 = 1;

/// Exports every chaincode module must have.
pub const EXPORT_MEMORY: &str = "memory";
pub const EXPORT_ABI_VERSION: &str = "weft_abi_version";
pub const EXPORT_INVOKE: &str = "weft_invoke";
