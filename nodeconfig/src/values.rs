//! Reading one setting's text or YAML node into a typed value, the way Fabric's decoders do.
//!
//! Fabric reads peer settings through viper's `cast` helpers and orderer settings through
//! mapstructure's weak decoding; where they differ (bare numbers as durations, lists written as
//! one string) the [`NodeKind`] decides.

use std::time::Duration;

use serde_yaml_ng::Value as Yaml;

use crate::NodeKind;
use crate::schema::Kind;

/// A setting read into the shape its key calls for.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text (also paths before they are resolved, and `host:port` endpoints).
    Str(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A duration.
    Duration(Duration),
    /// A byte count.
    Bytes(u32),
    /// A port number.
    Port(u16),
    /// A list of strings.
    List(Vec<String>),
    /// A free-form YAML value.
    Any(Yaml),
}

/// Where a raw setting came from, before it is typed.
pub(crate) enum Raw<'a> {
    /// A node of the YAML file.
    File(&'a Yaml),
    /// The text of an environment variable.
    Env(&'a str),
}

/// Reads a raw setting as `kind`; the error text says what was expected and what was found.
pub(crate) fn convert(node: NodeKind, kind: Kind, raw: Raw<'_>) -> Result<Value, String> {
    match kind {
        Kind::Str | Kind::Path => scalar_text(&raw).map(Value::Str),
        Kind::HostPort => {
            scalar_text(&raw).and_then(|s| check_host_port(&s).map(|()| Value::Str(s)))
        }
        Kind::Bool => to_bool(&raw).map(Value::Bool),
        Kind::Int => to_int(&raw).map(Value::Int),
        Kind::Float => to_float(&raw).map(Value::Float),
        Kind::Duration => to_duration(node, &raw).map(Value::Duration),
        Kind::ByteSize => to_byte_size(&raw).map(Value::Bytes),
        Kind::Port => to_int(&raw).and_then(|n| {
            u16::try_from(n)
                .map(Value::Port)
                .map_err(|_| format!("{n} is not a port number (0 to 65535)"))
        }),
        Kind::StrList | Kind::PathList => to_list(node, &raw).map(Value::List),
        Kind::Any => Ok(Value::Any(match raw {
            Raw::File(y) => y.clone(),
            // Fabric decodes such values from the environment as a YAML document
            // (viperutil's YamlStringToStructHook), e.g. a list of external builders.
            Raw::Env(s) => {
                serde_yaml_ng::from_str(s).map_err(|e| format!("is not a valid YAML value: {e}"))?
            }
        })),
    }
}

fn describe(y: &Yaml) -> &'static str {
    match y {
        Yaml::Null => "nothing",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "text",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a section of keys",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// Any scalar as text, the way viper's GetString and mapstructure's weak decoding render it.
fn scalar_text(raw: &Raw<'_>) -> Result<String, String> {
    match raw {
        Raw::Env(s) => Ok((*s).to_owned()),
        Raw::File(Yaml::String(s)) => Ok(s.clone()),
        Raw::File(Yaml::Bool(b)) => Ok(b.to_string()),
        Raw::File(Yaml::Number(n)) => Ok(n.to_string()),
        Raw::File(other) => Err(format!(
            "expected a single value, found {}",
            describe(other)
        )),
    }
}

/// `host:port` with a numeric port, as Go's `net.SplitHostPort` accepts it.
pub(crate) fn check_host_port(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (h, p) = rest
                .split_once(']')
                .ok_or_else(|| format!("{s:?} has an unclosed '[' around an IPv6 host"))?;
            (h, p.strip_prefix(':').unwrap_or(p))
        }
        None => s
            .rsplit_once(':')
            .ok_or_else(|| format!("{s:?} is not in host:port form"))?,
    };
    if host.contains(':') && !s.starts_with('[') {
        return Err(format!(
            "{s:?} has too many colons; write IPv6 hosts as [addr]:port"
        ));
    }
    match port.parse::<u16>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("{s:?} does not end in a port number (0 to 65535)")),
    }
}

/// Go's `strconv.ParseBool` spellings; in files also the YAML 1.1 words Fabric's YAML parser
/// (go-yaml v2) reads as booleans.
fn to_bool(raw: &Raw<'_>) -> Result<bool, String> {
    let text = match raw {
        Raw::File(Yaml::Bool(b)) => return Ok(*b),
        Raw::File(Yaml::String(s)) => s.as_str(),
        Raw::Env(s) => s,
        Raw::File(other) => {
            return Err(format!("expected true or false, found {}", describe(other)));
        }
    };
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => return Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => return Ok(false),
        _ => {}
    }
    if matches!(raw, Raw::File(_)) {
        match text {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Ok(true),
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Ok(false),
            _ => {}
        }
    }
    Err(format!("{text:?} is not a boolean; use true or false"))
}

