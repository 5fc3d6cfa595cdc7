//! The `discovery.Discovery` service (Fabric `discovery/service.go`): config, peer
//! membership and endorsers queries on a channel, and the local peers query.
//!
//! Requests are signed; with TLS on the client must present a certificate whose SHA-256
//! equals the hash claimed in the request. Channel queries need the channel's
//! `/Channel/Application/Writers`, the local query the peer's local `Admins`.

use std::collections::BTreeMap;
use std::sync::Arc;

use fabric_protos::discovery::discovery_server::Discovery;
use fabric_protos::discovery::{
    ChaincodeQueryResult, Error as QueryError, PeerMembershipResult, Peers, Query, QueryResult,
    Request as DiscoveryRequest, Response as DiscoveryResponse, SignedRequest, query, query_result,
};
use fabric_protos::protos::ChaincodeInterest;
use prost::Message;
use tonic::{Request, Response, Status};
use weft_policy::SignedData;

use crate::api::{PeerInfo, PeerSupport};
use crate::channel::config_result;
use crate::descriptor::{authorized_for_collections, descriptor, has_chaincodes};
use crate::membership::discovery_peer;

/// Most queries answered in one request.
pub const QUERIES_MAX: usize = 256;
/// Most chaincode interests in one endorsers query.
pub const INTERESTS_MAX: usize = 64;
const CHANNEL_APPLICATION_WRITERS: &str = "/Channel/Application/Writers";
const LOCAL_ADMINS: &str = "Admins";

/// The discovery service; mount with `DiscoveryServer::new(service)`.
#[derive(Clone)]
pub struct DiscoveryService {
    support: Arc<dyn PeerSupport>,
    tls_enabled: bool,
}

fn error_result(message: impl Into<String>) -> QueryResult {
    QueryResult {
        result: Some(query_result::Result::Error(QueryError {
            content: message.into(),
        })),
    }
}

impl DiscoveryService {
    /// `tls_enabled`: the peer's server uses TLS, so requests must be bound to the client's
    /// TLS certificate.
    pub fn new(support: Arc<dyn PeerSupport>, tls_enabled: bool) -> Self {
        DiscoveryService {
            support,
            tls_enabled,
        }
    }

    /// Validates the request's structure and TLS binding (Fabric `validateStructure`).
    fn validate(
        &self,
        signed: &SignedRequest,
        client_cert_hash: Option<[u8; 32]>,
    ) -> Result<DiscoveryRequest, Status> {
        let request = DiscoveryRequest::decode(signed.payload.as_slice())
            .map_err(|e| Status::unknown(format!("failed parsing request: {e}")))?;
        let Some(auth) = &request.authentication else {
            return Err(Status::unknown(
                "access denied, no authentication info in request",
            ));
        };
        if auth.client_identity.is_empty() {
            return Err(Status::unknown(
                "access denied, client identity wasn't supplied",
            ));
        }
        if !self.tls_enabled {
            return Ok(request);
        }
        let Some(hash) = client_cert_hash else {
            return Err(Status::unknown("client didn't send a TLS certificate"));
        };
        if hash.as_slice() != auth.client_tls_cert_hash.as_slice() {
            return Err(Status::unknown(
                "client claimed TLS hash doesn't match computed TLS hash from gRPC stream",
            ));
        }
        Ok(request)
    }

    /// Answers one request (the gRPC method minus the transport).
    pub fn discover(
        &self,
        signed: &SignedRequest,
        client_cert_hash: Option<[u8; 32]>,
    ) -> Result<DiscoveryResponse, Status> {
        let request = self.validate(signed, client_cert_hash)?;
        let identity = request
            .authentication
            .as_ref()
            .map(|a| a.client_identity.clone())
            .unwrap_or_default();
        let results = request
            .queries
            .iter()
            .take(QUERIES_MAX)
            .map(|q| self.process(q, signed, &identity))
            .collect();
        Ok(DiscoveryResponse { results })
    }

