//! A parsed configuration file with environment overrides applied, checked against the schema.
//!
//! Loading follows Fabric's order: read the YAML file, let an environment variable replace any
//! known key (whether or not the file has it), then resolve relative paths against the file's
//! directory. Unlike Fabric's peer, which reads whatever keys it needs and ignores the rest,
//! every key in the file must belong to the schema, and every value must have the right shape;
//! all problems are reported together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value as Yaml};

use crate::env::{prefix, var_name};
use crate::paths::translate_path;
use crate::schema::{Kind, Node, Schema, Support};
use crate::values::{Raw, Value, convert};
use crate::{ConfigError, Env, NodeKind, Problem};

/// Largest configuration file read (the samples are ~30 KB).
pub const MAX_CONFIG_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The configuration file.
    File,
    /// The named environment variable.
    Env(String),
}

/// One setting, typed by its key's kind (paths already resolved).
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// The value.
    pub value: Value,
    /// Where it came from.
    pub source: Source,
}

/// A setting Weft accepts but does not act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedSetting {
    /// The dotted key path.
    pub key: String,
    /// Where it came from.
    pub source: Source,
}

/// A configuration file with its environment overrides, checked against Fabric's schema.
#[derive(Clone, Debug)]
pub struct Document {
    node: NodeKind,
    file: PathBuf,
    dir: PathBuf,
    settings: BTreeMap<&'static str, Setting>,
    free_form: Vec<AcceptedSetting>,
    ignored_env: Vec<String>,
}

