//! Endorsement policy checks of one namespace of a transaction, as Fabric's builtin v20
//! validation plugin makes them with state-based endorsement
//! (core/common/validation/statebased/{validator_keylevel.go, v20.go}):
//!
//! every key the transaction writes in the namespace (values, then metadata, then each
//! collection's hashed values, then each collection's hashed metadata) is checked against its
//! VALIDATION_PARAMETER if it has one; a key without one needs the collection's policy (when the
//! key is private and the collection names one) or else the chaincode's, each checked once. If
//! no policy at all was checked (a transaction that writes nothing in the namespace), the
//! chaincode's is.
//!
//! Policies and parameters are read from state and compiled before the parallel phase
//! ([`BlockPolicies`]), so the checks themselves touch no store.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use fabric_protos::common::SignaturePolicyEnvelope;
use fabric_protos::protos::{ApplicationPolicy, application_policy};
use prost::Message;
use weft_channelconfig::ChannelBundle;
use weft_ledger::kv::NsRwSet;
use weft_policy::{Policy, SignaturePolicy, SignedData};

/// A compiled policy, or why it could not be compiled (which fails any check against it, as
/// Fabric's evaluator returns an error for it).
pub type Compiled = Result<Arc<dyn Policy>, String>;

/// A key of a namespace: collection ("" for public state) and key (key hash when private).
pub type PolicyKey = (String, Vec<u8>);

/// The endorsement policy of a collection, compiled.
#[derive(Clone, Debug)]
pub enum CollectionEp {
    Policy(Compiled),
    ChaincodePolicy,
    Undefined,
}

/// Everything the checks of a block read from state, compiled once per block.
#[derive(Default)]
pub struct BlockPolicies {
    /// VALIDATION_PARAMETER of (namespace, collection, key), when the key has one.
    pub key_params: HashMap<(String, PolicyKey), Compiled>,
    /// Endorsement policy of (namespace, collection).
    pub collections: HashMap<(String, String), CollectionEp>,
}

/// Compiles a serialized `peer.ApplicationPolicy` against the channel config.
pub fn compile_application_policy(bytes: &[u8], bundle: &ChannelBundle) -> Compiled {
    let policy = ApplicationPolicy::decode(bytes)
        .map_err(|e| format!("cannot decode the ApplicationPolicy: {e}"))?;
    match policy.r#type {
        Some(application_policy::Type::SignaturePolicy(envelope)) => {
            compile_signature_policy(envelope, bundle)
        }
        Some(application_policy::Type::ChannelConfigPolicyReference(path)) => bundle
            .policy_manager()
            .get_policy(&path)
            .ok_or_else(|| format!("the channel config has no policy {path}")),
        None => Err("the ApplicationPolicy names no policy".into()),
    }
}

/// Compiles a signature policy envelope (a key's VALIDATION_PARAMETER).
pub fn compile_signature_policy(
    envelope: SignaturePolicyEnvelope,
    bundle: &ChannelBundle,
) -> Compiled {
    SignaturePolicy::from_envelope(envelope, Arc::clone(bundle.msp_manager()))
        .map(|p| Arc::new(p) as Arc<dyn Policy>)
        .map_err(|e| e.to_string())
}

/// The keys whose policies apply to `ns`, in Fabric's order.
pub fn policy_keys(ns: &NsRwSet) -> Vec<PolicyKey> {
    let public = ns
        .kv
        .writes
        .iter()
        .map(|w| &w.key)
        .chain(ns.kv.metadata_writes.iter().map(|w| &w.key))
        .map(|k| (String::new(), k.as_bytes().to_vec()));
    let hashed = ns.collections.iter().flat_map(|c| {
        c.hashed
            .hashed_writes
            .iter()
            .map(|w| (c.collection.clone(), w.key_hash.clone()))
    });
    let hashed_meta = ns.collections.iter().flat_map(|c| {
        c.hashed
            .metadata_writes
            .iter()
            .map(|w| (c.collection.clone(), w.key_hash.clone()))
    });
    public.chain(hashed).chain(hashed_meta).collect()
}

/// The keys of `ns` whose metadata (and so possibly VALIDATION_PARAMETER) the transaction
/// writes: what later transactions of the same block depend on.
pub fn metadata_keys(ns: &NsRwSet) -> impl Iterator<Item = PolicyKey> + '_ {
    let public = ns
        .kv
        .metadata_writes
        .iter()
        .map(|w| (String::new(), w.key.as_bytes().to_vec()));
    let hashed = ns.collections.iter().flat_map(|c| {
        c.hashed
            .metadata_writes
            .iter()
            .map(|w| (c.collection.clone(), w.key_hash.clone()))
    });
    public.chain(hashed)
}

fn satisfied(policy: &Compiled, signed: &[SignedData]) -> bool {
    match policy {
        Ok(policy) => policy.evaluate_signed_data(signed).is_ok(),
        Err(_) => false,
    }
}