    fn process(&self, query: &Query, signed: &SignedRequest, identity: &[u8]) -> QueryResult {
        let data = SignedData {
            data: signed.payload.clone(),
            identity: identity.to_vec(),
            signature: signed.signature.clone(),
        };
        if query.channel.is_empty() {
            if self
                .support
                .evaluate_local_policy(LOCAL_ADMINS, &[data])
                .is_err()
            {
                return error_result("access denied");
            }
            return match &query.query {
                Some(query::Query::LocalPeers(_)) => self.local_peers(),
                _ => error_result("unknown or missing request type"),
            };
        }
        let Some(config) = self.support.channel_config(&query.channel) else {
            return error_result("access denied");
        };
        if config
            .evaluate_policy(CHANNEL_APPLICATION_WRITERS, &[data])
            .is_err()
        {
            return error_result("access denied");
        }
        match &query.query {
            Some(query::Query::ConfigQuery(_)) => match config_result(config.config()) {
                Ok(result) => QueryResult {
                    result: Some(query_result::Result::ConfigResult(result)),
                },
                Err(_) => error_result(format!(
                    "failed fetching config for channel {}",
                    query.channel
                )),
            },
            Some(query::Query::PeerQuery(q)) => {
                self.channel_peers(&query.channel, q.filter.as_ref())
            }
            Some(query::Query::CcQuery(q)) => self.endorsers(&query.channel, &q.interests),
            _ => error_result("unknown or missing request type"),
        }
    }

    fn by_org(peers: &[PeerInfo], channel: &str, with_state: bool) -> QueryResult {
        let mut by_org: BTreeMap<String, Peers> = BTreeMap::new();
        for p in peers {
            by_org
                .entry(p.msp_id.clone())
                .or_default()
                .peers
                .push(discovery_peer(p, channel, with_state));
        }
        QueryResult {
            result: Some(query_result::Result::Members(PeerMembershipResult {
                peers_by_org: by_org,
            })),
        }
    }

    fn local_peers(&self) -> QueryResult {
        Self::by_org(&self.support.local_peers(), "", false)
    }

    /// The channel's peers; with a `filter`, only those with every chaincode of it
    /// installed at its defined version and allowed to read the collections it reads.
    fn channel_peers(&self, channel: &str, filter: Option<&ChaincodeInterest>) -> QueryResult {
        let mut peers = self.support.channel_peers(channel);
        if let Some(interest) = filter.filter(|i| !i.chaincodes.is_empty()) {
            let Some(config) = self.support.channel_config(channel) else {
                return error_result("access denied");
            };
            let mut definitions = Vec::new();
            for call in &interest.chaincodes {
                match self.support.chaincode(channel, &call.name) {
                    Some(def) => definitions.push(def),
                    None => {
                        return error_result(format!(
                            "No metadata was found for chaincode {} in channel {channel}",
                            call.name
                        ));
                    }
                }
            }
            peers.retain(|p| {
                has_chaincodes(p, &definitions)
                    && authorized_for_collections(config.as_ref(), p, interest, &definitions)
            });
        }
        Self::by_org(&peers, channel, true)
    }

    fn endorsers(&self, channel: &str, interests: &[ChaincodeInterest]) -> QueryResult {
        if interests.is_empty() {
            return error_result("chaincode query must have at least one chaincode interest");
        }
        if interests.len() > INTERESTS_MAX {
            return error_result("too many chaincode interests");
        }
        for interest in interests {
            if interest.chaincodes.is_empty() {
                return error_result("chaincode interest must contain at least one chaincode");
            }
            if interest.chaincodes.iter().any(|c| c.name.is_empty()) {
                return error_result("chaincode name in interest cannot be empty");
            }
        }
        let mut content = Vec::new();
        for interest in interests {
            match descriptor(self.support.as_ref(), channel, interest) {
                Ok(d) => content.push(d.to_proto(channel)),
                Err(e) => {
                    tracing::debug!(channel, error = %e, "no endorsement descriptor");
                    return error_result(format!(
                        "failed constructing descriptor for chaincodes:<{}>",
                        interest
                            .chaincodes
                            .iter()
                            .map(|c| format!("name:\"{}\"", c.name))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                }
            }
        }
        QueryResult {
            result: Some(query_result::Result::CcQueryRes(ChaincodeQueryResult {
                content,
            })),
        }
    }
}

#[tonic::async_trait]
impl Discovery for DiscoveryService {
    async fn discover(
        &self,
        request: Request<SignedRequest>,
    ) -> Result<Response<DiscoveryResponse>, Status> {
        let hash = weft_comm::PeerInfo::client_cert_hash(&request);
        DiscoveryService::discover(self, request.get_ref(), hash).map(Response::new)
    }
}
