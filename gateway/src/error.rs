//! gRPC statuses as Fabric's gateway returns them: a code, a message, and for failures
//! involving other nodes one `gateway.ErrorDetail` per node inside a `google.rpc.Status`
//! carried in the `grpc-status-details-bin` trailer (what the client SDKs decode).

use fabric_protos::gateway::ErrorDetail;
use prost::Message;
use tonic::{Code, Status};

const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/gateway.ErrorDetail";

/// `google.rpc.Status`, the container of the details trailer.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// A status with the given details attached (none: a plain status, as Fabric does).
pub fn rpc_error(code: Code, message: impl Into<String>, details: &[ErrorDetail]) -> Status {
    let message = message.into();
    if details.is_empty() {
        return Status::new(code, message);
    }
    let status = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: details
            .iter()
            .map(|d| prost_types::Any {
                type_url: ERROR_DETAIL_TYPE_URL.to_owned(),
                value: d.encode_to_vec(),
            })
            .collect(),
    };
    Status::with_details(code, message, status.encode_to_vec().into())
}

/// The `gateway.ErrorDetail`s attached to a status (for clients and tests).
pub fn error_details(status: &Status) -> Vec<ErrorDetail> {
    let Ok(decoded) = RpcStatus::decode(status.details()) else {
        return Vec::new();
    };
    decoded
        .details
        .iter()
        .filter(|any| any.type_url == ERROR_DETAIL_TYPE_URL)
        .filter_map(|any| ErrorDetail::decode(any.value.as_slice()).ok())
        .collect()
}

pub(crate) fn detail(address: &str, msp_id: &str, message: impl Into<String>) -> ErrorDetail {
    ErrorDetail {
        address: address.to_owned(),
        msp_id: msp_id.to_owned(),
        message: message.into(),
    }
}

/// Why the gateway could not be set up or a remote node not reached.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("failed to create new connection to {address}: {reason}")]
    Connect { address: String, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_round_trip() {
        let d = detail("peer0:7051", "Org1MSP", "boom");
        let status = rpc_error(Code::Aborted, "failed", std::slice::from_ref(&d));
        assert_eq!(status.code(), Code::Aborted);
        assert_eq!(error_details(&status), vec![d]);
        assert!(error_details(&rpc_error(Code::Aborted, "x", &[])).is_empty());
    }
}
