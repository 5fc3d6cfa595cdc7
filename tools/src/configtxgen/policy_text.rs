//! Policy rules as written in configtx.yaml: Fabric's signature policy language
//! (`AND('Org1MSP.member', OutOf(1, 'A.admin', 'B.peer'))`) and implicit meta rules
//! (`MAJORITY Admins`).
//!
//! Identities are numbered the way upstream's policydsl numbers them: one identity per
//! principal occurrence (no de-duplication), and a gate's own principals are numbered only after
//! all of its nested gates, because upstream evaluates nested gates first as function
//! arguments. Keeping this order makes the encoded envelope byte-identical to upstream's.

use fabric_protos::common::signature_policy::{NOutOf, Type as RuleType};
use fabric_protos::common::{
    ImplicitMetaPolicy, SignaturePolicy, SignaturePolicyEnvelope, implicit_meta_policy,
};
use fabric_protos::common::{MspPrincipal, MspRole, msp_principal, msp_role};
use prost::Message;

use crate::error::ToolError;

/// Bound on gate nesting, far above anything a person writes.
const NESTING_DEPTH_MAX: usize = 64;
/// Bound on the length of a rule.
const RULE_LEN_MAX: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Int(i64),
    Open,
    Close,
    Comma,
}

fn err(rule: &str, message: impl std::fmt::Display) -> ToolError {
    ToolError::Config(format!("invalid signature policy rule {rule:?}: {message}"))
}

fn tokenize(rule: &str) -> Result<Vec<Token>, ToolError> {
    let mut tokens = Vec::new();
    let mut chars = rule.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            ',' => tokens.push(Token::Comma),
            '\'' | '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => break,
                        Some((_, ch)) => s.push(ch),
                        None => return Err(err(rule, "unclosed string")),
                    }
                }
                tokens.push(Token::Str(s));
            }
            c if c.is_ascii_digit() => {
                let mut s = String::from(c);
                while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
                    s.push(d);
                    chars.next();
                }
                tokens.push(Token::Int(
                    s.parse().map_err(|_| err(rule, "number too large"))?,
                ));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut s = String::from(c);
                while let Some((_, d)) = chars
                    .peek()
                    .copied()
                    .filter(|(_, d)| d.is_alphanumeric() || *d == '_' || *d == '.')
                {
                    s.push(d);
                    chars.next();
                }
                tokens.push(Token::Ident(s));
            }
            other => return Err(err(rule, format!("unexpected character {other:?}"))),
        }
    }
    Ok(tokens)
}

#[derive(Debug)]
enum Node {
    Principal(String),
    Gate { threshold: i64, args: Vec<Node> },
}

struct Parser<'a> {
    rule: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: Token) -> Result<(), ToolError> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            other => Err(err(
                self.rule,
                format!("expected {want:?}, found {other:?}"),
            )),
        }
    }

    fn node(&mut self, depth: usize) -> Result<Node, ToolError> {
        if depth > NESTING_DEPTH_MAX {
            return Err(err(self.rule, "gates are nested too deeply"));
        }
        match self.next() {
            Some(Token::Str(s)) => Ok(Node::Principal(s)),
            Some(Token::Ident(name)) => self.gate(&name, depth),
            other => Err(err(self.rule, format!("unexpected {other:?}"))),
        }
    }

    fn gate(&mut self, name: &str, depth: usize) -> Result<Node, ToolError> {
        let kind = match name {
            "AND" | "And" | "and" => "and",
            "OR" | "Or" | "or" => "or",
            "OutOf" | "outof" | "OUTOF" => "outof",
            other => {
                return Err(err(
                    self.rule,
                    format!("unrecognized token '{other}' in policy string"),
                ));
            }
        };
        self.expect(Token::Open)?;
        let mut threshold = None;
        if kind == "outof" {
            threshold = Some(match self.next() {
                Some(Token::Int(n)) => n,
                Some(Token::Str(s)) => s
                    .trim()
                    .parse()
                    .map_err(|_| err(self.rule, format!("OutOf count {s:?} is not a number")))?,
                other => {
                    return Err(err(
                        self.rule,
                        format!("OutOf needs a count, found {other:?}"),
                    ));
                }
            });
            self.expect(Token::Comma)?;
        }
        let mut args = vec![self.node(depth + 1)?];
        loop {
            match self.next() {
                Some(Token::Comma) => args.push(self.node(depth + 1)?),
                Some(Token::Close) => break,
                other => {
                    return Err(err(
                        self.rule,
                        format!("expected ',' or ')', found {other:?}"),
                    ));
                }
            }
        }
        let n = args.len() as i64;
        let threshold = match kind {
            "and" => n,
            "or" => 1,
            _ => threshold.unwrap_or(0),
        };
        if threshold < 0 || threshold > n + 1 {
            return Err(err(
                self.rule,
                format!("invalid t-out-of-n predicate, t {threshold}, n {n}"),
            ));
        }
        Ok(Node::Gate { threshold, args })
    }
}

