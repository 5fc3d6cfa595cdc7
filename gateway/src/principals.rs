//! Which sets of principals satisfy a signature policy, and how the sets of several
//! policies combine (Fabric `common/policies/inquire`: `SatisfiedBy`, `Merge`, `Reduce`).
//!
//! A principal set is a multiset: `OutOf(2, 'Org1.member', 'Org1.member')` needs two
//! different Org1 members, so its one set holds the Org1 member principal twice.

use fabric_protos::common::{
    MspPrincipal, MspRole, OrganizationUnit, SignaturePolicy, SignaturePolicyEnvelope,
    msp_principal::Classification, msp_role::MspRoleType, signature_policy,
};
use fabric_protos::msp::SerializedIdentity;
use prost::Message;

/// Most principal sets computed for one policy or one merge; larger policies are cut
/// (Fabric bounds the combinations of a policy's sub-rules at 10000 as well).
pub const PRINCIPAL_SETS_MAX: usize = 10_000;
/// Deepest NOutOf nesting followed.
pub const POLICY_DEPTH_MAX: usize = 16;
/// Most signatures one principal set may need; policies needing more are treated as
/// unsatisfiable (key policies arrive from clients, so sizes must stay bounded).
pub const SET_SIZE_MAX: usize = 64;
/// Most sets kept when combining two policies (the containment check that follows is
/// quadratic in this).
pub const MERGED_SETS_MAX: usize = 256;

pub type PrincipalSet = Vec<MspPrincipal>;

/// The sets of principals whose signatures would satisfy `policy`, one per way of choosing
/// sub-rules. Empty when the policy cannot be satisfied or is malformed.
pub fn satisfied_by(policy: &SignaturePolicyEnvelope) -> Vec<PrincipalSet> {
    let Some(rule) = &policy.rule else {
        return Vec::new();
    };
    let Some(sets) = rule_sets(rule, &policy.identities, 0) else {
        return Vec::new();
    };
    // A choice that needs no signature at all is not something endorsers can be
    // picked for; Fabric treats such a policy as unsatisfiable for discovery.
    if sets.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    sets
}

fn rule_sets(
    rule: &SignaturePolicy,
    identities: &[MspPrincipal],
    depth: usize,
) -> Option<Vec<PrincipalSet>> {
    if depth > POLICY_DEPTH_MAX {
        return None;
    }
    match rule.r#type.as_ref()? {
        signature_policy::Type::SignedBy(index) => {
            let principal = identities.get(usize::try_from(*index).ok()?)?;
            Some(vec![vec![principal.clone()]])
        }
        signature_policy::Type::NOutOf(n_out_of) => {
            let n = usize::try_from(n_out_of.n).unwrap_or(0);
            let children = n_out_of
                .rules
                .iter()
                .map(|r| rule_sets(r, identities, depth + 1))
                .collect::<Option<Vec<_>>>()?;
            let mut out = Vec::new();
            for chosen in combinations(children.len(), n) {
                let mut acc: Vec<PrincipalSet> = vec![Vec::new()];
                for index in chosen {
                    acc = product(&acc, &children[index])?;
                }
                out.extend(acc);
                if out.len() >= PRINCIPAL_SETS_MAX {
                    out.truncate(PRINCIPAL_SETS_MAX);
                    break;
                }
            }
            Some(out)
        }
    }
}

/// Every union of one set of `left` with one of `right`; `None` if a union would need
/// more than [`SET_SIZE_MAX`] signatures.
fn product(left: &[PrincipalSet], right: &[PrincipalSet]) -> Option<Vec<PrincipalSet>> {
    let mut out = Vec::new();
    'outer: for l in left {
        for r in right {
            if out.len() >= PRINCIPAL_SETS_MAX {
                break 'outer;
            }
            if l.len() + r.len() > SET_SIZE_MAX {
                return None;
            }
            let mut set = l.clone();
            set.extend(r.iter().cloned());
            out.push(set);
        }
    }
    Some(out)
}