/// Whether the endorsements `signed` satisfy the policies of namespace `ns` for the writes of
/// `rwset_ns` (`None` when the transaction has no read-write set for `ns`).
pub fn namespace_endorsed(
    ns: &str,
    rwset_ns: Option<&NsRwSet>,
    chaincode_ep: &Compiled,
    policies: &BlockPolicies,
    signed: &[SignedData],
) -> bool {
    let mut checked: BTreeSet<&str> = BTreeSet::new();
    let mut some_checked = false;
    let keys = rwset_ns.map(policy_keys).unwrap_or_default();
    for key in &keys {
        let lookup = (ns.to_owned(), key.clone());
        if let Some(param) = policies.key_params.get(&lookup) {
            if !satisfied(param, signed) {
                return false;
            }
            some_checked = true;
            continue;
        }
        let collection = key.0.as_str();
        if !collection.is_empty() && !checked.contains(collection) {
            let ep = policies
                .collections
                .get(&(ns.to_owned(), collection.to_owned()))
                .unwrap_or(&CollectionEp::ChaincodePolicy);
            match ep {
                CollectionEp::Undefined => return false,
                CollectionEp::Policy(policy) => {
                    if !satisfied(policy, signed) {
                        return false;
                    }
                    checked.insert(collection);
                    some_checked = true;
                    continue;
                }
                CollectionEp::ChaincodePolicy => {}
            }
        } else if !collection.is_empty() {
            continue;
        }
        if !checked.contains("") {
            if !satisfied(chaincode_ep, signed) {
                return false;
            }
            checked.insert("");
            some_checked = true;
        }
    }
    some_checked || satisfied(chaincode_ep, signed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::kvrwset::{HashedRwSet, KvWrite, KvWriteHash, KvrwSet};
    use weft_ledger::kv::CollHashedRwSet;
    use weft_policy::PolicyError;

    /// Satisfied when every required identity signed.
    #[derive(Debug)]
    struct Requires(Vec<&'static str>);

    impl Policy for Requires {
        fn evaluate_signed_data(&self, signed: &[SignedData]) -> Result<(), PolicyError> {
            let ok = self
                .0
                .iter()
                .all(|id| signed.iter().any(|s| s.identity == id.as_bytes()));
            ok.then_some(())
                .ok_or_else(|| PolicyError::NotSatisfied("missing signer".into()))
        }
    }

    fn requires(ids: &[&'static str]) -> Compiled {
        Ok(Arc::new(Requires(ids.to_vec())))
    }

    fn signed(ids: &[&str]) -> Vec<SignedData> {
        ids.iter()
            .map(|id| SignedData {
                data: vec![],
                identity: id.as_bytes().to_vec(),
                signature: vec![],
            })
            .collect()
    }

    fn ns(keys: &[&str], private: &[(&str, &[u8])]) -> NsRwSet {
        NsRwSet {
            namespace: "cc".into(),
            kv: KvrwSet {
                writes: keys
                    .iter()
                    .map(|k| KvWrite {
                        key: (*k).into(),
                        is_delete: false,
                        value: vec![1],
                    })
                    .collect(),
                ..Default::default()
            },
            collections: private
                .iter()
                .map(|(coll, hash)| CollHashedRwSet {
                    collection: (*coll).into(),
                    hashed: HashedRwSet {
                        hashed_writes: vec![KvWriteHash {
                            key_hash: hash.to_vec(),
                            is_delete: false,
                            value_hash: vec![2],
                            is_purge: false,
                        }],
                        ..Default::default()
                    },
                    pvt_rwset_hash: vec![],
                })
                .collect(),
        }
    }

    // Mirrors Fabric's policyCheckerV20 decisions (statebased/v20.go) for each combination of
    // key-level, collection and chaincode policies.
    #[test]
    fn which_policies_a_transaction_must_satisfy() {
        let mut policies = BlockPolicies::default();
        policies.key_params.insert(
            ("cc".into(), (String::new(), b"guarded".to_vec())),
            requires(&["B"]),
        );
        policies.collections.insert(
            ("cc".into(), "own".into()),
            CollectionEp::Policy(requires(&["C"])),
        );
        policies
            .collections
            .insert(("cc".into(), "plain".into()), CollectionEp::ChaincodePolicy);
        policies
            .collections
            .insert(("cc".into(), "missing".into()), CollectionEp::Undefined);
        let cc = requires(&["A"]);
        let check = |set: Option<&NsRwSet>, who: &[&str]| {
            namespace_endorsed("cc", set, &cc, &policies, &signed(who))
        };
        let cases: Vec<(NsRwSet, &[&str], bool)> = vec![
            // A key with a parameter needs only that parameter.
            (ns(&["guarded"], &[]), &["B"], true),
            (ns(&["guarded"], &[]), &["A"], false),
            // A key without one needs the chaincode policy as well.
            (ns(&["guarded", "free"], &[]), &["B"], false),
            (ns(&["guarded", "free"], &[]), &["A", "B"], true),
            // A collection with its own policy replaces the chaincode's for its keys.
            (ns(&[], &[("own", b"h")]), &["C"], true),
            (ns(&[], &[("own", b"h")]), &["A"], false),
            (ns(&[], &[("plain", b"h")]), &["A"], true),
            (ns(&[], &[("plain", b"h")]), &["C"], false),
            (ns(&[], &[("missing", b"h")]), &["A", "B", "C"], false),
            // Nothing written: the chaincode policy.
            (ns(&[], &[]), &["A"], true),
            (ns(&[], &[]), &["B"], false),
        ];
        for (i, (set, who, want)) in cases.iter().enumerate() {
            assert_eq!(check(Some(set), who), *want, "case {i}");
        }
        assert!(check(None, &["A"]));
        assert!(!check(None, &["C"]));
        // A policy that failed to compile is never satisfied.
        let broken: Compiled = Err("bad".into());
        assert!(!namespace_endorsed(
            "cc",
            None,
            &broken,
            &policies,
            &signed(&["A"])
        ));
    }
}
