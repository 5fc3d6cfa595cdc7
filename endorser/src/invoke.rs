//! Running a chaincode inside a transaction, as Fabric's chaincode support does (F25
//! core/chaincode/chaincode_support.go `Invoke`, `CheckInvocation`): look the definition up
//! through the simulator, enforce init-exactly-once, find the chaincode, run it on a stub.

use std::sync::Arc;

use fabric_protos::protos::ChaincodeEvent;
use weft_chaincode_api::{Response, StubError};

use crate::simulator::TxSimulator;
use crate::stub::{InvocationStub, TxContext};
use crate::support::{ChaincodeDefinition, ChaincodeRegistry, ChannelSource, StateQuery};

/// Fabric's key recording which chaincode version ran its init (F25
/// core/chaincode/chaincode_support.go `InitializedKeyName`).
pub const INITIALIZED_KEY: &str = "\u{0}\u{10FFFF}initialized";

/// A failed invocation; the message is worded as Go's chaincode support words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationError(pub String);

/// What the simulation of one chaincode returned.
pub type Invoked = (Response, Option<ChaincodeEvent>);

/// Runs chaincodes for the endorser and for chaincode-to-chaincode calls.
pub struct Invoker {
    pub channels: Arc<dyn ChannelSource>,
    pub registry: Arc<dyn ChaincodeRegistry>,
    /// Nested chaincode-to-chaincode calls allowed below the proposal's chaincode.
    pub call_depth_max: usize,
}

/// Stands in for a simulator where there is none (Go's `DummyQueryExecutorShim`).
struct NoState;

impl StateQuery for NoState {
    fn get_state(&mut self, _: &str, _: &str) -> Result<Option<Vec<u8>>, StubError> {
        Err(StubError::Unsupported(
            "invalid channel-less operation".to_owned(),
        ))
    }
}

impl Invoker {
    /// The definition of `name` on the transaction's channel (Go's `ChaincodeEndorsementInfo`).
    pub fn definition(
        &self,
        tx: &TxContext,
        name: &str,
        sim: Option<&mut TxSimulator>,
    ) -> Result<ChaincodeDefinition, String> {
        if self.registry.is_system_chaincode(name) {
            return Ok(ChaincodeDefinition::system(name));
        }
        let Some(channel) = &tx.channel else {
            return Err(format!(
                "could not get channel config for channel '{}'",
                tx.channel_id
            ));
        };
        match sim {
            Some(sim) => channel.chaincode_definition(name, sim),
            None => channel.chaincode_definition(name, &mut NoState),
        }
    }

    /// Invokes `name` with `args` on the transaction's channel, in `sim`.
    pub fn invoke(
        &self,
        tx: &TxContext,
        name: &str,
        args: Vec<Vec<u8>>,
        is_init: bool,
        mut sim: Option<&mut TxSimulator>,
        stack: &mut Vec<(String, String)>,
    ) -> Result<Invoked, InvocationError> {
        let definition = self
            .definition(tx, name, sim.as_deref_mut())
            .map_err(|e| {
                InvocationError(format!(
                    "invalid invocation: [channel {}] failed to get chaincode container info for {name}: {e}",
                    tx.channel_id
                ))
            })?;
        check_init(&definition, is_init, sim.as_deref_mut())
            .map_err(|e| InvocationError(format!("invalid invocation: {e}")))?;
        let chaincode = self
            .registry
            .chaincode(&tx.channel_id, &definition)
            .map_err(|e| {
                InvocationError(format!(
                    "could not launch chaincode {}: {e}",
                    definition.chaincode_id
                ))
            })?;
        let frame = (tx.channel_id.clone(), name.to_owned());
        if stack.contains(&frame) {
            // Go keeps one transaction context per chaincode and transaction, so a chaincode
            // re-entered in the same transaction fails to register it.
            return Err(InvocationError(format!(
                "error sending: txid: {}({}) exists",
                tx.tx_id, tx.channel_id
            )));
        }
        if stack.len() > self.call_depth_max {
            return Err(InvocationError(format!(
                "error sending: chaincode-to-chaincode calls are nested deeper than {}",
                self.call_depth_max
            )));
        }
        stack.push(frame);
        let mut stub = InvocationStub::new(tx, name, args, sim, self, stack.clone());
        stub.is_init = is_init;
        let response = chaincode.invoke(&mut stub);
        let event = stub.take_event();
        stack.pop();
        Ok((response, event))
    }

    /// A call to a chaincode on another channel: it runs in its own simulator on that
    /// channel, and whatever it writes is discarded (query only, as in Fabric).
    pub fn invoke_other_channel(
        &self,
        tx: &TxContext,
        channel_id: &str,
        name: &str,
        args: Vec<Vec<u8>>,
        stack: &mut Vec<(String, String)>,
    ) -> Result<Invoked, InvocationError> {
        let channel = self.channels.channel(channel_id).ok_or_else(|| {
            InvocationError(format!("failed to find ledger for channel: {channel_id}"))
        })?;
        let state = channel.simulation_state().map_err(InvocationError)?;
        let mut sim = TxSimulator::new(&tx.tx_id, state);
        let other = TxContext {
            channel_id: channel_id.to_owned(),
            channel: Some(channel),
            tx_id: tx.tx_id.clone(),
            creator: tx.creator.clone(),
            transient: tx.transient.clone(),
            signed_proposal: tx.signed_proposal.clone(),
            signed_proposal_bytes: tx.signed_proposal_bytes.clone(),
            timestamp: tx.timestamp,
            binding: tx.binding.clone(),
        };
        self.invoke(&other, name, args, false, Some(&mut sim), stack)
    }
}

/// Go's init-exactly-once rules for chaincodes defined with `--init-required`.
fn check_init(
    definition: &ChaincodeDefinition,
    is_init: bool,
    mut sim: Option<&mut TxSimulator>,
) -> Result<(), String> {
    let name = &definition.name;
    let mut needs_init = false;
    if definition.init_required {
        let sim = sim
            .as_deref_mut()
            .ok_or_else(|| "could not get 'initialized' key: no simulator".to_owned())?;
        let value = sim
            .get_state(name, INITIALIZED_KEY)
            .map_err(|e| format!("could not get 'initialized' key: {e}"))?;
        needs_init = value.map(|v| v.value).as_deref() != Some(definition.version.as_bytes());
    }
    if is_init {
        if !definition.init_required {
            return Err(format!(
                "chaincode '{name}' does not require initialization but called as init"
            ));
        }
        if !needs_init {
            return Err(format!(
                "chaincode '{name}' is already initialized but called as init"
            ));
        }
        if let Some(sim) = sim {
            sim.set_state(name, INITIALIZED_KEY, definition.version.as_bytes())
                .map_err(|e| format!("could not set 'initialized' key: {e}"))?;
        }
        return Ok(());
    }
    if needs_init {
        return Err(format!(
            "chaincode '{name}' has not been initialized for this version, must call as init first"
        ));
    }
    Ok(())
}
