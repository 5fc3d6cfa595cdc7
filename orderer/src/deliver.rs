//! Deliver request evaluation without the transport (Fabric's `common/deliver`).
//!
//! A Deliver stream carries signed `DELIVER_SEEK_INFO` envelopes. For each one the server:
//! 1. parses the envelope: payload, channel header with a timestamp within the time window
//!    of the server clock, the TLS binding when mutual TLS is on, signature header
//!    (any failure: BAD_REQUEST) — [`parse_request`];
//! 2. finds the channel (NOT_FOUND), decodes the `SeekInfo` (BAD_REQUEST), refuses a chain
//!    in error unless the client asked for BEST_EFFORT (SERVICE_UNAVAILABLE);
//! 3. checks access with a [`SessionAccess`]: the signer's certificate must not have
//!    expired and the channel's Readers policy must accept the envelope, re-evaluated whenever
//!    the config sequence moves (FORBIDDEN);
//! 4. requires start and stop (BAD_REQUEST) and resolves them against the ledger height into a
//!    [`SeekCursor`] — Specified start beyond the height is NOT_FOUND, a Specified stop before
//!    the start BAD_REQUEST, newest..newest one block, FAIL_IF_NOT_READY beyond the height
//!    NOT_FOUND, otherwise the cursor waits for blocks; SUCCESS follows the stop block.
//!
//! [`open_session`] runs steps 1–4 over a [`DeliverChain`].

use std::time::{Duration, SystemTime};

use fabric_protos::common::{ChannelHeader, Envelope, Payload, SignatureHeader, Status};
use fabric_protos::orderer::seek_info::{SeekBehavior, SeekErrorResponse};
use fabric_protos::orderer::seek_position::Type as Position;
use fabric_protos::orderer::{SeekInfo, SeekPosition};
use weft_channelconfig::ChannelBundle;

use crate::broadcast::{
    CHANNEL_ORDERER_READERS, CHANNEL_READERS, check_signature_policy, envelope_signed_data,
};

