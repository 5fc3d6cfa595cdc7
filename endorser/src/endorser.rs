//! `protos.Endorser/ProcessProposal`: checks a signed proposal, simulates it and answers with
//! a signed proposal response, following Fabric's endorser step by step (F25
//! core/endorser/endorser.go `ProcessProposal`, `preProcess`,
//! `ProcessProposalSuccessfullyOrError`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fabric_protos::protos::{
    ChaincodeAction, ChaincodeId, ChaincodeInterest, Endorsement, ProposalResponse,
    ProposalResponsePayload, Response as ResponseProto, SignedProposal,
};
use prost::Message;
use weft_chaincode_api::{ERROR, ERROR_THRESHOLD, Response};
use weft_msp::{IdentityDeserializer, SigningIdentity};
use weft_policy::api::SignedData;

use crate::error::{ProposalRejected, error_response};
use crate::interest::chaincode_interest;
use crate::invoke::Invoker;
use crate::proposal::UnpackedProposal;
use crate::simulator::{SimulationOutput, TxSimulator};
use crate::stub::{LEGACY_LSCC_NAMESPACE, TxContext, event_bytes};
use crate::support::{
    ChaincodeRegistry, ChannelSource, ChannelSupport, DEFAULT_ENDORSEMENT_PLUGIN, PEER_PROPOSE,
};

/// Chaincode-to-chaincode calls may nest this deep below the proposal's chaincode.
pub const CALL_DEPTH_MAX: usize = 8;
/// Fabric's default `chaincode.executetimeout` (core.yaml).
pub const EXECUTE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// Fabric's default `chaincode.installTimeout` (core.yaml).
pub const INSTALL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(300);

/// Endorser settings.
#[derive(Debug, Clone)]
pub struct EndorserConfig {
    /// Refuse proposals whose channel-header timestamp is further than this from the peer's
    /// clock. Fabric's endorser has no such check, so the default is `None`.
    pub timestamp_window: Option<Duration>,
    /// How long one simulation may run (Go's `chaincode.executetimeout`).
    pub execute_timeout: Duration,
    /// How long `_lifecycle` InstallChaincode may run if longer than `execute_timeout`
    /// (Go's `chaincode.installTimeout`).
    pub install_timeout: Duration,
    /// Deepest chain of chaincode-to-chaincode calls.
    pub call_depth_max: usize,
}

impl Default for EndorserConfig {
    fn default() -> Self {
        EndorserConfig {
            timestamp_window: None,
            execute_timeout: EXECUTE_TIMEOUT_DEFAULT,
            install_timeout: INSTALL_TIMEOUT_DEFAULT,
            call_depth_max: CALL_DEPTH_MAX,
        }
    }
}

/// The peer's endorser. Cheap to clone; share one per node.
#[derive(Clone)]
pub struct Endorser {
    inner: Arc<Inner>,
}

struct Inner {
    invoker: Invoker,
    local_msp: Arc<dyn IdentityDeserializer>,
    signer: Arc<dyn SigningIdentity>,
    config: EndorserConfig,
}

impl Endorser {
    /// `local_msp` checks channel-less proposals; `signer` is the peer's signing identity.
    pub fn new(
        channels: Arc<dyn ChannelSource>,
        chaincodes: Arc<dyn ChaincodeRegistry>,
        local_msp: Arc<dyn IdentityDeserializer>,
        signer: Arc<dyn SigningIdentity>,
        config: EndorserConfig,
    ) -> Self {
        let invoker = Invoker {
            channels,
            registry: chaincodes,
            call_depth_max: config.call_depth_max,
        };
        Endorser {
            inner: Arc::new(Inner {
                invoker,
                local_msp,
                signer,
                config,
            }),
        }
    }

    /// Processes a proposal and always answers with a response: a rejected proposal becomes a
    /// status-500 response carrying Go's message.
    pub async fn process_proposal(&self, signed: SignedProposal) -> ProposalResponse {
        match self.process(signed).await {
            Ok(response) => response,
            Err(rejected) => rejected.to_response(),
        }
    }

