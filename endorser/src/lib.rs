//! The peer's endorser: proposal checks, transaction simulation into read-write sets, signed proposal responses.
