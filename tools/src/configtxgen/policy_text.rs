//! Policy rules as configtx.yaml writes them, compiled with weft-policy's parser of Fabric's
//! policy language (the same encoding upstream configtxgen embeds).

use fabric_protos::common::{ImplicitMetaPolicy, SignaturePolicyEnvelope};

use crate::ToolError;

fn config_error(rule: &str, error: weft_policy::PolicyError) -> ToolError {
    ToolError::Config(format!("invalid policy rule {rule:?}: {error}"))
}

/// Compiles a signature policy rule into the envelope upstream's `policydsl.FromString` makes.
pub fn signature_policy(rule: &str) -> Result<SignaturePolicyEnvelope, ToolError> {
    weft_policy::dsl::from_string(rule).map_err(|e| config_error(rule, e))
}

/// Parses `ANY|ALL|MAJORITY <SubPolicy>` as configtxgen does.
pub fn implicit_meta_policy(rule: &str) -> Result<ImplicitMetaPolicy, ToolError> {
    weft_policy::dsl::implicit_meta_from_string(rule).map_err(|e| config_error(rule, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::common::signature_policy::{NOutOf, Type as RuleType};
    use fabric_protos::common::{MspPrincipal, MspRole, SignaturePolicy, implicit_meta_policy};
    use prost::Message;

    fn role_of(p: &MspPrincipal) -> (String, i32) {
        let role = MspRole::decode(p.principal.as_slice()).unwrap();
        (role.msp_identifier, role.role)
    }

    fn n_out_of(p: &SignaturePolicy) -> &NOutOf {
        match &p.r#type {
            Some(RuleType::NOutOf(n)) => n,
            other => panic!("not a gate: {other:?}"),
        }
    }

    #[test]
    fn or_of_two_principals() {
        let env = signature_policy("OR('Org1MSP.member', 'Org2MSP.admin')").unwrap();
        let gate = n_out_of(env.rule.as_ref().unwrap());
        assert_eq!(gate.n, 1);
        assert_eq!(gate.rules.len(), 2);
        assert_eq!(role_of(&env.identities[0]), ("Org1MSP".into(), 0));
        assert_eq!(role_of(&env.identities[1]), ("Org2MSP".into(), 1));
    }

    #[test]
    fn nested_gates_number_their_principals_first() {
        // Upstream policydsl evaluates nested gates before the enclosing gate's own principals.
        let env = signature_policy("AND('A.member', OutOf(1, 'B.peer', 'C.client'), 'A.member')")
            .unwrap();
        let ids: Vec<_> = env.identities.iter().map(role_of).collect();
        assert_eq!(
            ids,
            [
                ("B".into(), 3),
                ("C".into(), 2),
                ("A".into(), 0),
                ("A".into(), 0)
            ]
        );
        let gate = n_out_of(env.rule.as_ref().unwrap());
        assert_eq!(gate.n, 3);
        assert_eq!(gate.rules[0].r#type, Some(RuleType::SignedBy(2)));
        assert_eq!(
            n_out_of(&gate.rules[1]).rules[0].r#type,
            Some(RuleType::SignedBy(0))
        );
        assert_eq!(gate.rules[2].r#type, Some(RuleType::SignedBy(3)));
    }

    #[test]
    fn outof_count_may_be_quoted_and_gate_names_any_casing() {
        let env = signature_policy("outof('2', \"A.orderer\", 'B.member', 'C.member')").unwrap();
        assert_eq!(n_out_of(env.rule.as_ref().unwrap()).n, 2);
        assert!(signature_policy("and('A.member')").is_ok());
        assert!(signature_policy("Or('A.member')").is_ok());
    }

    #[test]
    fn rejects_malformed_rules() {
        for bad in [
            "'A.member'",
            "OR('A.nobody')",
            "OR(A.member)",
            "XOR('A.member')",
            "OR('A.member'",
            "OR('A.member') x",
            "OutOf(5, 'A.member', 'B.member')",
            "OR()",
        ] {
            assert!(signature_policy(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn implicit_meta_rules() {
        let p = implicit_meta_policy("MAJORITY Admins").unwrap();
        assert_eq!(p.sub_policy, "Admins");
        assert_eq!(p.rule, implicit_meta_policy::Rule::Majority as i32);
        assert!(implicit_meta_policy("ANY  Readers").is_err());
        assert!(implicit_meta_policy("SOME Readers").is_err());
    }
}