/// All k-element index combinations of 0..n in lexicographic order, at most
/// [`PRINCIPAL_SETS_MAX`] of them.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    if k > n {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut current: Vec<usize> = (0..k).collect();
    loop {
        out.push(current.clone());
        if out.len() >= PRINCIPAL_SETS_MAX {
            return out;
        }
        let Some(i) = (0..k).rev().find(|&i| current[i] != i + n - k) else {
            return out;
        };
        current[i] += 1;
        for j in i + 1..k {
            current[j] = current[j - 1] + 1;
        }
    }
}

/// A principal decoded enough to compare (Fabric `ComparablePrincipal`).
#[derive(Debug, Clone)]
struct Comparable {
    principal: MspPrincipal,
    msp_id: String,
    role: Option<i32>,
    ou: Option<(String, Vec<u8>)>,
    id_bytes: Option<Vec<u8>>,
}

impl Comparable {
    fn new(principal: &MspPrincipal) -> Option<Self> {
        let mut c = Comparable {
            principal: principal.clone(),
            msp_id: String::new(),
            role: None,
            ou: None,
            id_bytes: None,
        };
        match Classification::try_from(principal.principal_classification).ok()? {
            Classification::Role => {
                let role = MspRole::decode(principal.principal.as_slice()).ok()?;
                c.msp_id = role.msp_identifier;
                c.role = Some(role.role);
            }
            Classification::OrganizationUnit => {
                let ou = OrganizationUnit::decode(principal.principal.as_slice()).ok()?;
                c.msp_id = ou.msp_identifier;
                c.ou = Some((ou.organizational_unit_identifier, ou.certifiers_identifier));
            }
            Classification::Identity => {
                let id = SerializedIdentity::decode(principal.principal.as_slice()).ok()?;
                c.msp_id = id.mspid;
                c.id_bytes = Some(id.id_bytes);
            }
            _ => return None,
        }
        Some(c)
    }

    fn equal(&self, other: &Comparable) -> bool {
        self.msp_id == other.msp_id
            && self.principal == other.principal
            && self.role == other.role
            && self.ou == other.ou
    }

    /// Whether an identity satisfying `self` also satisfies `other`.
    fn is_a(&self, other: &Comparable) -> bool {
        if self.msp_id != other.msp_id {
            return false;
        }
        if other.role == Some(MspRoleType::Member as i32) {
            return true;
        }
        if let (Some(a), Some(b)) = (&self.ou, &other.ou) {
            return a == b;
        }
        if let (Some(a), Some(b)) = (self.role, other.role) {
            return a == b;
        }
        match (&self.id_bytes, &other.id_bytes) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

type ComparableSet = Vec<Comparable>;

fn comparable_sets(sets: &[PrincipalSet]) -> Option<Vec<ComparableSet>> {
    sets.iter()
        .map(|s| s.iter().map(Comparable::new).collect::<Option<Vec<_>>>())
        .collect()
}

/// Principal sets satisfying every one of `policies` at once. `Err` names why none exist.
pub fn merged(policies: &[Vec<PrincipalSet>]) -> Result<Vec<PrincipalSet>, String> {
    let mut all = Vec::new();
    for sets in policies {
        let comparable =
            comparable_sets(sets).ok_or("failed creating a comparable principal set")?;
        if comparable.is_empty() {
            return Err("endorsement policy cannot be satisfied".into());
        }
        all.push(comparable);
    }
    let mut iter = all.into_iter();
    let mut acc = iter
        .next()
        .ok_or("no principal sets remained after filtering")?;
    for next in iter {
        acc = merge(&acc, &next);
    }
    Ok(acc
        .into_iter()
        .map(|s| s.into_iter().map(|c| c.principal).collect())
        .collect())
}

fn merge(left: &[ComparableSet], right: &[ComparableSet]) -> Vec<ComparableSet> {
    let mut out = Vec::new();
    'outer: for x in left {
        for y in right {
            if out.len() >= MERGED_SETS_MAX {
                break 'outer;
            }
            out.push(merge_with_plurality(x, y));
        }
    }
    reduce(out)
}

/// `containing` plus each principal of `contained` that no unused principal of
/// `containing` already covers.
fn merge_with_plurality(contained: &ComparableSet, containing: &ComparableSet) -> ComparableSet {
    let mut used = vec![false; containing.len()];
    let mut result = containing.clone();
    for principal in contained {
        let cover = containing
            .iter()
            .enumerate()
            .find(|(i, c)| !used[*i] && c.is_a(principal))
            .map(|(i, _)| i);
        match cover {
            Some(i) => used[i] = true,
            None => result.push(principal.clone()),
        }
    }
    result
}

fn is_subset(small: &ComparableSet, big: &ComparableSet) -> bool {
    small.iter().all(|p| big.iter().any(|q| p.equal(q)))
}

/// Drops sets that contain another set (keeping the first of equal sets), until stable.
fn reduce(mut sets: Vec<ComparableSet>) -> Vec<ComparableSet> {
    loop {
        let before = sets.len();
        let mut kept = Vec::new();
        for (i, s1) in sets.iter().enumerate() {
            let mut containing = false;
            for (j, s2) in sets.iter().enumerate() {
                if i == j {
                    continue;
                }
                if is_subset(s2, s1) {
                    containing = true;
                }
                if is_subset(s1, s2) && i < j {
                    containing = false;
                }
            }
            if !containing {
                kept.push(s1.clone());
            }
        }
        sets = kept;
        if sets.len() == before {
            return sets;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(msp: &str) -> MspPrincipal {
        MspPrincipal {
            principal_classification: Classification::Role as i32,
            principal: MspRole {
                msp_identifier: msp.into(),
                role: MspRoleType::Member as i32,
            }
            .encode_to_vec(),
        }
    }

    fn out_of(n: i32, rules: Vec<SignaturePolicy>) -> SignaturePolicy {
        SignaturePolicy {
            r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                n,
                rules,
            })),
        }
    }

