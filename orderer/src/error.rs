//! Errors of the orderer library.

/// An operation of the ordering node failed.
#[derive(Debug, thiserror::Error)]
pub enum OrdererError {
    #[error("signing with the orderer's identity failed: {0}; check the local MSP's keystore")]
    Signing(#[source] weft_msp::MspError),
    #[error("block {number} has malformed {what} metadata: {reason}")]
    BadMetadata {
        number: u64,
        what: &'static str,
        reason: String,
    },
    #[error("block has no {0}; blocks must carry a header, data and metadata")]
    IncompleteBlock(&'static str),
    #[error("cannot create a nonce: {0}")]
    Random(#[source] openssl::error::ErrorStack),
}