    /// Processes a proposal the way Go's gRPC handler answers: `Err` where Go returns a gRPC
    /// error (send `tonic::Status::unknown(rejected.message)`), `Ok` otherwise, including
    /// status-500 responses for failed simulations.
    pub async fn process(
        &self,
        signed: SignedProposal,
    ) -> Result<ProposalResponse, ProposalRejected> {
        let up = UnpackedProposal::unpack(signed)?;
        let channel = if up.channel_id().is_empty() {
            None
        } else {
            match self.inner.invoker.channels.channel(up.channel_id()) {
                Some(channel) => Some(channel),
                None => {
                    return Ok(error_response(&format!(
                        "channel '{}' not found",
                        up.channel_id()
                    )));
                }
            }
        };
        self.pre_process(&up, channel.as_deref())?;

        let inner = Arc::clone(&self.inner);
        let timeout = self.timeout_for(&up);
        let tx_id = up.tx_id().to_owned();
        let task = tokio::task::spawn_blocking(move || inner.endorse(up, channel));
        let outcome = match tokio::time::timeout(timeout, task).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(join)) => Err(format!(
                "error in simulation: failed to execute transaction {tx_id}: chaincode execution failed: {join}"
            )),
            // The simulation keeps its blocking thread until the chaincode returns (the WASM
            // runtime bounds that with fuel); its result is dropped.
            Err(_) => Err(format!(
                "error in simulation: failed to execute transaction {tx_id}: error sending: timeout expired while executing transaction"
            )),
        };
        Ok(outcome.unwrap_or_else(|message| {
            tracing::warn!(%message, "failed to invoke chaincode");
            error_response(&message)
        }))
    }

    /// Go gives `_lifecycle` InstallChaincode the longer of the install and execute timeouts
    /// (F25 core/chaincode/chaincode_support.go executeTimeout).
    fn timeout_for(&self, up: &UnpackedProposal) -> Duration {
        let config = &self.inner.config;
        let is_install = up.chaincode_name == "_lifecycle"
            && up.input.args.first().map(Vec::as_slice) == Some(b"InstallChaincode".as_slice());
        if is_install {
            config.execute_timeout.max(config.install_timeout)
        } else {
            config.execute_timeout
        }
    }

    /// Header, signature, duplicate and ACL checks (Go's `preProcess`).
    fn pre_process(
        &self,
        up: &UnpackedProposal,
        channel: Option<&dyn ChannelSupport>,
    ) -> Result<(), ProposalRejected> {
        let identities = match channel {
            Some(channel) => channel.identity_deserializer(),
            None => Arc::clone(&self.inner.local_msp),
        };
        up.validate(identities.as_ref()).map_err(|e| {
            ProposalRejected::new(format!("error validating proposal: {}", e.message))
        })?;
        if let Some(window) = self.inner.config.timestamp_window {
            check_timestamp(up, window)?;
        }
        let Some(channel) = channel else {
            // Channel-less proposals cannot become transactions; only the local MSP checks
            // them, and the system chaincode applies its own ACL.
            return Ok(());
        };
        if let Ok(true) = channel.transaction_exists(up.tx_id()) {
            return Err(ProposalRejected::new(format!(
                "duplicate transaction found [{}]. Creator [{}]",
                up.tx_id(),
                hex::encode(up.creator())
            )));
        }
        if !self
            .inner
            .invoker
            .registry
            .is_system_chaincode(&up.chaincode_name)
        {
            let signed = SignedData {
                data: up.signed.proposal_bytes.clone(),
                identity: up.creator().to_vec(),
                signature: up.signed.signature.clone(),
            };
            channel
                .check_acl(PEER_PROPOSE, &signed)
                .map_err(ProposalRejected::new)?;
        }
        Ok(())
    }
}

