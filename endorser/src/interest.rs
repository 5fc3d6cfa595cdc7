//! The chaincode interest a proposal response carries: which chaincodes, collections and
//! key-level policies must endorse the transaction, built from what the simulation read and
//! wrote as Go's endorser builds it (F25 core/endorser/endorser.go `buildChaincodeInterest`).
//! Gateways pass it to discovery to plan endorsements. Go iterates maps here, so its order is
//! random; Weft's is sorted.

use std::collections::BTreeMap;

use fabric_protos::common::SignaturePolicyEnvelope;
use fabric_protos::protos::{ChaincodeCall, ChaincodeInterest};
use prost::Message;
use weft_chaincode_api::VALIDATION_PARAMETER;

use crate::simulator::SimulationOutput;

/// Builds the interest; `is_system` names namespaces to leave out.
pub fn chaincode_interest(
    output: &SimulationOutput,
    is_system: impl Fn(&str) -> bool,
) -> Result<ChaincodeInterest, String> {
    // namespace -> collection ("" = public) -> whether the chaincode/collection policy applies.
    let mut required: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    let mut key_policies: BTreeMap<String, Vec<SignaturePolicyEnvelope>> = BTreeMap::new();
    for (ns, collections) in &output.writeset_metadata {
        let entry = required.entry(ns.clone()).or_default();
        entry.insert(String::new(), false);
        for (coll, keys) in collections {
            for metadata in keys.values() {
                match metadata.get(VALIDATION_PARAMETER) {
                    Some(bytes) => {
                        let policy =
                            SignaturePolicyEnvelope::decode(bytes.as_slice()).map_err(|e| {
                                format!("error unmarshalling SignaturePolicyEnvelope: {e}")
                            })?;
                        key_policies.entry(ns.clone()).or_default().push(policy);
                    }
                    None => {
                        entry.insert(coll.clone(), true);
                    }
                }
            }
        }
    }
    for ns in &output.results.public.ns_rwset {
        if is_system(&ns.namespace) {
            continue;
        }
        required
            .entry(ns.namespace.clone())
            .or_insert_with(|| BTreeMap::from([(String::new(), true)]));
    }
    for (ns, coll) in &output.private_reads {
        required
            .entry(ns.clone())
            .or_default()
            .insert(coll.clone(), true);
    }

    let mut interest = ChaincodeInterest::default();
    for (chaincode, collections) in &required {
        if is_system(chaincode) {
            continue;
        }
        let chaincode_policy = collections.get("").copied().unwrap_or(false);
        for collection in collections.keys() {
            let mut call = ChaincodeCall {
                name: chaincode.clone(),
                ..Default::default()
            };
            if collection.is_empty() {
                match key_policies.get(chaincode) {
                    Some(policies) if !policies.is_empty() => {
                        call.key_policies = policies.clone();
                        call.disregard_namespace_policy = !chaincode_policy;
                    }
                    _ if !chaincode_policy => continue,
                    _ => {}
                }
            } else {
                call.collection_names = vec![collection.clone()];
                call.no_private_reads = !output
                    .private_reads
                    .contains(&(chaincode.clone(), collection.clone()));
            }
            interest.chaincodes.push(call);
        }
    }
    Ok(interest)
}
