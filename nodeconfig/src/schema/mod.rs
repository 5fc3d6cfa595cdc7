//! The key schema of Fabric's node configuration files, kept as data.
//!
//! Every key path that Fabric's `core.yaml` / `orderer.yaml` can hold is listed once with the
//! kind of value it takes and whether Weft acts on it. Fabric matches key names without regard to
//! case (viper lowercases them, mapstructure folds case), so lookups here do the same; the
//! spelling in the tables is the one operators see in the sample files, and it is the spelling
//! used in error messages.

mod core;
mod orderer;

use crate::NodeKind;

/// The kind of value a key takes, which decides how a YAML node or an environment string is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any scalar, read as text.
    Str,
    /// A file or directory path that Fabric resolves against the config file's directory.
    Path,
    /// A boolean (Go's `strconv.ParseBool` spellings, plus YAML 1.1 words in files).
    Bool,
    /// A signed integer (Go's base-prefix syntax: `0x..`, `0o..`, `0b..`, leading `0` octal).
    Int,
    /// A floating point number.
    Float,
    /// A duration in Go's `time.ParseDuration` syntax.
    Duration,
    /// A byte count that also takes `k`/`m`/`g` units with an optional `b` ("1 MB").
    ByteSize,
    /// A TCP port number.
    Port,
    /// A `host:port` endpoint.
    HostPort,
    /// A list of strings.
    StrList,
    /// A list of paths resolved against the config file's directory.
    PathList,
    /// A free-form value (a map or a list of maps) that Fabric decodes on its own terms.
    Any,
}

/// Whether Weft acts on a key or only accepts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Weft reads this key into its typed configuration.
    Used,
    /// Part of Fabric's schema; accepted, but Weft does not act on it (yet).
    Accepted,
}

/// One key of a node configuration file.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// The dotted key path as spelled in Fabric's sample file.
    pub path: &'static str,
    /// The kind of value the key takes.
    pub kind: Kind,
    /// Whether Weft acts on it.
    pub support: Support,
}

pub(crate) const fn key(path: &'static str, kind: Kind, support: Support) -> KeySpec {
    KeySpec {
        path,
        kind,
        support,
    }
}

/// The schema of one configuration file: its leaf keys and the sections whose contents are
/// free-form (Fabric decodes them loosely, so unknown keys inside are accepted).
#[derive(Debug)]
pub struct Schema {
    /// All leaf keys.
    pub keys: &'static [KeySpec],
    /// Sections that accept keys beyond the listed ones.
    pub open_sections: &'static [&'static str],
}

/// What a dotted path names in a schema.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Node {
    /// A leaf key.
    Leaf(&'static KeySpec),
    /// A section holding further keys (the canonical spelling of the section path).
    Section(&'static str),
    /// Something inside a free-form section (the section's canonical path).
    InOpenSection,
    /// Not part of the schema.
    Unknown,
}

impl Schema {
    /// The schema for the given node's configuration file.
    pub fn of(kind: NodeKind) -> &'static Schema {
        match kind {
            NodeKind::Peer => &core::CORE_SCHEMA,
            NodeKind::Orderer => &orderer::ORDERER_SCHEMA,
        }
    }

    /// Finds a leaf key by dotted path, ignoring case.
    pub fn leaf(&self, path: &str) -> Option<&'static KeySpec> {
        self.keys.iter().find(|k| k.path.eq_ignore_ascii_case(path))
    }

    /// Classifies a dotted path, ignoring case.
    pub(crate) fn node(&'static self, path: &str) -> Node {
        if let Some(spec) = self.leaf(path) {
            return Node::Leaf(spec);
        }
        if let Some(section) = self.keys.iter().find_map(|k| section_prefix(k.path, path)) {
            return Node::Section(section);
        }
        if let Some(open) = self
            .open_sections
            .iter()
            .find(|s| s.eq_ignore_ascii_case(path))
        {
            return Node::Section(open);
        }
        if self.open_sections.iter().any(|s| {
            path.as_bytes().get(s.len()) == Some(&b'.')
                && path
                    .get(..s.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(s))
        }) {
            return Node::InOpenSection;
        }
        Node::Unknown
    }
}

/// If `path` names a proper section of `key` (`a.b` of `a.b.c`), the section as spelled in `key`.
fn section_prefix(key: &'static str, path: &str) -> Option<&'static str> {
    let head = key.get(..path.len())?;
    let rest = key.get(path.len()..)?;
    (rest.starts_with('.') && head.eq_ignore_ascii_case(path)).then_some(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn key_paths_are_unique_ignoring_case_and_no_leaf_is_also_a_section() {
        for kind in [NodeKind::Peer, NodeKind::Orderer] {
            let schema = Schema::of(kind);
            let mut seen = BTreeSet::new();
            for k in schema.keys {
                assert!(seen.insert(k.path.to_ascii_lowercase()), "{} twice", k.path);
                assert!(
                    !schema
                        .keys
                        .iter()
                        .any(|o| section_prefix(o.path, k.path).is_some()),
                    "{} is both a leaf and a section",
                    k.path
                );
            }
        }
    }

    #[test]
    fn environment_names_do_not_collide() {
        for kind in [NodeKind::Peer, NodeKind::Orderer] {
            let mut seen = BTreeSet::new();
            for k in Schema::of(kind).keys {
                assert!(
                    seen.insert(crate::env::var_name(kind, k.path)),
                    "{}",
                    k.path
                );
            }
        }
    }

    #[test]
    fn classifies_paths_case_insensitively() {
        let schema = Schema::of(NodeKind::Orderer);
        assert!(
            matches!(schema.node("general.listenport"), Node::Leaf(k) if k.path == "General.ListenPort")
        );
        assert!(matches!(
            schema.node("GENERAL.TLS"),
            Node::Section("General.TLS")
        ));
        assert!(matches!(
            schema.node("Consensus.Custom"),
            Node::InOpenSection
        ));
        assert!(matches!(schema.node("General.Nope"), Node::Unknown));
        // A key that merely shares a prefix with a real one is not a section.
        assert!(matches!(schema.node("General.List"), Node::Unknown));
    }
}
