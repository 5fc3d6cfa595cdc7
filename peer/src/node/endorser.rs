//! The `protos.Endorser` gRPC service over [`weft_endorser::Endorser`]. Where Go's handler
//! returns a gRPC error the service does too (status UNKNOWN with Go's message); everything
//! else, failed simulations included, is a proposal response.

use std::sync::Arc;

use fabric_protos::protos::endorser_server::Endorser as EndorserApi;
use fabric_protos::protos::{ProposalResponse, SignedProposal};
use weft_endorser::Endorser;

pub struct EndorserService {
    endorser: Arc<Endorser>,
}

impl EndorserService {
    pub fn new(endorser: Arc<Endorser>) -> Self {
        Self { endorser }
    }
}

#[tonic::async_trait]
impl EndorserApi for EndorserService {
    async fn process_proposal(
        &self,
        request: tonic::Request<SignedProposal>,
    ) -> Result<tonic::Response<ProposalResponse>, tonic::Status> {
        match self.endorser.process(request.into_inner()).await {
            Ok(response) => Ok(tonic::Response::new(response)),
            Err(rejected) => Err(tonic::Status::unknown(rejected.message)),
        }
    }
}
