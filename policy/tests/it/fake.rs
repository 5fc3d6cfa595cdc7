//! Fake identities: each satisfies ROLE principals from a table and accepts a signature only
//! when it equals `id || data`, so tests control both without certificates.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use fabric_protos::common::{MspPrincipal, MspRole, msp_principal, msp_role};
use prost::Message;
use weft_msp::{Identity, IdentityDeserializer, IdentityIdentifier, MspError};
use weft_policy::SignedData;

#[derive(Debug)]
pub struct FakeIdentity {
    /// What the deserializer maps to this identity; signatures are made over it.
    name: String,
    identifier: IdentityIdentifier,
    /// (MSP ID, role) pairs this identity satisfies.
    roles: BTreeSet<(String, i32)>,
    satisfies_calls: Arc<AtomicUsize>,
}

impl Identity for FakeIdentity {
    fn identifier(&self) -> &IdentityIdentifier {
        &self.identifier
    }
    fn validate(&self) -> Result<(), MspError> {
        Ok(())
    }
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), MspError> {
        if signature == good_signature(&self.name, message) {
            Ok(())
        } else {
            Err(MspError::BadSignature("fake signature mismatch".into()))
        }
    }
    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), MspError> {
        self.satisfies_calls.fetch_add(1, Ordering::SeqCst);
        if principal.principal_classification != msp_principal::Classification::Role as i32 {
            return Err(MspError::Unsupported("fake handles ROLE only".into()));
        }
        let role = MspRole::decode(principal.principal.as_slice())
            .map_err(|e| MspError::Malformed(e.to_string()))?;
        if self.roles.contains(&(role.msp_identifier, role.role)) {
            Ok(())
        } else {
            Err(MspError::PrincipalMismatch("not in table".into()))
        }
    }
    fn serialize(&self) -> Vec<u8> {
        self.name.as_bytes().to_vec()
    }
    fn expires_at(&self) -> Option<SystemTime> {
        None
    }
}

pub fn good_signature(id: &str, data: &[u8]) -> Vec<u8> {
    [id.as_bytes(), data].concat()
}

pub fn role_number(name: &str) -> i32 {
    msp_role::MspRoleType::from_str_name(&name.to_uppercase())
        .unwrap_or_else(|| panic!("unknown role {name}")) as i32
}

/// Deserializes identities by their name (the serialized bytes are the name).
#[derive(Debug, Default)]
pub struct FakeDeserializer {
    identities: BTreeMap<String, Arc<FakeIdentity>>,
    pub satisfies_calls: Arc<AtomicUsize>,
}

impl FakeDeserializer {
    /// `roles` like `["A.member", "A.peer"]`.
    pub fn add(&mut self, name: &str, msp_id: &str, roles: &[&str]) {
        self.add_with_id(name, msp_id, name, roles);
    }

    /// An identity with an explicit IdentityIdentifier id (two names with the same MSP ID and
    /// id are two encodings of the same identity).
    pub fn add_with_id(&mut self, name: &str, msp_id: &str, id: &str, roles: &[&str]) {
        let roles = roles
            .iter()
            .map(|r| {
                let (msp, role) = r.rsplit_once('.').expect("role as MSP.role");
                (msp.to_owned(), role_number(role))
            })
            .collect();
        self.identities.insert(
            name.to_owned(),
            Arc::new(FakeIdentity {
                name: name.to_owned(),
                identifier: IdentityIdentifier {
                    msp_id: msp_id.to_owned(),
                    id: id.to_owned(),
                },
                roles,
                satisfies_calls: Arc::clone(&self.satisfies_calls),
            }),
        );
    }

    pub fn calls(&self) -> usize {
        self.satisfies_calls.load(Ordering::SeqCst)
    }

    pub fn reset_calls(&self) {
        self.satisfies_calls.store(0, Ordering::SeqCst);
    }

    pub fn identity(&self, name: &str) -> Arc<FakeIdentity> {
        Arc::clone(&self.identities[name])
    }
}

impl IdentityDeserializer for FakeDeserializer {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspError> {
        let name =
            std::str::from_utf8(serialized).map_err(|e| MspError::Malformed(e.to_string()))?;
        match self.identities.get(name) {
            Some(identity) => Ok(Arc::clone(identity) as Arc<dyn Identity>),
            None => Err(MspError::UnknownMsp(name.to_owned())),
        }
    }
}

/// A signer token from the test tables: `name` signs correctly, `name!` signs badly; a name
/// the deserializer does not know is undeserializable.
pub fn signed(token: &str, data: &[u8]) -> SignedData {
    let (name, bad) = match token.strip_suffix('!') {
        Some(name) => (name, true),
        None => (token, false),
    };
    let signature = if bad {
        b"forged".to_vec()
    } else {
        good_signature(name, data)
    };
    SignedData {
        data: data.to_vec(),
        identity: name.as_bytes().to_vec(),
        signature,
    }
}
