//! The running node: channel registry, consensus per channel, the gRPC AtomicBroadcast
//! service, and the admin (channel participation) and operations HTTP endpoints.

pub mod admin;
pub mod chain;
pub mod http;
pub mod raft;
pub mod registrar;
pub mod service;
