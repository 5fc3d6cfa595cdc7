//! The running peer: start-up ([`start`]), the gRPC services it serves ([`endorser`],
//! [`deliver`]) and the wiring between channels, system chaincodes and block pullers.

pub mod deliver;
pub mod endorser;
pub mod start;