/// Refuses proposals stamped too far from the peer's clock.
fn check_timestamp(up: &UnpackedProposal, window: Duration) -> Result<(), ProposalRejected> {
    let Some(ts) = &up.channel_header.timestamp else {
        return Err(ProposalRejected::new(
            "proposal has no timestamp; this peer requires one within its timestamp window",
        ));
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let stamped = ts.seconds as f64 + f64::from(ts.nanos) / 1e9;
    if (now - stamped).abs() > window.as_secs_f64() {
        return Err(ProposalRejected::new(format!(
            "proposal timestamp {}s is more than {}s away from the peer's clock; check the client's clock",
            ts.seconds,
            window.as_secs()
        )));
    }
    Ok(())
}

/// Go's simulator-less system chaincodes: they read the ledger themselves.
fn needs_simulator(channel_id: &str, chaincode: &str) -> bool {
    !channel_id.is_empty() && chaincode != "qscc" && chaincode != "cscc"
}

fn to_proto(response: &Response) -> ResponseProto {
    ResponseProto {
        status: response.status,
        message: response.message.clone(),
        payload: response.payload.clone(),
    }
}

/// The binding a chaincode can check: SHA-256 over nonce, creator and the epoch as 8
/// little-endian bytes, as Fabric's Go shim computes it (fabric-chaincode-go shim/stub.go).
pub fn proposal_binding(nonce: &[u8], creator: &[u8], epoch: u64) -> Vec<u8> {
    let mut data = Vec::with_capacity(nonce.len() + creator.len() + 8);
    data.extend_from_slice(nonce);
    data.extend_from_slice(creator);
    data.extend_from_slice(&epoch.to_le_bytes());
    weft_protoutil::sha256(&data).to_vec()
}

/// What every chaincode of the transaction sees of the proposal.
fn tx_context(up: &UnpackedProposal, channel: Option<Arc<dyn ChannelSupport>>) -> TxContext {
    TxContext {
        channel_id: up.channel_id().to_owned(),
        tx_id: up.tx_id().to_owned(),
        creator: up.creator().to_vec(),
        transient: up.transient.clone(),
        signed_proposal_bytes: up.signed.encode_to_vec(),
        signed_proposal: up.signed.clone(),
        timestamp: up
            .channel_header
            .timestamp
            .as_ref()
            .map(|t| (t.seconds, t.nanos))
            .unwrap_or_default(),
        binding: proposal_binding(
            &up.signature_header.nonce,
            up.creator(),
            up.channel_header.epoch,
        ),
        channel,
    }
}

impl Inner {
    /// Simulates and endorses (Go's `ProcessProposalSuccessfullyOrError`); runs on a
    /// blocking thread because chaincodes are synchronous.
    fn endorse(
        &self,
        up: UnpackedProposal,
        channel: Option<Arc<dyn ChannelSupport>>,
    ) -> Result<ProposalResponse, String> {
        let channel_id = up.channel_id().to_owned();
        let tx_id = up.tx_id().to_owned();
        let name = up.chaincode_name.clone();
        let mut sim = match &channel {
            Some(channel) if needs_simulator(&channel_id, &name) => {
                Some(TxSimulator::new(&tx_id, channel.simulation_state()?))
            }
            _ => None,
        };
        let tx = tx_context(&up, channel.clone());
        let definition = self
            .invoker
            .definition(&tx, &name, sim.as_mut())
            .map_err(|e| {
                format!(
                    "make sure the chaincode {name} has been successfully defined on channel {channel_id} and try again: {e}"
                )
            })?;

        let mut stack = Vec::new();
        let (response, event) = self
            .invoker
            .invoke(
                &tx,
                &name,
                up.input.args.clone(),
                up.input.is_init,
                sim.as_mut(),
                &mut stack,
            )
            .map_err(|e| {
                format!(
                    "error in simulation: failed to execute transaction {tx_id}: {}",
                    e.0
                )
            })?;
        // Go drops the event of a failed invocation but keeps its read-write set.
        let event = if response.status >= ERROR_THRESHOLD {
            None
        } else {
            event
        };
        let output = sim.map(TxSimulator::finish).unwrap_or_default();
        if let (Some(private), Some(channel)) = (&output.results.private, &channel) {
            channel
                .distribute_private_data(&tx_id, private)
                .map_err(|e| format!("error in simulation: {e}"))?;
        }
        let registry = &self.invoker.registry;
        // Go's built-in system chaincodes include the legacy `lscc`, whose namespace
        // `_lifecycle` reads; none of them is an interest.
        let interest = chaincode_interest(&output, |ns| {
            ns == LEGACY_LSCC_NAMESPACE || registry.is_system_chaincode(ns)
        })?;
        let payload =
            response_payload(&up, &response, &output, event.as_ref(), &definition.version);
        self.answer(
            &channel_id,
            &response,
            payload,
            interest,
            &definition.endorsement_plugin,
        )
    }

    /// Go's answer by outcome: a failed chaincode (status >= 500) gets response, payload and
    /// interest but no endorsement; a channel-less proposal or a client error (400..500) only
    /// the response; success is endorsed.
    fn answer(
        &self,
        channel_id: &str,
        response: &Response,
        payload: Vec<u8>,
        interest: ChaincodeInterest,
        plugin: &str,
    ) -> Result<ProposalResponse, String> {
        let response_proto = Some(to_proto(response));
        if response.status >= ERROR {
            return Ok(ProposalResponse {
                response: response_proto,
                payload,
                interest: Some(interest),
                ..Default::default()
            });
        }
        if channel_id.is_empty() || response.status >= ERROR_THRESHOLD {
            return Ok(ProposalResponse {
                response: response_proto,
                ..Default::default()
            });
        }
        let endorsement = self
            .endorse_with_plugin(plugin, &payload)
            .map_err(|e| format!("endorsing with plugin failed: {e}"))?;
        Ok(ProposalResponse {
            version: 1,
            response: response_proto,
            payload,
            endorsement: Some(endorsement),
            interest: Some(interest),
            ..Default::default()
        })
    }

    /// Fabric's built-in `escc`: the peer signs the payload followed by its serialized
    /// identity (F25 core/handlers/endorsement/builtin/default_endorsement.go).
    fn endorse_with_plugin(&self, plugin: &str, payload: &[u8]) -> Result<Endorsement, String> {
        if plugin != DEFAULT_ENDORSEMENT_PLUGIN {
            return Err(format!("plugin with name {plugin} wasn't found"));
        }
        let endorser = self.signer.serialize();
        let mut message = Vec::with_capacity(payload.len() + endorser.len());
        message.extend_from_slice(payload);
        message.extend_from_slice(&endorser);
        let signature = self
            .signer
            .sign(&message)
            .map_err(|e| format!("could not sign the proposal response payload: {e}"))?;
        Ok(Endorsement {
            endorser,
            signature,
        })
    }
}

/// `ProposalResponsePayload{proposal_hash, extension = ChaincodeAction}` bytes, as Go's
/// `protoutil.GetBytesProposalResponsePayload` builds them.
fn response_payload(
    up: &UnpackedProposal,
    response: &Response,
    output: &SimulationOutput,
    event: Option<&fabric_protos::protos::ChaincodeEvent>,
    version: &str,
) -> Vec<u8> {
    let action = ChaincodeAction {
        results: output.results.public_bytes(),
        events: event_bytes(event),
        response: Some(to_proto(response)),
        chaincode_id: Some(ChaincodeId {
            name: up.chaincode_name.clone(),
            version: version.to_owned(),
            path: String::new(),
        }),
    };
    ProposalResponsePayload {
        proposal_hash: up.proposal_hash.clone(),
        extension: action.encode_to_vec(),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_hashes_nonce_creator_and_little_endian_epoch() {
        let mut data = b"nonce".to_vec();
        data.extend_from_slice(b"creator");
        data.extend_from_slice(&[1, 2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            proposal_binding(b"nonce", b"creator", 0x0201),
            weft_protoutil::sha256(&data).to_vec()
        );
    }

    #[test]
    fn only_qscc_and_cscc_run_without_a_simulator() {
        assert!(needs_simulator("ch", "mycc"));
        assert!(needs_simulator("ch", "_lifecycle"));
        assert!(!needs_simulator("ch", "qscc"));
        assert!(!needs_simulator("ch", "cscc"));
        assert!(!needs_simulator("", "mycc"));
    }
}
