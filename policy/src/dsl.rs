//! Fabric's policy language: `AND('Org1MSP.member', OutOf(2, 'A.peer', 'B.admin', OR(...)))`
//! into a `SignaturePolicyEnvelope`, and `ANY Readers` into an `ImplicitMetaPolicy`.
//!
//! Fabric (`common/policydsl`) runs the string three times through a general expression
//! evaluator, rewriting it in between. Weft parses the same language directly and produces
//! the envelope Fabric produces, byte for byte:
//! - one principal per principal occurrence, no deduplication (`OR('A.member','A.member')`
//!   lists `A.member` twice), version 0, classification ROLE;
//! - principals are numbered the way Fabric's evaluator reaches them: the arguments of a gate
//!   that are gates are built first, left to right (numbering their principals), then the
//!   gate numbers its own principal arguments left to right. So
//!   `OR('A.member', AND('B.member', 'C.member'))` lists B, C, A;
//! - `AND` requires all its arguments, `OR` one, `OutOf(t, ...)` `t`, where `0 <= t <= n + 1`
//!   (`n + 1` makes a policy nobody can satisfy, which Fabric allows on purpose); the number is
//!   truncated toward zero (`OutOf(1.9, ...)` is 1), and may be written in hex or as a quoted
//!   number (`OutOf('1', ...)`);
//! - gate names are `AND`/`And`/`and`, `OR`/`Or`/`or`, `OUTOF`/`OutOf`/`outof`;
//! - a principal is a quoted `MSPID.role`, the MSP ID made of ASCII letters, digits, `.` and
//!   `-`, the role one of member, admin, client, peer, orderer. A string opens with `'` or `"`
//!   and ends at the next unescaped `'` or `"` (either one, as in Fabric); a backslash escapes
//!   the next character.
//!
//! Fabric's evaluator also accepts exotic inputs that only work by accident of the rewriting
//! (arithmetic such as `OutOf(1+1, ...)`, gates smuggled inside quoted strings); Weft rejects
//! those with a clear error. Every policy Weft accepts is accepted by Fabric with the same
//! result.

use fabric_protos::common::{
    self as pb, MspPrincipal, MspRole, SignaturePolicyEnvelope, implicit_meta_policy,
    msp_principal, msp_role, signature_policy,
};
use prost::Message;

use crate::api::PolicyError;
use crate::signature::{
    MAX_SIGNATURE_POLICY_DEPTH, MAX_SIGNATURE_POLICY_PRINCIPALS, MAX_SIGNATURE_POLICY_RULES,
};

/// Longest policy string accepted, in bytes. Real endorsement policies are a few hundred
/// bytes; a hundred organizations fit in a few kilobytes.
pub const MAX_POLICY_STRING_BYTES: usize = 64 * 1024;

/// Parses a signature policy expression into the envelope Fabric's `policydsl.FromString`
/// produces.
pub fn from_string(policy: &str) -> Result<SignaturePolicyEnvelope, PolicyError> {
    if policy.len() > MAX_POLICY_STRING_BYTES {
        return Err(PolicyError::Invalid(format!(
            "policy string is {} bytes; at most {MAX_POLICY_STRING_BYTES} are accepted",
            policy.len()
        )));
    }
    let tokens = lex(policy)?;
    let mut parser = Parser {
        tokens: &tokens,
        next: 0,
        end: policy.len(),
        rules: 0,
    };
    let root = parser.expression(0)?;
    if let Some(extra) = parser.peek() {
        return Err(parse_error(
            extra.at,
            "unexpected input after the end of the policy",
        ));
    }
    let Expr::Gate(gate) = root.expr else {
        return Err(parse_error(
            root.at,
            "a policy must be a gate such as OR('Org1MSP.member')",
        ));
    };
    let mut principals = Vec::new();
    let rule = build(&gate, &mut principals);
    if principals.len() > MAX_SIGNATURE_POLICY_PRINCIPALS {
        return Err(PolicyError::Invalid(format!(
            "policy names {} principals; at most {MAX_SIGNATURE_POLICY_PRINCIPALS} are accepted",
            principals.len()
        )));
    }
    Ok(SignaturePolicyEnvelope {
        version: 0,
        rule: Some(rule),
        identities: principals,
    })
}

