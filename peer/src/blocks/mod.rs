//! Getting a channel's blocks from its ordering service (Fabric's `deliverservice` and
//! `blocksprovider`): one [`puller`] task per joined channel connects to an orderer endpoint
//! named in the channel config ([`endpoints`]), asks for every block from the ledger height on
//! and hands each to the commit service, which verifies, validates and commits it. A failed connection, a refused request or a
//! bad block moves on to another endpoint after a bounded exponential backoff.

pub mod endpoints;
pub mod pacing;
pub mod puller;

pub use puller::{BlockPuller, PullerSettings};
