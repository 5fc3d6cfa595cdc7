//! Broadcast message processing without the transport: Fabric's `StandardChannel` processor
//! (`orderer/common/msgprocessor`) and the status mapping of the Broadcast handler
//! (`orderer/common/broadcast/broadcast.go`).
//!
//! An envelope goes through:
//! 1. its channel header (undecodable -> BAD_REQUEST "could not determine channel ID");
//! 2. the channel lookup (unknown channel -> BAD_REQUEST: without a system channel, 2.5
//!    orderers refuse channel creation by Broadcast);
//! 3. classification: CONFIG_UPDATE is a config update, CONFIG and ORDERER_TRANSACTION are
//!    refused (BAD_REQUEST), every other header type is a normal message;
//! 4. the channel's filters, in Fabric's order: empty payload, size against
//!    `AbsoluteMaxBytes`, signer certificate expiry (when the orderer capability asks for it and
//!    the node does not disable it), then the signature against `/Channel/Writers`
//!    (`/Channel/Orderer/Writers` in maintenance mode).
//!
//! Size, expiry and malformed-message rejections are BAD_REQUEST, a failed policy FORBIDDEN, a
//! normal message in maintenance mode SERVICE_UNAVAILABLE, exactly as Fabric's `ClassifyError`.
//! A config update is then authorized by configtx, wrapped into a CONFIG envelope signed by
//! this orderer, and that envelope passes the filters again and the maintenance rules
//! ([`crate::maintenance`]).

use std::time::SystemTime;

use fabric_protos::common::{
    ChannelHeader, ConfigEnvelope, Envelope, Header, HeaderType, Payload, SignatureHeader, Status,
};
use fabric_protos::orderer::BroadcastResponse;
use fabric_protos::orderer::consensus_type::State as ConsensusState;
use prost::Message;
use weft_channelconfig::{ChannelBundle, OrdererConfig};
use weft_msp::SigningIdentity;
use weft_policy::SignedData;

use crate::blockwriter::new_signature_header;

/// Policy a normal channel's writers must satisfy.
pub const CHANNEL_WRITERS: &str = "/Channel/Writers";
/// Policy that replaces [`CHANNEL_WRITERS`] while the channel is in maintenance mode.
pub const CHANNEL_ORDERER_WRITERS: &str = "/Channel/Orderer/Writers";
/// Policy for Deliver clients.
pub const CHANNEL_READERS: &str = "/Channel/Readers";
/// Policy that replaces [`CHANNEL_READERS`] while the channel is in maintenance mode.
pub const CHANNEL_ORDERER_READERS: &str = "/Channel/Orderer/Readers";

/// Why an envelope was refused, with the status and text Fabric puts in the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: Status,
    pub info: String,
}

impl Rejection {
    fn new(status: Status, info: impl Into<String>) -> Self {
        Self {
            status,
            info: info.into(),
        }
    }

    fn bad_request(info: impl Into<String>) -> Self {
        Self::new(Status::BadRequest, info)
    }

    /// Prefixes the text as Go's `errors.WithMessage` does, keeping the status.
    fn context(self, prefix: &str) -> Self {
        Self::new(self.status, format!("{prefix}: {}", self.info))
    }

    pub fn to_response(&self) -> BroadcastResponse {
        BroadcastResponse {
            status: self.status as i32,
            info: self.info.clone(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_str_name(), self.info)
    }
}

/// What to do with an accepted envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// Order the envelope as is; `config_sequence` is the config it was checked against
    /// (consensus re-checks it if the config changed meanwhile).
    Normal { config_sequence: u64 },
    /// Order `config` (a CONFIG envelope signed by this orderer) in a block of its own.
    ConfigUpdate {
        config: Envelope,
        config_sequence: u64,
    },
}

impl Accepted {
    pub fn response() -> BroadcastResponse {
        BroadcastResponse {
            status: Status::Success as i32,
            info: String::new(),
        }
    }
}

/// How an envelope is handled, from its header type (Fabric's `ClassifyMsg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    Normal,
    ConfigUpdate,
    Config,
}

pub fn classify(channel_header: &ChannelHeader) -> Classification {
    match HeaderType::try_from(channel_header.r#type) {
        Ok(HeaderType::ConfigUpdate) => Classification::ConfigUpdate,
        Ok(HeaderType::Config | HeaderType::OrdererTransaction) => Classification::Config,
        _ => Classification::Normal,
    }
}