/// Parses `ANY Readers`, `ALL Writers` or `MAJORITY Admins` as configtxgen does: exactly two
/// tokens separated by one space, the rule in upper case; the sub-policy name is taken as is.
pub fn implicit_meta_from_string(input: &str) -> Result<pb::ImplicitMetaPolicy, PolicyError> {
    if input.len() > MAX_POLICY_STRING_BYTES {
        return Err(PolicyError::Invalid(format!(
            "implicit meta policy string is {} bytes; at most {MAX_POLICY_STRING_BYTES} are accepted",
            input.len()
        )));
    }
    let tokens: Vec<&str> = input.split(' ').collect();
    let [rule, sub_policy] = tokens.as_slice() else {
        return Err(PolicyError::Invalid(format!(
            "implicit meta policy '{input}' must be two tokens separated by one space, such as \
             'MAJORITY Admins', but has {}",
            tokens.len()
        )));
    };
    let rule = implicit_meta_policy::Rule::from_str_name(rule)
        .filter(|_| !rule.is_empty())
        .ok_or_else(|| {
            PolicyError::Invalid(format!(
                "unknown implicit meta rule '{rule}'; expected ALL, ANY or MAJORITY"
            ))
        })?;
    Ok(pb::ImplicitMetaPolicy {
        sub_policy: (*sub_policy).to_owned(),
        rule: rule as i32,
    })
}

fn parse_error(at: usize, message: &str) -> PolicyError {
    PolicyError::Invalid(format!("policy string, at byte {at}: {message}"))
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    Name(String),
    Str(String),
    Number(f64),
    Minus,
    Open,
    Close,
    Comma,
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    at: usize,
}

fn lex(input: &str) -> Result<Vec<Token>, PolicyError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let kind = match c {
            '(' | ')' | ',' | '-' => {
                chars.next();
                match c {
                    '(' => TokenKind::Open,
                    ')' => TokenKind::Close,
                    ',' => TokenKind::Comma,
                    _ => TokenKind::Minus,
                }
            }
            '\'' | '"' => {
                chars.next();
                TokenKind::Str(lex_string(&mut chars, at)?)
            }
            c if c.is_ascii_digit() || c == '.' => {
                let end = scan(input, at, |c| c.is_ascii_alphanumeric() || c == '.');
                let text = &input[at..end];
                while chars.peek().is_some_and(|&(i, _)| i < end) {
                    chars.next();
                }
                TokenKind::Number(
                    parse_number(text)
                        .ok_or_else(|| parse_error(at, &format!("'{text}' is not a number")))?,
                )
            }
            c if c.is_alphabetic() => {
                let end = scan(input, at, |c| c.is_alphanumeric() || c == '_' || c == '.');
                while chars.peek().is_some_and(|&(i, _)| i < end) {
                    chars.next();
                }
                TokenKind::Name(input[at..end].to_owned())
            }
            other => {
                return Err(parse_error(at, &format!("unexpected character '{other}'")));
            }
        };
        tokens.push(Token { kind, at });
    }
    Ok(tokens)
}

/// The end of the run of characters from `start` that satisfy `keep`.
fn scan(input: &str, start: usize, keep: impl Fn(char) -> bool) -> usize {
    input[start..]
        .char_indices()
        .find(|&(_, c)| !keep(c))
        .map_or(input.len(), |(i, _)| start + i)
}

/// Reads a string body after its opening quote; either quote character closes it.
fn lex_string(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    opened_at: usize,
) -> Result<String, PolicyError> {
    let mut value = String::new();
    while let Some((_, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            '\'' | '"' => return Ok(value),
            c => value.push(c),
        }
    }
    Err(parse_error(opened_at, "unclosed string"))
}

