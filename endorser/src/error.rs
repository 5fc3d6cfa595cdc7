//! How a proposal fails. Fabric distinguishes two kinds (F25 core/endorser/endorser.go
//! ProcessProposal): a proposal that cannot be unpacked or fails its checks is answered with a
//! gRPC error (the Go handler returns both a 500 response and an error, and gRPC sends only the
//! error), while failures while processing a well-formed proposal are a `ProposalResponse` with
//! status 500 and no gRPC error.

use fabric_protos::protos::{ProposalResponse, Response};

/// A proposal refused before processing: unpacking, header checks, signature, duplicate
/// transaction ID or ACL. Go's peer answers with a gRPC error whose message is `message`
/// (status code Unknown, as for any plain Go error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProposalRejected {
    pub message: String,
}

impl ProposalRejected {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ProposalRejected {
            message: message.into(),
        }
    }

    /// The response Go builds alongside the error (status 500 with the message).
    pub fn to_response(&self) -> ProposalResponse {
        error_response(&self.message)
    }
}

/// A `ProposalResponse` carrying only a status-500 response with `message`.
pub fn error_response(message: &str) -> ProposalResponse {
    ProposalResponse {
        response: Some(Response {
            status: 500,
            message: message.to_owned(),
            payload: Vec::new(),
        }),
        ..Default::default()
    }
}