/// Fabric's default `General.Authentication.TimeWindow`: how far a request's timestamp may be
/// from the server clock.
pub const DEFAULT_TIME_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Node-level Deliver settings (`orderer.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverOptions {
    pub time_window: Duration,
    /// Whether the server requires client certificates (then requests must carry the hash of
    /// the client's TLS certificate).
    pub mutual_tls: bool,
    /// `General.Authentication.NoExpirationChecks`.
    pub no_expiration_checks: bool,
}

impl Default for DeliverOptions {
    fn default() -> Self {
        Self {
            time_window: DEFAULT_TIME_WINDOW,
            mutual_tls: false,
            no_expiration_checks: false,
        }
    }
}

/// The parts of a Deliver envelope the server uses.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverRequest {
    pub channel_header: ChannelHeader,
    pub signature_header: SignatureHeader,
    /// The payload data: a marshalled `SeekInfo`.
    pub data: Vec<u8>,
}

/// Fabric's mutual-TLS binding: the request must name the SHA-256 of the client's TLS
/// certificate, and the connection must have presented that certificate.
pub fn check_tls_binding(claimed_hash: &[u8], actual_hash: Option<&[u8]>) -> Result<(), String> {
    if claimed_hash.is_empty() {
        return Err("client didn't include its TLS cert hash".into());
    }
    let actual = actual_hash
        .filter(|h| !h.is_empty())
        .ok_or("client didn't send a TLS certificate")?;
    if actual != claimed_hash {
        return Err(format!(
            "claimed TLS cert hash is {} but actual TLS cert hash is {}",
            hex_string(claimed_hash),
            hex_string(actual)
        ));
    }
    Ok(())
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_timestamp(
    header: &ChannelHeader,
    now: SystemTime,
    window: Duration,
) -> Result<(), String> {
    let ts = header
        .timestamp
        .as_ref()
        .ok_or("channel header in envelope must contain timestamp")?;
    let to_nanos = |t: SystemTime| match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    let request = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    if (to_nanos(now) - request).unsigned_abs() > window.as_nanos() {
        return Err(format!(
            "envelope timestamp {}s is more than {}s apart from current server time",
            ts.seconds,
            window.as_secs()
        ));
    }
    Ok(())
}

/// Step 1: decodes and checks a Deliver envelope. `client_cert_hash` is the SHA-256 of the
/// TLS certificate the client presented, if any. Errors are BAD_REQUEST (the text is for logs).
pub fn parse_request(
    envelope: &Envelope,
    now: SystemTime,
    options: &DeliverOptions,
    client_cert_hash: Option<&[u8]>,
) -> Result<DeliverRequest, String> {
    let payload = weft_protoutil::decode::<Payload>("Payload", &envelope.payload)
        .map_err(|e| e.to_string())?;
    let header = payload.header.ok_or("envelope has no header")?;
    let channel_header =
        weft_protoutil::decode::<ChannelHeader>("ChannelHeader", &header.channel_header)
            .map_err(|e| e.to_string())?;
    let signature_header =
        weft_protoutil::decode::<SignatureHeader>("SignatureHeader", &header.signature_header)
            .map_err(|e| e.to_string())?;
    check_timestamp(&channel_header, now, options.time_window)?;
    if options.mutual_tls {
        check_tls_binding(&channel_header.tls_cert_hash, client_cert_hash)?;
    }
    Ok(DeliverRequest {
        channel_header,
        signature_header,
        data: payload.data,
    })
}

/// Access control of one Deliver request over its stream (Fabric's `SessionAccessControl`):
/// the policy is evaluated on first use and again whenever the config sequence advances; the
/// signer's certificate expiry ends the session.
#[derive(Debug, Clone)]
pub struct SessionAccess {
    envelope: Envelope,
    session_end: Option<SystemTime>,
    last_sequence: u64,
    used: bool,
}

impl SessionAccess {
    /// Fails (BAD_REQUEST) if the envelope's signed data cannot be extracted.
    pub fn new(envelope: &Envelope, no_expiration_checks: bool) -> Result<Self, String> {
        let signed = envelope_signed_data(envelope)?;
        let session_end = if no_expiration_checks {
            None
        } else {
            crate::expiry::identity_expires_at(&signed.identity)
        };
        Ok(Self {
            envelope: envelope.clone(),
            session_end,
            last_sequence: 0,
            used: false,
        })
    }

    /// Checks access before a block is sent. `check` evaluates the channel's reader policy
    /// over the request envelope; it runs only when needed. Errors mean FORBIDDEN.
    pub fn evaluate(
        &mut self,
        now: SystemTime,
        config_sequence: u64,
        check: impl FnOnce(&Envelope) -> Result<(), String>,
    ) -> Result<(), String> {
        if let Some(end) = self.session_end
            && now > end
        {
            return Err("deliver client identity expired".into());
        }
        let mut needed = !self.used;
        if config_sequence > self.last_sequence {
            self.last_sequence = config_sequence;
            needed = true;
        }
        if !needed {
            return Ok(());
        }
        self.used = true;
        check(&self.envelope)
    }
}

/// The reader check an orderer applies to Deliver: `/Channel/Readers`, or
/// `/Channel/Orderer/Readers` in maintenance mode.
pub fn check_readers(bundle: &ChannelBundle, envelope: &Envelope) -> Result<(), String> {
    use fabric_protos::orderer::consensus_type::State;
    let maintenance = bundle
        .orderer()
        .is_some_and(|o| o.consensus_state() == Some(State::Maintenance));
    let policy = if maintenance {
        CHANNEL_ORDERER_READERS
    } else {
        CHANNEL_READERS
    };
    check_signature_policy(bundle, envelope, policy).map_err(|r| r.info)
}

/// Where a seek stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After sending this block.
    At(u64),
    /// Never: Fabric's loop only ends on a block numbered exactly like the stop, so a stop
    /// below the start (a Newest stop under a later start, or a stop without a position)
    /// streams until the client goes away.
    Never,
}

/// The resolved iteration of one `SeekInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeekCursor {
    next: u64,
    stop: Stop,
    fail_if_not_ready: bool,
    best_effort: bool,
}

/// What the server does next for a seek.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send block `n` (after re-checking access), then call [`SeekCursor::sent`].
    Send(u64),
    /// Wait until the ledger grows (or the chain errors, or the client leaves).
    Wait,
    /// End the request with this status.
    Finish(Status),
}

fn start_number(start: &SeekPosition, height: u64) -> Option<u64> {
    match start.r#type? {
        Position::Oldest(_) => Some(0),
        Position::Newest(_) => Some(height.saturating_sub(1)),
        Position::Specified(s) if s.number > height => None,
        Position::Specified(s) => Some(s.number),
        Position::NextCommit(_) => Some(height),
    }
}

