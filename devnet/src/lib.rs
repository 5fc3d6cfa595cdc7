//! Weft's local network in one command, laid out like Fabric's test network (an orderer org with
//! one Raft orderer, Org1 and Org2 with one peer each, TLS on, channel `mychannel`), and the
//! admin client that sets it up through the same wire calls as Fabric's CLIs.

pub mod admin;
mod error;
pub mod files;
pub mod layout;
pub mod lifecycle;
pub mod network;
pub mod osnadmin;

pub use error::{DevnetError, Result};
