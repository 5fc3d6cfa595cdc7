//! Fabric's wire types.
//!
//! The messages and services here are generated from the `.proto` files under `proto/`, which
//! are Weft's own text carrying Fabric's wire facts (packages, names, field numbers, types and
//! services) for Fabric v2.5 plus the v3.x additions. `interop-tests/tests/it/conformance.rs` checks them field
//! by field against the descriptors that Fabric's published Go bindings register.
//!
//! Module names follow the protobuf packages, so `protos` is Fabric's peer package; [`peer`] is
//! an alias for it.

#![allow(clippy::all, clippy::pedantic, rust_2018_idioms)]

/// The compiled descriptor set of every `.proto` file in this crate (binary `FileDescriptorSet`).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/weft_descriptor_set.bin"));

pub mod common {
    include!(concat!(env!("OUT_DIR"), "/common.rs"));
}
pub mod msp {
    include!(concat!(env!("OUT_DIR"), "/msp.rs"));
}
pub mod protos {
    include!(concat!(env!("OUT_DIR"), "/protos.rs"));
}
pub use protos as peer;
pub mod lifecycle {
    include!(concat!(env!("OUT_DIR"), "/lifecycle.rs"));
}
pub mod orderer {
    include!(concat!(env!("OUT_DIR"), "/orderer.rs"));
    pub mod smartbft {
        include!(concat!(env!("OUT_DIR"), "/orderer.smartbft.rs"));
    }
}
pub mod etcdraft {
    include!(concat!(env!("OUT_DIR"), "/etcdraft.rs"));
}
pub mod gateway {
    include!(concat!(env!("OUT_DIR"), "/gateway.rs"));
}
pub mod discovery {
    include!(concat!(env!("OUT_DIR"), "/discovery.rs"));
}
pub mod gossip {
    include!(concat!(env!("OUT_DIR"), "/gossip.rs"));
}
pub mod rwset {
    include!(concat!(env!("OUT_DIR"), "/rwset.rs"));
}
pub mod kvrwset {
    include!(concat!(env!("OUT_DIR"), "/kvrwset.rs"));
}
pub mod queryresult {
    include!(concat!(env!("OUT_DIR"), "/queryresult.rs"));
}
pub mod transientstore {
    include!(concat!(env!("OUT_DIR"), "/transientstore.rs"));
}
