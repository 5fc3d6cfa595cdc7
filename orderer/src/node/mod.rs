//! The running node: channel registry, consensus per channel, the gRPC AtomicBroadcast
//! service, the `orderer.Cluster` service and links between consenters (raft traffic and
//! submits forwarded to the leader), the block puller that catches a node up from the other
//! orderers (behind a raft snapshot, or when it onboards with a later join block), and the
//! admin (channel participation) and operations HTTP endpoints.

pub mod admin;
pub mod chain;
pub mod cluster;
pub mod http;
pub mod operations;
pub mod puller;
pub mod raft;
pub mod registrar;
pub mod service;
pub mod start;