impl Document {
    /// Reads and checks the file at `path`.
    pub fn load(node: NodeKind, path: &Path, env: &Env) -> Result<Document, ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let size_bytes = std::fs::metadata(path).map_err(read_err)?.len();
        if size_bytes > MAX_CONFIG_FILE_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
                size_bytes,
                max_bytes: MAX_CONFIG_FILE_BYTES,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        Document::parse(node, &text, path, env)
    }

    /// Checks YAML `text` as if read from `path` (whose directory anchors relative paths).
    pub fn parse(
        node: NodeKind,
        text: &str,
        path: &Path,
        env: &Env,
    ) -> Result<Document, ConfigError> {
        let root: Yaml = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut doc = Document {
            node,
            file: path.to_path_buf(),
            dir,
            settings: BTreeMap::new(),
            free_form: Vec::new(),
            ignored_env: Vec::new(),
        };
        let mut problems = Vec::new();
        match &root {
            Yaml::Mapping(map) => doc.read_section("", map, &mut problems),
            Yaml::Null => {}
            other => problems.push(Problem {
                key: "(top level)".to_owned(),
                env_var: None,
                message: format!("expected sections of keys, found {other:?}"),
            }),
        }
        doc.read_env(env, &mut problems);
        doc.resolve_paths();
        if problems.is_empty() {
            Ok(doc)
        } else {
            problems.sort_by(|a, b| a.key.cmp(&b.key));
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    fn schema(&self) -> &'static Schema {
        Schema::of(self.node)
    }

    fn read_section(&mut self, prefix: &str, map: &Mapping, problems: &mut Vec<Problem>) {
        let mut seen = BTreeSet::new();
        for (k, v) in map {
            let Some(name) = k.as_str() else {
                problems.push(file_problem(
                    prefix,
                    "a key that is not text",
                    &format!("{k:?} must be a text key"),
                ));
                continue;
            };
            let path = join(prefix, name);
            if !seen.insert(name.to_ascii_lowercase()) {
                problems.push(file_problem(
                    &path,
                    "",
                    "appears twice (key names ignore case); keep one",
                ));
                continue;
            }
            match self.schema().node(&path) {
                Node::Leaf(spec) => {
                    if is_absent(v) {
                        continue;
                    }
                    match convert(self.node, spec.kind, Raw::File(v)) {
                        Ok(value) => {
                            self.settings.insert(
                                spec.path,
                                Setting {
                                    value,
                                    source: Source::File,
                                },
                            );
                        }
                        Err(why) => problems.push(file_problem(spec.path, "", &why)),
                    }
                }
                Node::Section(canonical) => match v {
                    Yaml::Mapping(inner) => self.read_section(canonical, inner, problems),
                    v if is_absent(v) => {}
                    _ => problems.push(file_problem(
                        canonical,
                        "",
                        "is a section of keys, not a single value; indent its keys under it",
                    )),
                },
                Node::InOpenSection => self.free_form.push(AcceptedSetting {
                    key: path,
                    source: Source::File,
                }),
                Node::Unknown => {
                    problems.push(file_problem(&path, "", &self.unknown_message(&path)))
                }
            }
        }
    }

    fn unknown_message(&self, path: &str) -> String {
        let file = match self.node {
            NodeKind::Peer => "core.yaml",
            NodeKind::Orderer => "orderer.yaml",
        };
        let hint = match suggest(self.schema(), path) {
            Some(near) => format!("; did you mean {near}?"),
            None => String::new(),
        };
        format!(
            "is not a key of Fabric's {file}{hint} (remove it, fix its spelling or nesting; \
             Weft-only settings belong under `weft:`)"
        )
    }

    fn read_env(&mut self, env: &Env, problems: &mut Vec<Problem>) {
        let mut known_vars = BTreeSet::new();
        for spec in self.schema().keys {
            let var = var_name(self.node, spec.path);
            if let Some(text) = env.get(&var) {
                match convert(self.node, spec.kind, Raw::Env(text)) {
                    Ok(value) => {
                        let source = Source::Env(var.clone());
                        self.settings.insert(spec.path, Setting { value, source });
                    }
                    Err(why) => problems.push(Problem {
                        key: spec.path.to_owned(),
                        env_var: Some(var.clone()),
                        message: why,
                    }),
                }
            }
            known_vars.insert(var);
        }
        // Variables inside free-form values or sections belong to them; any other variable with
        // the prefix names nothing Fabric reads (Fabric ignores those too, and shells that drive
        // Fabric's CLI often export such names, e.g. ORDERER_CA), so it is only reported.
        let free_form_prefixes: Vec<String> = self
            .schema()
            .keys
            .iter()
            .filter(|k| k.kind == Kind::Any)
            .map(|k| k.path)
            .chain(self.schema().open_sections.iter().copied())
            .map(|p| var_name(self.node, p) + "_")
            .collect();
        for (var, _) in env.with_prefix(prefix(self.node)) {
            if known_vars.contains(var) {
                continue;
            }
            if free_form_prefixes
                .iter()
                .any(|p| var.starts_with(p.as_str()))
            {
                self.free_form.push(AcceptedSetting {
                    key: var.to_owned(),
                    source: Source::Env(var.to_owned()),
                });
            } else {
                self.ignored_env.push(var.to_owned());
            }
        }
    }

    // Fabric resolves these at the time it reads them, from file and environment alike. An empty
    // path stays empty (absent) rather than becoming the config directory as the orderer's
    // in-place translation would make it.
    fn resolve_paths(&mut self) {
        for (path, setting) in &mut self.settings {
            let Some(spec) = Schema::of(self.node).leaf(path) else {
                continue;
            };
            match (spec.kind, &mut setting.value) {
                (Kind::Path, Value::Str(s)) if !s.is_empty() => {
                    *s = translate_path(&self.dir, s).to_string_lossy().into_owned();
                }
                (Kind::PathList, Value::List(items)) => {
                    for s in items.iter_mut().filter(|s| !s.is_empty()) {
                        *s = translate_path(&self.dir, s).to_string_lossy().into_owned();
                    }
                }
                _ => {}
            }
        }
    }

    /// Which node's file this is.
    pub fn node(&self) -> NodeKind {
        self.node
    }

    /// The file read.
    pub fn config_file(&self) -> &Path {
        &self.file
    }

    /// The directory relative paths were resolved against.
    pub fn config_dir(&self) -> &Path {
        &self.dir
    }

    /// The setting for a key (any case), if the file or environment gave one.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        let spec = self.schema().leaf(key)?;
        self.settings.get(spec.path)
    }

    /// All settings given, by canonical key path.
    pub fn settings(&self) -> impl Iterator<Item = (&'static str, &Setting)> {
        self.settings.iter().map(|(k, s)| (*k, s))
    }

    /// Settings that are part of Fabric's schema but that Weft does not act on: log these once
    /// at start so operators know they have no effect.
    pub fn accepted_but_unused(&self) -> Vec<AcceptedSetting> {
        let schema = self.schema();
        self.settings
            .iter()
            .filter(|(k, _)| {
                schema
                    .leaf(k)
                    .is_some_and(|s| s.support == Support::Accepted)
            })
            .map(|(k, s)| AcceptedSetting {
                key: (*k).to_owned(),
                source: s.source.clone(),
            })
            .chain(self.free_form.iter().cloned())
            .collect()
    }

    /// Environment variables with the node's prefix that name no setting (Fabric ignores them
    /// silently; log them, as they are often typos).
    pub fn ignored_env(&self) -> &[String] {
        &self.ignored_env
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn is_absent(v: &Yaml) -> bool {
    matches!(v, Yaml::Null) || matches!(v, Yaml::String(s) if s.is_empty())
}

fn file_problem(path: &str, what: &str, message: &str) -> Problem {
    let key = if what.is_empty() {
        path.to_owned()
    } else {
        join(path, what)
    };
    Problem {
        key,
        env_var: None,
        message: message.to_owned(),
    }
}

/// The known key or section closest in spelling to an unknown `path` under the same parent.
fn suggest(schema: &Schema, path: &str) -> Option<String> {
    let (parent, name) = path.rsplit_once('.').unwrap_or(("", path));
    let depth = if parent.is_empty() {
        0
    } else {
        parent.split('.').count()
    };
    let siblings = schema.keys.iter().filter_map(|k| {
        let segments: Vec<&str> = k.path.split('.').collect();
        let head = segments.get(..depth)?.join(".");
        head.eq_ignore_ascii_case(parent)
            .then(|| segments.get(depth).map(|s| (head, *s)))
            .flatten()
    });
    let lower = name.to_ascii_lowercase();
    siblings
        .map(|(head, s)| {
            (
                edit_distance(&lower, &s.to_ascii_lowercase()),
                join(&head, s),
            )
        })
        .filter(|(d, _)| *d <= 2.max(lower.len() / 4))
        .min()
        .map(|(_, p)| p)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
