//! Typed reads of a checked [`Document`], collecting range and consistency problems.

use std::path::PathBuf;
use std::time::Duration;

use serde_yaml_ng::Value as Yaml;

use crate::document::{Document, Source};
use crate::values::Value;
use crate::{ConfigError, Problem};

pub(crate) struct Reader<'a> {
    doc: &'a Document,
    problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(doc: &'a Document) -> Reader<'a> {
        Reader {
            doc,
            problems: Vec::new(),
        }
    }

    fn value(&self, key: &str) -> Option<&'a Value> {
        debug_assert!(
            crate::schema::Schema::of(self.doc.node())
                .leaf(key)
                .is_some(),
            "{key} is not in the schema"
        );
        self.doc.get(key).map(|s| &s.value)
    }

    /// Non-empty text.
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        match self.value(key) {
            Some(Value::Str(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }

    pub(crate) fn path(&self, key: &str) -> Option<PathBuf> {
        self.str(key).map(PathBuf::from)
    }

    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        match self.value(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn duration(&self, key: &str) -> Option<Duration> {
        match self.value(key) {
            Some(Value::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    /// A duration where Fabric treats zero as "use the default".
    pub(crate) fn nonzero_duration(&self, key: &str) -> Option<Duration> {
        self.duration(key).filter(|d| !d.is_zero())
    }

    pub(crate) fn port(&self, key: &str) -> Option<u16> {
        match self.value(key) {
            Some(Value::Port(p)) => Some(*p),
            _ => None,
        }
    }

    pub(crate) fn bytes(&self, key: &str) -> Option<u32> {
        match self.value(key) {
            Some(Value::Bytes(b)) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn list(&self, key: &str) -> Vec<String> {
        match self.value(key) {
            Some(Value::List(items)) => items.iter().filter(|s| !s.is_empty()).cloned().collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn paths(&self, key: &str) -> Vec<PathBuf> {
        self.list(key).into_iter().map(PathBuf::from).collect()
    }

    pub(crate) fn any(&self, key: &str) -> Option<&'a Yaml> {
        match self.value(key) {
            Some(Value::Any(y)) => Some(y),
            _ => None,
        }
    }

    /// An integer that must lie in `min..=max` (and fit `T`).
    pub(crate) fn int<T: TryFrom<i64>>(&mut self, key: &str, min: i64, max: i64) -> Option<T> {
        let n = match self.value(key) {
            Some(Value::Int(n)) => *n,
            _ => return None,
        };
        match T::try_from(n) {
            Ok(v) if (min..=max).contains(&n) => Some(v),
            _ => {
                self.problem(
                    key,
                    format!("{n} is out of range; use a whole number from {min} to {max}"),
                );
                None
            }
        }
    }

    /// Records a problem with `key`, naming the environment variable if the value came from one.
    pub(crate) fn problem(&mut self, key: &str, message: impl Into<String>) {
        let env_var = match self.doc.get(key).map(|s| &s.source) {
            Some(Source::Env(var)) => Some(var.clone()),
            _ => None,
        };
        self.problems.push(Problem {
            key: key.to_owned(),
            env_var,
            message: message.into(),
        });
    }

    /// Requires the file named by `key` to exist (it is read when the node starts).
    pub(crate) fn require_file(&mut self, key: &str, path: Option<&PathBuf>, why: &str) {
        match path {
            None => self.problem(key, format!("is not set, but {why}; set it to a file")),
            Some(p) => self.check_exists(key, p, false),
        }
    }

    /// Requires a directory or file that the node reads at start to exist.
    pub(crate) fn check_exists(&mut self, key: &str, p: &PathBuf, dir: bool) {
        let ok = if dir { p.is_dir() } else { p.is_file() };
        if !ok {
            let what = if dir { "directory" } else { "file" };
            self.problem(
                key,
                format!("{what} {p:?} does not exist; fix the path (relative paths are resolved against the config file's directory where Fabric does so)"),
            );
        }
    }

    pub(crate) fn finish<T>(mut self, value: T) -> Result<T, ConfigError> {
        if self.problems.is_empty() {
            return Ok(value);
        }
        self.problems.sort_by(|a, b| a.key.cmp(&b.key));
        Err(ConfigError::Invalid {
            path: self.doc.config_file().to_path_buf(),
            problems: self.problems,
        })
    }
}