fn to_int(raw: &Raw<'_>) -> Result<i64, String> {
    let text = match raw {
        Raw::File(Yaml::Number(n)) => {
            return n
                .as_i64()
                .ok_or_else(|| format!("{n} is not a whole number in range"));
        }
        Raw::File(Yaml::String(s)) => s.as_str(),
        Raw::Env(s) => s,
        Raw::File(other) => {
            return Err(format!(
                "expected a whole number, found {}",
                describe(other)
            ));
        }
    };
    parse_go_int(text).ok_or_else(|| format!("{text:?} is not a whole number"))
}

/// Go's `strconv.ParseInt(s, 0, 64)`: optional sign, then a `0x`, `0o`, `0b` or leading-`0`
/// (octal) prefix, with `_` allowed between digits.
pub(crate) fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_owned())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_owned())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_owned())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned())
    } else {
        (10, lower)
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if !clean.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(&clean, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

fn to_float(raw: &Raw<'_>) -> Result<f64, String> {
    let text = match raw {
        Raw::File(Yaml::Number(n)) => {
            return n.as_f64().ok_or_else(|| format!("{n} is not a number"));
        }
        Raw::File(Yaml::String(s)) => s.as_str(),
        Raw::Env(s) => s,
        Raw::File(other) => return Err(format!("expected a number, found {}", describe(other))),
    };
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| format!("{text:?} is not a number"))
}

fn to_duration(node: NodeKind, raw: &Raw<'_>) -> Result<Duration, String> {
    let text = match raw {
        // A bare YAML integer is a count of nanoseconds for both of Fabric's decoders.
        Raw::File(Yaml::Number(n)) => {
            let nanos = n
                .as_i64()
                .ok_or_else(|| format!("{n} is not a whole number of nanoseconds"))?;
            return u64::try_from(nanos)
                .map(Duration::from_nanos)
                .map_err(|_| format!("{n} is negative; durations must not be"));
        }
        Raw::File(Yaml::String(s)) => s.as_str(),
        Raw::Env(s) => s,
        Raw::File(other) => {
            return Err(format!(
                "expected a duration such as \"30s\", found {}",
                describe(other)
            ));
        }
    };
    // viper (peer) treats text without any unit letter as nanoseconds; mapstructure (orderer)
    // hands it straight to time.ParseDuration, which wants a unit.
    let has_unit = text.chars().any(|c| "nsuµmh".contains(c));
    let parsed = if node == NodeKind::Peer && !has_unit {
        parse_go_duration(&format!("{text}ns"))
    } else {
        parse_go_duration(text)
    };
    parsed.map_err(|why| {
        format!("{text:?} is not a duration ({why}); write e.g. \"30s\", \"1m30s\" or \"500ms\"")
    })
}

/// Go's `time.ParseDuration`, limited to non-negative results.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let nanos = weft_protoutil::parse_go_duration(text)?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| "a duration here must not be negative".to_owned())
}

/// A byte count for a `uint32` setting: Fabric's byte-size hook takes `<n>[ ]k|m|g[b]` in any
/// case; anything else is decoded as a plain number.
fn to_byte_size(raw: &Raw<'_>) -> Result<u32, String> {
    let text = match raw {
        Raw::File(Yaml::Number(n)) => {
            return n
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| format!("{n} is not a byte count between 0 and {}", u32::MAX));
        }
        Raw::File(Yaml::String(s)) => s.as_str(),
        Raw::Env(s) => s,
        Raw::File(other) => {
            return Err(format!(
                "expected a size such as \"1 MB\", found {}",
                describe(other)
            ));
        }
    };
    parse_byte_size(text)
}

/// Parses `"98 MB"`, `"512k"`, `"1G"` or a plain count into bytes.
pub fn parse_byte_size(text: &str) -> Result<u32, String> {
    let digits_len = text.bytes().take_while(u8::is_ascii_digit).count();
    let (digits, unit) = text.split_at(digits_len);
    let unit = unit.trim_start().to_ascii_lowercase();
    let shift = match unit.strip_suffix('b').unwrap_or(&unit) {
        "k" => Some(10),
        "m" => Some(20),
        "g" => Some(30),
        _ => None,
    };
    let bad =
        || format!("{text:?} is not a size; write e.g. \"1 MB\", \"512 KB\" or a number of bytes");
    let bytes = match shift {
        Some(shift) if !digits.is_empty() => digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(1 << shift))
            .ok_or_else(bad)?,
        _ => parse_go_int(text)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(bad)?,
    };
    u32::try_from(bytes).map_err(|_| format!("{text:?} is larger than {} bytes", u32::MAX))
}

/// A list from a YAML list, or from a single string the way each of Fabric's decoders splits it.
fn to_list(node: NodeKind, raw: &Raw<'_>) -> Result<Vec<String>, String> {
    let text = match raw {
        Raw::File(Yaml::Sequence(items)) => {
            return items
                .iter()
                .map(|item| scalar_text(&Raw::File(item)))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("list item: {e}"));
        }
        Raw::File(Yaml::Mapping(_)) | Raw::File(Yaml::Tagged(_)) => {
            return Err("expected a list, found a section of keys".to_owned());
        }
        Raw::File(y) => scalar_text(&Raw::File(y))?,
        Raw::Env(s) => (*s).to_owned(),
    };
    Ok(split_list(node, &text))
}