/// Parses a principal `MSPID.role` (role: member, admin, client, peer, orderer).
fn principal(rule: &str, text: &str) -> Result<MspPrincipal, ToolError> {
    let unrecognized = || {
        err(
            rule,
            format!("unrecognized token '{text}' in policy string"),
        )
    };
    let (msp_id, role) = text.rsplit_once('.').ok_or_else(unrecognized)?;
    let role = match role {
        "member" => msp_role::MspRoleType::Member,
        "admin" => msp_role::MspRoleType::Admin,
        "client" => msp_role::MspRoleType::Client,
        "peer" => msp_role::MspRoleType::Peer,
        "orderer" => msp_role::MspRoleType::Orderer,
        _ => return Err(unrecognized()),
    };
    let valid_id = !msp_id.is_empty()
        && msp_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !valid_id {
        return Err(unrecognized());
    }
    Ok(MspPrincipal {
        principal_classification: msp_principal::Classification::Role as i32,
        principal: MspRole {
            msp_identifier: msp_id.to_string(),
            role: role as i32,
        }
        .encode_to_vec(),
    })
}

fn build(
    rule: &str,
    node: &Node,
    identities: &mut Vec<MspPrincipal>,
) -> Result<SignaturePolicy, ToolError> {
    let Node::Gate { threshold, args } = node else {
        return Err(err(
            rule,
            "a rule must be a gate such as OR(...), not a bare principal",
        ));
    };
    // Nested gates first (upstream evaluates them as arguments before the gate itself).
    let mut nested = Vec::new();
    for arg in args {
        if let Node::Gate { .. } = arg {
            nested.push(build(rule, arg, identities)?);
        }
    }
    let mut nested = nested.into_iter();
    let mut rules = Vec::with_capacity(args.len());
    for arg in args {
        match arg {
            Node::Principal(text) => {
                identities.push(principal(rule, text)?);
                rules.push(SignaturePolicy {
                    r#type: Some(RuleType::SignedBy(identities.len() as i32 - 1)),
                });
            }
            Node::Gate { .. } => {
                if let Some(policy) = nested.next() {
                    rules.push(policy);
                }
            }
        }
    }
    Ok(SignaturePolicy {
        r#type: Some(RuleType::NOutOf(NOutOf {
            n: *threshold as i32,
            rules,
        })),
    })
}

/// Compiles a signature policy rule into the envelope upstream's `policydsl.FromString` makes.
pub fn signature_policy(rule: &str) -> Result<SignaturePolicyEnvelope, ToolError> {
    if rule.len() > RULE_LEN_MAX {
        return Err(err(rule, "rule is too long"));
    }
    let mut parser = Parser {
        rule,
        tokens: tokenize(rule)?,
        pos: 0,
    };
    let node = parser.node(0)?;
    if parser.pos != parser.tokens.len() {
        return Err(err(rule, "unexpected text after the rule"));
    }
    let mut identities = Vec::new();
    let policy = build(rule, &node, &mut identities)?;
    Ok(SignaturePolicyEnvelope {
        version: 0,
        rule: Some(policy),
        identities,
    })
}

/// Parses `ANY|ALL|MAJORITY <SubPolicy>` (exactly one space, as upstream splits on it).
pub fn implicit_meta_policy(rule: &str) -> Result<ImplicitMetaPolicy, ToolError> {
    let parts: Vec<&str> = rule.split(' ').collect();
    let [kind, sub_policy] = parts.as_slice() else {
        return Err(ToolError::Config(format!(
            "invalid implicit meta policy rule {rule:?}: expected two space separated tokens"
        )));
    };
    let rule_kind = match *kind {
        "ANY" => implicit_meta_policy::Rule::Any,
        "ALL" => implicit_meta_policy::Rule::All,
        "MAJORITY" => implicit_meta_policy::Rule::Majority,
        other => {
            return Err(ToolError::Config(format!(
                "invalid implicit meta policy rule {rule:?}: unknown rule type '{other}', \
                 expected ALL, ANY, or MAJORITY"
            )));
        }
    };
    Ok(ImplicitMetaPolicy {
        sub_policy: sub_policy.to_string(),
        rule: rule_kind as i32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