impl SeekCursor {
    /// Resolves a `SeekInfo` against a ledger of `height` blocks (step 4). Errors are the
    /// status to return: BAD_REQUEST for a missing start or stop or a Specified stop before
    /// the start, NOT_FOUND for a start the ledger cannot serve.
    pub fn new(seek: &SeekInfo, height: u64) -> Result<Self, Status> {
        let (Some(start), Some(stop)) = (seek.start.as_ref(), seek.stop.as_ref()) else {
            return Err(Status::BadRequest);
        };
        // An unservable start yields Fabric's not-found iterator at position 0: the stop checks
        // below cannot fail and the first read reports NOT_FOUND.
        let Some(number) = start_number(start, height) else {
            return Err(Status::NotFound);
        };
        let stop_number = match stop.r#type {
            Some(Position::Oldest(_)) => number,
            Some(Position::Newest(_)) if start == stop => number,
            Some(Position::Newest(_)) => height.wrapping_sub(1),
            Some(Position::Specified(s)) if s.number < number => return Err(Status::BadRequest),
            Some(Position::Specified(s)) => s.number,
            Some(Position::NextCommit(_)) | None => 0,
        };
        let stop = if stop_number < number {
            Stop::Never
        } else {
            Stop::At(stop_number)
        };
        Ok(Self {
            next: number,
            stop,
            fail_if_not_ready: seek.behavior == SeekBehavior::FailIfNotReady as i32,
            best_effort: seek.error_response == SeekErrorResponse::BestEffort as i32,
        })
    }

    pub fn next_number(&self) -> u64 {
        self.next
    }

    pub fn stop(&self) -> Stop {
        self.stop
    }

    /// Whether the client accepts blocks while the chain is in error (BEST_EFFORT).
    pub fn best_effort(&self) -> bool {
        self.best_effort
    }

    /// The next step for a ledger of `height` blocks.
    pub fn step(&self, height: u64) -> Step {
        // Fabric compares with `height - 1` in unsigned arithmetic.
        if self.fail_if_not_ready && self.next > height.wrapping_sub(1) {
            return Step::Finish(Status::NotFound);
        }
        if self.next < height {
            Step::Send(self.next)
        } else {
            Step::Wait
        }
    }

    /// Records that block [`Self::next_number`] was sent; returns `Some(SUCCESS)` when it was
    /// the stop block.
    pub fn sent(&mut self) -> Option<Status> {
        let sent = self.next;
        self.next = self.next.saturating_add(1);
        (self.stop == Stop::At(sent)).then_some(Status::Success)
    }
}

/// What Deliver needs from a channel.
pub trait DeliverChain {
    fn height(&self) -> u64;
    /// Whether consensus reports the chain as failed.
    fn errored(&self) -> bool;
    fn config_sequence(&self) -> u64;
    /// Evaluates the reader policy over a request envelope ([`check_readers`] for an orderer).
    fn check_readers(&self, envelope: &Envelope) -> Result<(), String>;
}

/// A Deliver request that passed steps 1–4.
#[derive(Debug, Clone)]
pub struct DeliverSession {
    pub request: DeliverRequest,
    pub seek: SeekInfo,
    pub access: SessionAccess,
    pub cursor: SeekCursor,
}

/// A refused Deliver request: the status to send and why (for logs; Fabric sends no text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverRefusal {
    pub status: Status,
    pub reason: String,
}

fn refuse(status: Status, reason: impl Into<String>) -> DeliverRefusal {
    DeliverRefusal {
        status,
        reason: reason.into(),
    }
}

