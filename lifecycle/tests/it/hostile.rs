//! Garbage and mutated input never panics the package parser or the SCC: every call ends in a
//! response (network input is hostile).

use weft_lifecycle::package;

use crate::fake::{Ledger, Peer};
use crate::packages::wasm_package;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn mutated_packages_are_errors_not_panics() {
    let good = wasm_package("basic_1.0", &[7u8; 300]);
    assert!(package::parse_package(&good).is_ok());
    let mut rng = Rng(0x5eed);
    let mut rejected = 0;
    for _ in 0..2000 {
        let mut bytes = good.clone();
        for _ in 0..=rng.below(4) {
            let i = rng.below(bytes.len());
            bytes[i] ^= 1 << rng.below(8);
        }
        if rng.below(4) == 0 {
            bytes.truncate(rng.below(bytes.len()));
        }
        if package::parse_package(&bytes).is_err() {
            rejected += 1;
        }
        let _ = package::wasm_module(&bytes);
    }
    // Most flips hit the gzip stream and its CRC; the rest may still parse, which is fine.
    assert!(
        rejected > 1000,
        "only {rejected} of 2000 mutations were rejected"
    );
}

#[test]
fn garbage_arguments_get_error_responses() {
    let peer = Peer::new("Org1MSP");
    let ledger = Ledger::default();
    let functions = [
        "InstallChaincode",
        "QueryInstalledChaincode",
        "GetInstalledChaincodePackage",
        "QueryInstalledChaincodes",
        "ApproveChaincodeDefinitionForMyOrg",
        "QueryApprovedChaincodeDefinition",
        "CheckCommitReadiness",
        "CommitChaincodeDefinition",
        "QueryChaincodeDefinition",
        "QueryChaincodeDefinitions",
    ];
    let mut rng = Rng(42);
    for round in 0..400 {
        let function = functions[round % functions.len()];
        let len = rng.below(64);
        let arg = rng.bytes(len);
        let (response, _) = peer.call_raw(&ledger, vec![function.as_bytes().to_vec(), arg]);
        // Random bytes occasionally decode to a valid (empty-ish) request, which may succeed;
        // anything else must be a clean error.
        assert!(
            response.status == 200 || response.status == 404 || response.status == 500,
            "{function}: {response:?}"
        );
        if response.status != 200 {
            assert!(!response.message.is_empty());
        }
    }
}

#[test]
fn impossible_stored_sequences_are_errors_not_overflows() {
    use fabric_protos::lifecycle as lb;
    use prost::Message;
    let peer = Peer::new("Org1MSP");
    for stored in [i64::MAX, -1] {
        let mut ledger = Ledger::default();
        ledger.public.insert(
            "namespaces/fields/basic/Sequence".into(),
            lb::StateData {
                r#type: Some(lb::state_data::Type::Int64(stored)),
            }
            .encode_to_vec(),
        );
        let args = lb::CheckCommitReadinessArgs {
            sequence: 1,
            name: "basic".into(),
            version: "1".into(),
            ..Default::default()
        };
        let (response, _) = peer.call(&ledger, "CheckCommitReadiness", &args);
        assert_eq!(response.status, 500);
        assert!(
            response
                .message
                .contains("is not a sequence a commit can produce"),
            "{}",
            response.message
        );
    }
}