/// The channel header of an envelope, as Fabric's `protoutil.ChannelHeader` finds it.
pub fn channel_header(envelope: &Envelope) -> Result<ChannelHeader, String> {
    let payload = weft_protoutil::decode::<Payload>("Payload", &envelope.payload)
        .map_err(|e| e.to_string())?;
    let header = payload.header.ok_or("header not set")?;
    weft_protoutil::decode::<ChannelHeader>("ChannelHeader", &header.channel_header)
        .map_err(|e| format!("error unmarshalling channel header: {e}"))
}

/// The single signed data of an envelope (Fabric's `EnvelopeAsSignedData`).
pub fn envelope_signed_data(envelope: &Envelope) -> Result<SignedData, String> {
    let payload = weft_protoutil::decode::<Payload>("Payload", &envelope.payload)
        .map_err(|e| e.to_string())?;
    let header = payload.header.ok_or("Missing Header")?;
    let signature_header =
        weft_protoutil::decode::<SignatureHeader>("SignatureHeader", &header.signature_header)
            .map_err(|e| format!("GetSignatureHeaderFromBytes failed, err {e}"))?;
    Ok(SignedData {
        data: envelope.payload.clone(),
        identity: signature_header.creator,
        signature: envelope.signature.clone(),
    })
}

/// Node-level switches of the filters (from `orderer.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FilterOptions {
    /// `General.Authentication.NoExpirationChecks`.
    pub no_expiration_checks: bool,
}

/// One channel's Broadcast processor: its current config and this orderer's identity.
pub struct StandardChannel<'a> {
    bundle: &'a ChannelBundle,
    signer: &'a dyn SigningIdentity,
    options: FilterOptions,
}

impl<'a> StandardChannel<'a> {
    pub fn new(
        bundle: &'a ChannelBundle,
        signer: &'a dyn SigningIdentity,
        options: FilterOptions,
    ) -> Self {
        Self {
            bundle,
            signer,
            options,
        }
    }

    fn orderer(&self) -> Result<&OrdererConfig, Rejection> {
        // A channel an orderer serves always has an orderer section; a config without one
        // cannot be ordered, which Fabric treats as a programming error.
        self.bundle.orderer().ok_or_else(|| {
            Rejection::new(
                Status::InternalServerError,
                "channel config has no orderer section",
            )
        })
    }

    fn in_maintenance(&self) -> Result<bool, Rejection> {
        Ok(self.orderer()?.consensus_state() == Some(ConsensusState::Maintenance))
    }

    /// Checks a normal message (Fabric's `ProcessNormalMsg`).
    pub fn process_normal(&self, envelope: &Envelope, now: SystemTime) -> Result<u64, Rejection> {
        let orderer = self.orderer()?;
        if orderer.capabilities.consensus_type_migration()
            && orderer.consensus_state() != Some(ConsensusState::Normal)
        {
            return Err(Rejection::new(
                Status::ServiceUnavailable,
                "normal transactions are rejected: maintenance mode",
            ));
        }
        let sequence = self.bundle.sequence();
        self.apply_filters(envelope, now)?;
        Ok(sequence)
    }

    /// Checks and authorizes a CONFIG_UPDATE and wraps the resulting config into a CONFIG
    /// envelope signed by this orderer (Fabric's `ProcessConfigUpdateMsg`).
    pub fn process_config_update(
        &self,
        envelope: &Envelope,
        now: SystemTime,
    ) -> Result<(Envelope, u64), Rejection> {
        let sequence = self.bundle.sequence();
        self.apply_filters(envelope, now).map_err(|r| {
            r.context("config update for existing channel did not pass initial checks")
        })?;
        let config_envelope = self.bundle.propose_config_update(envelope).map_err(|e| {
            Rejection::bad_request(format!(
                "error applying config update to existing channel '{}': {e}",
                self.bundle.channel_id()
            ))
        })?;
        let config = self.signed_config_envelope(&config_envelope, now)?;
        self.apply_filters(&config, now).map_err(|r| {
            r.context("config update for existing channel did not pass final checks")
        })?;
        crate::maintenance::check_config_envelope(
            self.bundle.channel_id(),
            self.orderer()?,
            &config,
        )
        .map_err(|e| {
            Rejection::bad_request(format!(
                "config update for existing channel did not pass maintenance checks: {e}"
            ))
        })?;
        Ok((config, sequence))
    }