/// A decimal number (`2`, `1.5`, `.5`, `2.`) or `0x` hexadecimal, as Fabric's evaluator reads
/// numbers.
fn parse_number(text: &str) -> Option<f64> {
    if let Some(hex) = text.strip_prefix("0x") {
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    if !text.chars().all(|c| c.is_ascii_digit() || c == '.') || text.matches('.').count() > 1 {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

// ---------------------------------------------------------------------------------------------
// Parser

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GateKind {
    And,
    Or,
    OutOf,
}

#[derive(Debug)]
enum Expr {
    Gate(Gate),
    Str(String),
    Number(f64),
}

#[derive(Debug)]
struct Located {
    expr: Expr,
    at: usize,
}

#[derive(Debug)]
struct Gate {
    threshold: i32,
    args: Vec<Arg>,
}

#[derive(Debug)]
enum Arg {
    Principal(MspPrincipal),
    Gate(Gate),
}

struct Parser<'a> {
    tokens: &'a [Token],
    next: usize,
    end: usize,
    /// Rule nodes (gates and principals) produced so far, bounded like compiled policies.
    rules: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn take(&mut self) -> Result<&Token, PolicyError> {
        let token = self
            .tokens
            .get(self.next)
            .ok_or_else(|| parse_error(self.end, "unexpected end of policy"))?;
        self.next += 1;
        Ok(token)
    }

    fn expect(&mut self, kind: &TokenKind, what: &str) -> Result<(), PolicyError> {
        let token = self.take()?;
        if &token.kind == kind {
            Ok(())
        } else {
            Err(parse_error(token.at, &format!("expected {what}")))
        }
    }

    fn count_rule(&mut self, at: usize) -> Result<(), PolicyError> {
        self.rules += 1;
        if self.rules > MAX_SIGNATURE_POLICY_RULES {
            return Err(parse_error(
                at,
                &format!("policy has more than {MAX_SIGNATURE_POLICY_RULES} gates and principals"),
            ));
        }
        Ok(())
    }

    /// `depth` counts open parentheses, gates and grouping alike.
    fn expression(&mut self, depth: usize) -> Result<Located, PolicyError> {
        let token = self.take()?.clone();
        let at = token.at;
        let expr = match token.kind {
            TokenKind::Str(value) => Expr::Str(value),
            TokenKind::Number(value) => Expr::Number(value),
            TokenKind::Minus => match self.take()?.kind {
                TokenKind::Number(value) => Expr::Number(-value),
                _ => return Err(parse_error(at, "'-' must be followed by a number")),
            },
            TokenKind::Open => {
                let inner = self.nested(depth, at)?;
                self.expect(&TokenKind::Close, "')'")?;
                return Ok(inner);
            }
            TokenKind::Name(name) => {
                let kind = gate_kind(&name).ok_or_else(|| {
                    parse_error(
                        at,
                        &format!("unrecognized token '{name}'; gates are AND, OR and OutOf, and principals are quoted"),
                    )
                })?;
                self.expect(&TokenKind::Open, "'(' after the gate name")?;
                Expr::Gate(self.gate(kind, depth, at)?)
            }
            TokenKind::Close | TokenKind::Comma => {
                return Err(parse_error(at, "expected a gate, a principal or a number"));
            }
        };
        Ok(Located { expr, at })
    }

    fn nested(&mut self, depth: usize, at: usize) -> Result<Located, PolicyError> {
        if depth >= MAX_SIGNATURE_POLICY_DEPTH {
            return Err(parse_error(
                at,
                &format!("policy nests deeper than {MAX_SIGNATURE_POLICY_DEPTH} levels"),
            ));
        }
        self.expression(depth + 1)
    }

    /// Parses the arguments after `GATE(` and checks them as Fabric's gate functions do.
    fn gate(&mut self, kind: GateKind, depth: usize, at: usize) -> Result<Gate, PolicyError> {
        self.count_rule(at)?;
        let mut args = Vec::new();
        if self.peek().map(|t| &t.kind) == Some(&TokenKind::Close) {
            self.next += 1;
        } else {
            loop {
                args.push(self.nested(depth, at)?);
                let token = self.take()?;
                match token.kind {
                    TokenKind::Comma => continue,
                    TokenKind::Close => break,
                    _ => return Err(parse_error(token.at, "expected ',' or ')'")),
                }
            }
        }
        let (threshold_arg, rest) = match kind {
            GateKind::OutOf => match args.split_first_mut() {
                Some((first, rest)) if !rest.is_empty() => (Some(first), rest),
                _ => {
                    return Err(parse_error(
                        at,
                        "OutOf needs a number and at least one principal or gate",
                    ));
                }
            },
            GateKind::And | GateKind::Or if args.is_empty() => {
                return Err(parse_error(
                    at,
                    "a gate needs at least one principal or gate",
                ));
            }
            GateKind::And | GateKind::Or => (None, args.as_mut_slice()),
        };
        let n = rest.len();
        let threshold = match (kind, threshold_arg) {
            (GateKind::And, _) => i64::try_from(n).unwrap_or(i64::MAX),
            (GateKind::Or, _) => 1,
            (GateKind::OutOf, Some(first)) => threshold_value(first)?,
            (GateKind::OutOf, None) => 0,
        };
        let max = i64::try_from(n).unwrap_or(i64::MAX).saturating_add(1);
        if threshold < 0 || threshold > max {
            return Err(parse_error(
                at,
                &format!(
                    "invalid t-out-of-n predicate: t is {threshold}, n is {n}; t must be between 0 and n + 1"
                ),
            ));
        }
        let mut built = Vec::with_capacity(n);
        for arg in rest.iter_mut() {
            let expr = std::mem::replace(&mut arg.expr, Expr::Number(0.0));
            built.push(match expr {
                Expr::Gate(gate) => Arg::Gate(gate),
                Expr::Str(text) => {
                    self.count_rule(arg.at)?;
                    Arg::Principal(principal(&text).ok_or_else(|| {
                        parse_error(
                            arg.at,
                            &format!("'{text}' is not a principal of the form MSPID.role with role member, admin, client, peer or orderer"),
                        )
                    })?)
                }
                Expr::Number(_) => {
                    return Err(parse_error(
                        arg.at,
                        "expected a principal or a gate, found a number",
                    ));
                }
            });
        }
        Ok(Gate {
            threshold: i32::try_from(threshold).unwrap_or(i32::MAX),
            args: built,
        })
    }
}

fn gate_kind(name: &str) -> Option<GateKind> {
    match name {
        "AND" | "And" | "and" => Some(GateKind::And),
        "OR" | "Or" | "or" => Some(GateKind::Or),
        "OUTOF" | "OutOf" | "outof" => Some(GateKind::OutOf),
        _ => None,
    }
}

/// The `t` of `OutOf(t, ...)`: a number, or a string holding one (Fabric pastes a string
/// threshold back into the expression unquoted), truncated toward zero.
fn threshold_value(arg: &Located) -> Result<i64, PolicyError> {
    let value = match &arg.expr {
        Expr::Number(value) => Some(*value),
        Expr::Str(text) => quoted_number(text),
        Expr::Gate(_) => None,
    };
    let value =
        value.ok_or_else(|| parse_error(arg.at, "the first argument of OutOf must be a number"))?;
    // Out-of-range values are rejected by the range check that follows.
    Ok(value.trunc() as i64)
}

fn quoted_number(text: &str) -> Option<f64> {
    let text = text.trim();
    match text.strip_prefix('-') {
        Some(rest) => parse_number(rest.trim_start()).map(|v| -v),
        None => parse_number(text),
    }
}

/// `MSPID.role` into a ROLE principal, following Fabric's pattern
/// `^([[:alnum:].-]+)[.](admin|member|client|peer|orderer)$`.
fn principal(text: &str) -> Option<MspPrincipal> {
    let (msp_id, role) = text.rsplit_once('.')?;
    if msp_id.is_empty()
        || !msp_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return None;
    }
    let role = match role {
        "member" => msp_role::MspRoleType::Member,
        "admin" => msp_role::MspRoleType::Admin,
        "client" => msp_role::MspRoleType::Client,
        "peer" => msp_role::MspRoleType::Peer,
        "orderer" => msp_role::MspRoleType::Orderer,
        _ => return None,
    };
    let role = MspRole {
        msp_identifier: msp_id.to_owned(),
        role: role as i32,
    };
    Some(MspPrincipal {
        principal_classification: msp_principal::Classification::Role as i32,
        principal: role.encode_to_vec(),
    })
}

/// Numbers principals in the order Fabric's evaluator reaches them: nested gates first (left
/// to right), then this gate's own principals.
fn build(gate: &Gate, principals: &mut Vec<MspPrincipal>) -> pb::SignaturePolicy {
    let mut rules: Vec<Option<pb::SignaturePolicy>> = gate
        .args
        .iter()
        .map(|arg| match arg {
            Arg::Gate(inner) => Some(build(inner, principals)),
            Arg::Principal(_) => None,
        })
        .collect();
    for (arg, rule) in gate.args.iter().zip(rules.iter_mut()) {
        if let Arg::Principal(principal) = arg {
            // Bounded by MAX_SIGNATURE_POLICY_RULES, far below i32::MAX.
            let index = i32::try_from(principals.len()).unwrap_or(i32::MAX);
            principals.push(principal.clone());
            *rule = Some(pb::SignaturePolicy {
                r#type: Some(signature_policy::Type::SignedBy(index)),
            });
        }
    }
    pb::SignaturePolicy {
        r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
            n: gate.threshold,
            rules: rules.into_iter().flatten().collect(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msp_and_role(text: &str) -> Option<(String, i32)> {
        let principal = principal(text)?;
        let role = MspRole::decode(principal.principal.as_slice()).ok()?;
        Some((role.msp_identifier, role.role))
    }

    /// Fabric's pattern `^([[:alnum:].-]+)[.](role)$`: the MSP ID takes everything up to the
    /// last dot, ASCII only.
    #[test]
    fn principal_pattern() {
        assert_eq!(msp_and_role("A.admin"), Some(("A".into(), 1)));
        assert_eq!(msp_and_role("A.b.peer"), Some(("A.b".into(), 3)));
        assert_eq!(msp_and_role("..orderer"), Some((".".into(), 4)));
        assert_eq!(msp_and_role("-.client"), Some(("-".into(), 2)));
        for bad in [
            "member",
            ".member",
            "A.member ",
            "A.members",
            "Ä.member",
            "A_b.member",
        ] {
            assert_eq!(msp_and_role(bad), None, "{bad}");
        }
    }

    /// Numbers as Fabric's expression evaluator reads them.
    #[test]
    fn numbers() {
        assert_eq!(parse_number("2"), Some(2.0));
        assert_eq!(parse_number("2."), Some(2.0));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("0x1f"), Some(31.0));
        for bad in [".", "0x", "1.2.3", "2a", "0xg", "1e3"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
        assert_eq!(quoted_number(" -3 "), Some(-3.0));
    }
}