/// `"[a, b]"` is split at commas with blanks trimmed (the orderer's custom decode hook; accepted
/// for the peer too, where Fabric would keep the brackets). Otherwise the orderer takes the whole
/// text as one item and the peer splits at whitespace (viper's `GetStringSlice`).
pub(crate) fn split_list(node: NodeKind, text: &str) -> Vec<String> {
    let trimmed = text.trim();
    if let Some(inner) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        if inner.trim().is_empty() {
            return Vec::new();
        }
        return inner.split(',').map(|s| s.trim().to_owned()).collect();
    }
    match node {
        NodeKind::Peer => text.split_whitespace().map(str::to_owned).collect(),
        NodeKind::Orderer if text.is_empty() => Vec::new(),
        NodeKind::Orderer => vec![text.to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn go_durations() {
        // Mirrors time.ParseDuration's accepted forms.
        assert_eq!(parse_go_duration("7200s"), Ok(secs(7200)));
        assert_eq!(parse_go_duration("1m30s"), Ok(secs(90)));
        assert_eq!(parse_go_duration("1.5h"), Ok(secs(5400)));
        assert_eq!(parse_go_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("3µs"), Ok(Duration::from_micros(3)));
        assert_eq!(parse_go_duration("3us"), Ok(Duration::from_micros(3)));
        assert_eq!(parse_go_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("-0s"), Ok(Duration::ZERO));
        for bad in [
            "",
            "5x",
            "5",
            "s",
            "1..5s",
            "-1s",
            "1s5",
            "9999999999h",
            ".",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn bare_numbers_are_nanoseconds_for_the_peer_only() {
        let peer = to_duration(NodeKind::Peer, &Raw::Env("5"));
        assert_eq!(peer, Ok(Duration::from_nanos(5)));
        assert!(to_duration(NodeKind::Orderer, &Raw::Env("5")).is_err());
        let yaml_int = Yaml::Number(7.into());
        assert_eq!(
            to_duration(NodeKind::Orderer, &Raw::File(&yaml_int)),
            Ok(Duration::from_nanos(7))
        );
    }

    #[test]
    fn byte_sizes() {
        // Mirrors viperutil's byteSizeDecodeHook.
        assert_eq!(parse_byte_size("1 MB"), Ok(1 << 20));
        assert_eq!(parse_byte_size("98 MB"), Ok(98 << 20));
        assert_eq!(parse_byte_size("512k"), Ok(512 << 10));
        assert_eq!(parse_byte_size("2gB"), Ok(2 << 30));
        assert_eq!(parse_byte_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_byte_size("0x10"), Ok(16));
        assert!(parse_byte_size("4 GB").is_err(), "overflows uint32");
        for bad in ["", "MB", "1 TB", "1.5 MB", "-1", "1 MBB"] {
            assert!(parse_byte_size(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn go_ints() {
        assert_eq!(parse_go_int("42"), Some(42));
        assert_eq!(parse_go_int("-42"), Some(-42));
        assert_eq!(parse_go_int("0x1F"), Some(31));
        assert_eq!(parse_go_int("0755"), Some(0o755));
        assert_eq!(parse_go_int("0b101"), Some(5));
        assert_eq!(parse_go_int("1_000"), Some(1000));
        assert_eq!(parse_go_int("0"), Some(0));
        for bad in ["", "-", "08", "1e3", "12a", "_1", "9223372036854775808"] {
            assert_eq!(parse_go_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bools_take_yaml_words_only_from_files() {
        let yes = Yaml::String("yes".into());
        assert_eq!(to_bool(&Raw::File(&yes)), Ok(true));
        assert!(to_bool(&Raw::Env("yes")).is_err());
        assert_eq!(to_bool(&Raw::Env("TRUE")), Ok(true));
        assert_eq!(to_bool(&Raw::Env("0")), Ok(false));
        assert!(to_bool(&Raw::Env("maybe")).is_err());
    }

    #[test]
    fn lists_from_one_string() {
        let both = [NodeKind::Peer, NodeKind::Orderer];
        for node in both {
            assert_eq!(split_list(node, "[a, b ,c]"), ["a", "b", "c"]);
            assert!(split_list(node, "[]").is_empty());
            assert!(split_list(node, "").is_empty());
        }
        assert_eq!(
            split_list(NodeKind::Peer, "p0:7051  p1:7051"),
            ["p0:7051", "p1:7051"]
        );
        assert_eq!(split_list(NodeKind::Orderer, "a b"), ["a b"]);
    }

    #[test]
    fn host_ports() {
        for good in ["0.0.0.0:7051", "peer0.org1:7051", "[::1]:7051", ":7051", ""] {
            assert_eq!(check_host_port(good), Ok(()), "{good:?}");
        }
        for bad in [
            "peer0",
            "peer0:port",
            "peer0:70510",
            "::1:7051",
            "[::1:7051",
        ] {
            assert!(check_host_port(bad).is_err(), "{bad:?} accepted");
        }
    }
}