/// Steps 1–4 for one request envelope, in Fabric's order. `chain` finds a channel by ID.
pub fn open_session<'c, C: DeliverChain + 'c>(
    envelope: &Envelope,
    now: SystemTime,
    options: &DeliverOptions,
    client_cert_hash: Option<&[u8]>,
    chain: impl FnOnce(&str) -> Option<&'c C>,
) -> Result<(DeliverSession, &'c C), DeliverRefusal> {
    let request = parse_request(envelope, now, options, client_cert_hash)
        .map_err(|e| refuse(Status::BadRequest, e))?;
    let channel_id = request.channel_header.channel_id.as_str();
    let chain = chain(channel_id)
        .ok_or_else(|| refuse(Status::NotFound, format!("channel {channel_id} not found")))?;
    let seek = weft_protoutil::decode::<SeekInfo>("SeekInfo", &request.data)
        .map_err(|e| refuse(Status::BadRequest, e.to_string()))?;
    if seek.error_response != SeekErrorResponse::BestEffort as i32 && chain.errored() {
        return Err(refuse(Status::ServiceUnavailable, "chain is in error"));
    }
    let mut access = SessionAccess::new(envelope, options.no_expiration_checks)
        .map_err(|e| refuse(Status::BadRequest, e))?;
    access
        .evaluate(now, chain.config_sequence(), |env| chain.check_readers(env))
        .map_err(|e| refuse(Status::Forbidden, e))?;
    let cursor = SeekCursor::new(&seek, chain.height())
        .map_err(|status| refuse(status, "seek positions cannot be served"))?;
    Ok((
        DeliverSession {
            request,
            seek,
            access,
            cursor,
        },
        chain,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::orderer::{SeekNewest, SeekNextCommit, SeekOldest, SeekSpecified};

    fn oldest() -> SeekPosition {
        SeekPosition {
            r#type: Some(Position::Oldest(SeekOldest {})),
        }
    }
    fn newest() -> SeekPosition {
        SeekPosition {
            r#type: Some(Position::Newest(SeekNewest {})),
        }
    }
    fn at(number: u64) -> SeekPosition {
        SeekPosition {
            r#type: Some(Position::Specified(SeekSpecified { number })),
        }
    }
    fn next_commit() -> SeekPosition {
        SeekPosition {
            r#type: Some(Position::NextCommit(SeekNextCommit {})),
        }
    }

    fn seek(start: Option<SeekPosition>, stop: Option<SeekPosition>, fail: bool) -> SeekInfo {
        SeekInfo {
            start,
            stop,
            behavior: if fail {
                SeekBehavior::FailIfNotReady as i32
            } else {
                SeekBehavior::BlockUntilReady as i32
            },
            ..Default::default()
        }
    }

    /// Runs a cursor over a ledger of fixed `height`: the blocks sent, then how it ended
    /// (`Some(status)`, or `None` when it would wait for more blocks).
    fn run(cursor: &mut SeekCursor, height: u64) -> (Vec<u64>, Option<Status>) {
        let mut sent = Vec::new();
        for _ in 0..100 {
            match cursor.step(height) {
                Step::Send(n) => {
                    sent.push(n);
                    if let Some(status) = cursor.sent() {
                        return (sent, Some(status));
                    }
                }
                Step::Wait => return (sent, None),
                Step::Finish(status) => return (sent, Some(status)),
            }
        }
        (sent, None)
    }

    // Mirrors the cases of Fabric's deliver_test.go ("when seek info start/stop ...") and the
    // file ledger iterator's start resolution; the ledger has 5 blocks (0..=4).
    #[test]
    fn seek_table() {
        type Row = (
            &'static str,
            Option<SeekPosition>,
            Option<SeekPosition>,
            bool,
            Result<(Vec<u64>, Option<Status>), Status>,
        );
        let success = Some(Status::Success);
        let rows: Vec<Row> = vec![
            (
                "oldest..newest",
                Some(oldest()),
                Some(newest()),
                false,
                Ok(((0..5).collect(), success)),
            ),
            (
                "newest..newest is one block",
                Some(newest()),
                Some(newest()),
                false,
                Ok((vec![4], success)),
            ),
            (
                "oldest..oldest is block 0",
                Some(oldest()),
                Some(oldest()),
                false,
                Ok((vec![0], success)),
            ),
            (
                "specified..specified",
                Some(at(2)),
                Some(at(3)),
                false,
                Ok((vec![2, 3], success)),
            ),
            (
                "start after stop",
                Some(at(3)),
                Some(at(2)),
                false,
                Err(Status::BadRequest),
            ),
            (
                "missing start",
                None,
                Some(newest()),
                false,
                Err(Status::BadRequest),
            ),
            (
                "missing stop",
                Some(oldest()),
                None,
                false,
                Err(Status::BadRequest),
            ),
            (
                "start beyond height",
                Some(at(6)),
                Some(at(9)),
                false,
                Err(Status::NotFound),
            ),
            (
                "start beyond height wins over bad stop",
                Some(at(6)),
                Some(at(1)),
                false,
                Err(Status::NotFound),
            ),
            (
                "start at height waits",
                Some(at(5)),
                Some(at(5)),
                false,
                Ok((vec![], None)),
            ),
            (
                "stop beyond height sends then waits",
                Some(at(3)),
                Some(at(7)),
                false,
                Ok((vec![3, 4], None)),
            ),
            (
                "fail if not ready beyond height",
                Some(at(3)),
                Some(at(7)),
                true,
                Ok((vec![3, 4], Some(Status::NotFound))),
            ),
            (
                "fail if not ready at height",
                Some(at(5)),
                Some(at(5)),
                true,
                Ok((vec![], Some(Status::NotFound))),
            ),
            (
                "next commit waits for block 5",
                Some(next_commit()),
                Some(at(u64::MAX)),
                false,
                Ok((vec![], None)),
            ),
            (
                "start without position is not found",
                Some(SeekPosition::default()),
                Some(newest()),
                false,
                Err(Status::NotFound),
            ),
        ];
        for (name, start, stop, fail, want) in rows {
            let got = SeekCursor::new(&seek(start, stop, fail), 5).map(|mut c| run(&mut c, 5));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn newest_stop_below_later_start_never_ends() {
        // Fabric compares the stop with each sent block for equality only: a stop of
        // height-1 under a start at the height is never reached.
        let mut cursor = SeekCursor::new(&seek(Some(at(5)), Some(newest()), false), 5).unwrap();
        assert_eq!(cursor.stop(), Stop::Never);
        assert_eq!(run(&mut cursor, 8), (vec![5, 6, 7], None));
    }

    #[test]
    fn waiting_cursor_resumes_when_ledger_grows() {
        let mut cursor = SeekCursor::new(&seek(Some(newest()), Some(at(6)), false), 5).unwrap();
        assert_eq!(run(&mut cursor, 5), (vec![4], None));
        assert_eq!(run(&mut cursor, 6), (vec![5], None));
        assert_eq!(run(&mut cursor, 7), (vec![6], Some(Status::Success)));
    }

    #[test]
    fn best_effort_flag() {
        let mut info = seek(Some(oldest()), Some(newest()), false);
        assert!(!SeekCursor::new(&info, 1).unwrap().best_effort());
        info.error_response = SeekErrorResponse::BestEffort as i32;
        assert!(SeekCursor::new(&info, 1).unwrap().best_effort());
    }

    #[test]
    fn tls_binding() {
        // Mirrors Fabric's binding_test.go: missing claim, missing cert, mismatch, match.
        let hash = [7u8; 32];
        assert!(
            check_tls_binding(&[], Some(&hash))
                .unwrap_err()
                .contains("didn't include")
        );
        assert!(
            check_tls_binding(&hash, None)
                .unwrap_err()
                .contains("didn't send")
        );
        assert!(
            check_tls_binding(&hash, Some(&[8u8; 32]))
                .unwrap_err()
                .contains("claimed")
        );
        assert!(check_tls_binding(&hash, Some(&hash)).is_ok());
    }

    fn header_at(seconds: i64) -> ChannelHeader {
        ChannelHeader {
            timestamp: Some(prost_types::Timestamp { seconds, nanos: 0 }),
            ..Default::default()
        }
    }

    #[test]
    fn timestamp_window() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        let window = Duration::from_secs(900);
        assert!(check_timestamp(&header_at(10_000 - 900), now, window).is_ok());
        assert!(check_timestamp(&header_at(10_000 + 900), now, window).is_ok());
        assert!(check_timestamp(&header_at(10_000 - 901), now, window).is_err());
        assert!(check_timestamp(&header_at(10_000 + 901), now, window).is_err());
        assert!(check_timestamp(&ChannelHeader::default(), now, window).is_err());
    }

    #[test]
    fn session_access_rechecks_on_config_change_only() {
        let envelope = Envelope {
            payload: Payload {
                header: Some(fabric_protos::common::Header::default()),
                data: Vec::new(),
            }
            .encode_to_vec(),
            signature: Vec::new(),
        };
        let mut access = SessionAccess::new(&envelope, false).unwrap();
        let now = SystemTime::now();
        let calls = std::cell::Cell::new(0);
        let check = |_: &Envelope| {
            calls.set(calls.get() + 1);
            Ok(())
        };
        access.evaluate(now, 0, check).unwrap();
        access.evaluate(now, 0, check).unwrap();
        assert_eq!(calls.get(), 1, "policy evaluated once per config sequence");
        access.evaluate(now, 1, check).unwrap();
        assert_eq!(calls.get(), 2);
        let denied = access.evaluate(now, 2, |_| Err("no".into()));
        assert_eq!(denied, Err("no".to_string()));
    }

    use prost::Message;
}