    fn signed_by(i: i32) -> SignaturePolicy {
        SignaturePolicy {
            r#type: Some(signature_policy::Type::SignedBy(i)),
        }
    }

    #[test]
    fn combinations_are_lexicographic() {
        assert_eq!(
            combinations(4, 2),
            vec![
                vec![0, 1],
                vec![0, 2],
                vec![0, 3],
                vec![1, 2],
                vec![1, 3],
                vec![2, 3]
            ]
        );
        assert!(combinations(2, 3).is_empty());
        assert_eq!(combinations(3, 0), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn zero_threshold_or_bad_index_is_unsatisfiable() {
        let identities = vec![member("A")];
        let zero = SignaturePolicyEnvelope {
            version: 0,
            rule: Some(out_of(0, vec![signed_by(0)])),
            identities: identities.clone(),
        };
        assert!(satisfied_by(&zero).is_empty());
        let bad = SignaturePolicyEnvelope {
            version: 0,
            rule: Some(out_of(1, vec![signed_by(3)])),
            identities,
        };
        assert!(satisfied_by(&bad).is_empty());
    }

    #[test]
    fn oversized_policies_are_bounded() {
        // 4-of-4 over 1-of-20 rules: 20^4 ways, cut at the bound, still answered.
        let identities: Vec<MspPrincipal> = (0..20).map(|i| member(&format!("O{i}"))).collect();
        let any = out_of(1, (0..20).map(signed_by).collect());
        let wide = SignaturePolicyEnvelope {
            version: 0,
            rule: Some(out_of(4, vec![any.clone(), any.clone(), any.clone(), any])),
            identities: identities.clone(),
        };
        assert_eq!(satisfied_by(&wide).len(), PRINCIPAL_SETS_MAX);
        // A policy needing more than SET_SIZE_MAX signatures is not planned for.
        let all = SignaturePolicyEnvelope {
            version: 0,
            rule: Some(out_of(65, (0..65).map(|i| signed_by(i % 20)).collect())),
            identities,
        };
        assert!(satisfied_by(&all).is_empty());
    }

    #[test]
    fn merge_of_or_with_and_keeps_minimal_sets() {
        // Chaincode OR(A, B) merged with a collection policy AND(A): only {A} remains
        // minimal ({A, B} and {B, A} contain it).
        let or = vec![vec![member("A")], vec![member("B")]];
        let and_a = vec![vec![member("A")]];
        let result = merged(&[or, and_a]).unwrap();
        assert_eq!(result, vec![vec![member("A")]]);
    }
}