    /// A CONFIG envelope carrying `config_envelope`, signed by this orderer (Fabric's
    /// `CreateSignedEnvelope` with message version 0 and epoch 0).
    fn signed_config_envelope(
        &self,
        config_envelope: &ConfigEnvelope,
        now: SystemTime,
    ) -> Result<Envelope, Rejection> {
        let internal = |e: String| Rejection::new(Status::InternalServerError, e);
        let seconds = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let channel_header = ChannelHeader {
            r#type: HeaderType::Config as i32,
            version: 0,
            timestamp: Some(prost_types::Timestamp { seconds, nanos: 0 }),
            channel_id: self.bundle.channel_id().to_string(),
            epoch: 0,
            ..Default::default()
        };
        let signature_header =
            new_signature_header(self.signer).map_err(|e| internal(e.to_string()))?;
        let payload = Payload {
            header: Some(Header {
                channel_header: channel_header.encode_to_vec(),
                signature_header: signature_header.encode_to_vec(),
            }),
            data: config_envelope.encode_to_vec(),
        }
        .encode_to_vec();
        let signature = self
            .signer
            .sign(&payload)
            .map_err(|e| internal(format!("signing the config envelope failed: {e}")))?;
        Ok(Envelope { payload, signature })
    }

    /// The rule set of a standard channel, in Fabric's order.
    fn apply_filters(&self, envelope: &Envelope, now: SystemTime) -> Result<(), Rejection> {
        if envelope.payload.is_empty() {
            return Err(Rejection::bad_request("Message was empty"));
        }
        let orderer = self.orderer()?;
        let max_bytes = u64::from(orderer.batch_size.absolute_max_bytes);
        let size = crate::blockcutter::message_size_bytes(envelope);
        if size > max_bytes {
            return Err(Rejection::bad_request(format!(
                "message payload is {size} bytes and exceeds maximum allowed {max_bytes} bytes"
            )));
        }
        if !self.options.no_expiration_checks && orderer.capabilities.expiration_check() {
            let signed = envelope_signed_data(envelope).map_err(|e| {
                Rejection::bad_request(format!("could not convert message to signedData: {e}"))
            })?;
            if crate::expiry::is_expired(&signed.identity, now) {
                return Err(Rejection::bad_request("broadcast client identity expired"));
            }
        }
        let policy = if self.in_maintenance()? {
            CHANNEL_ORDERER_WRITERS
        } else {
            CHANNEL_WRITERS
        };
        check_signature_policy(self.bundle, envelope, policy)
    }
}

/// Evaluates `policy_name` over the envelope's signature (Fabric's `SigFilter`): malformed
/// envelopes and missing policies are BAD_REQUEST, a failed policy FORBIDDEN.
pub fn check_signature_policy(
    bundle: &ChannelBundle,
    envelope: &Envelope,
    policy_name: &str,
) -> Result<(), Rejection> {
    let signed = envelope_signed_data(envelope).map_err(|e| {
        Rejection::bad_request(format!("could not convert message to signedData: {e}"))
    })?;
    let policy = bundle
        .policy_manager()
        .get_policy(policy_name)
        .ok_or_else(|| Rejection::bad_request(format!("could not find policy {policy_name}")))?;
    policy
        .evaluate_signed_data(std::slice::from_ref(&signed))
        .map_err(|e| Rejection::new(Status::Forbidden, format!("{e}: permission denied")))
}

/// Processes one Broadcast envelope end to end (Fabric's `Handler.ProcessMessage` up to
/// ordering): `channel` finds the processor of a channel by ID. Returns the channel header
/// (for the caller's routing and metrics) with the decision.
pub fn process_broadcast<'a>(
    envelope: &Envelope,
    channel: impl FnOnce(&str) -> Option<StandardChannel<'a>>,
    now: SystemTime,
) -> Result<(ChannelHeader, Accepted), Rejection> {
    let header = channel_header(envelope)
        .map_err(|e| Rejection::bad_request(format!("could not determine channel ID: {e}")))?;
    let processor = channel(&header.channel_id).ok_or_else(|| {
        Rejection::bad_request(
            "channel creation request not allowed because the orderer system channel is not defined",
        )
    })?;
    let accepted = match classify(&header) {
        Classification::Config => {
            return Err(Rejection::bad_request(
                "message is of type that cannot be processed directly",
            ));
        }
        Classification::Normal => Accepted::Normal {
            config_sequence: processor.process_normal(envelope, now)?,
        },
        Classification::ConfigUpdate => {
            let (config, config_sequence) = processor.process_config_update(envelope, now)?;
            Accepted::ConfigUpdate {
                config,
                config_sequence,
            }
        }
    };
    Ok((header, accepted))
}
