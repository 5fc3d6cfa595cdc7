//! Environment overrides as Fabric applies them.
//!
//! Both nodes name the variable for a key by upper-casing the dotted path, turning dots into
//! underscores and putting the file's prefix in front: `peer.tls.enabled` is `CORE_PEER_TLS_ENABLED`,
//! `General.ListenPort` is `ORDERER_GENERAL_LISTENPORT`. An empty variable counts as unset (viper
//! without AllowEmptyEnv; viperutil's `override != ""`).

use std::collections::BTreeMap;

use crate::NodeKind;

/// A snapshot of environment variables, taken once so that loading is deterministic and tests
/// need not touch the process environment.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The current process environment (variables that are not valid Unicode are skipped: no
    /// Fabric setting can be named or written with them).
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment holding exactly the given variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of a variable, treating an empty value as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Non-empty variables whose names start with `prefix`.
    pub(crate) fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.vars
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The variable prefix (with its trailing underscore) for a node's settings.
pub fn prefix(node: NodeKind) -> &'static str {
    match node {
        NodeKind::Peer => "CORE_",
        NodeKind::Orderer => "ORDERER_",
    }
}

/// The environment variable that overrides `key_path` for `node`.
pub fn var_name(node: NodeKind, key_path: &str) -> String {
    let mut name = String::from(prefix(node));
    name.extend(key_path.chars().map(|c| {
        if c == '.' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_fabric() {
        assert_eq!(
            var_name(NodeKind::Peer, "peer.tls.enabled"),
            "CORE_PEER_TLS_ENABLED"
        );
        assert_eq!(
            var_name(NodeKind::Orderer, "General.ListenPort"),
            "ORDERER_GENERAL_LISTENPORT"
        );
    }

    #[test]
    fn empty_values_are_unset() {
        let env = Env::from_pairs([("CORE_A", ""), ("CORE_B", "x"), ("CORF", "y")]);
        assert_eq!(env.get("CORE_A"), None);
        let found: Vec<_> = env.with_prefix("CORE_").collect();
        assert_eq!(found, [("CORE_B", "x")]);
    }
}
