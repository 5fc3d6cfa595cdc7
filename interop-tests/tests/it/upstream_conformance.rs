//! Schema conformance: Weft's `.proto` files against the descriptors that Fabric's published Go
//! bindings (fabric-protos-go-apiv2, pinned in `fabric-protos/upstream-descriptors/go.mod`)
//! register at run time.
//!
//! Both descriptor sets are flattened into "facts": one entry per (path, attribute), e.g.
//! `field .common.Header.channel_header` / `number` -> `1`. Diffing the two fact maps reports every
//! missing, extra or changed item with the path where it lives, so a single run lists all drift
//! rather than stopping at the first.
//!
//! Only wire-relevant facts are compared. Comments, source positions and language options such as
//! `go_package` differ on purpose (our text is our own) and are left out.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::Command;

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    FileDescriptorSet, ServiceDescriptorProto,
};

/// Fact key: what the fact is about (`message .common.Block`) and which attribute it records.
type FactKey = (String, &'static str);

/// Every wire-relevant fact of a descriptor set, keyed by path and attribute.
#[derive(Debug, Default, PartialEq)]
pub struct Facts(BTreeMap<FactKey, String>);

/// One way in which our descriptors differ from upstream's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Upstream has it, we do not.
    Missing {
        path: String,
        attr: &'static str,
        upstream: String,
    },
    /// We have it, upstream does not.
    Extra {
        path: String,
        attr: &'static str,
        ours: String,
    },
    /// Both have it with different values.
    Changed {
        path: String,
        attr: &'static str,
        upstream: String,
        ours: String,
    },
}

impl Drift {
    pub fn path(&self) -> &str {
        match self {
            Drift::Missing { path, .. }
            | Drift::Extra { path, .. }
            | Drift::Changed { path, .. } => path,
        }
    }

    pub fn attr(&self) -> &'static str {
        match self {
            Drift::Missing { attr, .. }
            | Drift::Extra { attr, .. }
            | Drift::Changed { attr, .. } => attr,
        }
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Missing {
                path,
                attr,
                upstream,
            } => {
                write!(f, "missing  {path} [{attr}] (upstream: {upstream})")
            }
            Drift::Extra { path, attr, ours } => {
                write!(f, "extra    {path} [{attr}] (ours: {ours})")
            }
            Drift::Changed {
                path,
                attr,
                upstream,
                ours,
            } => {
                write!(
                    f,
                    "changed  {path} [{attr}]: upstream {upstream}, ours {ours}"
                )
            }
        }
    }
}

impl Facts {
    pub fn of(set: &FileDescriptorSet) -> Facts {
        let mut facts = Facts::default();
        for file in &set.file {
            facts.add_file(file);
        }
        facts
    }

    fn put(&mut self, path: String, attr: &'static str, value: impl ToString) {
        let previous = self.0.insert((path.clone(), attr), value.to_string());
        assert!(previous.is_none(), "two descriptors claim {path} [{attr}]");
    }

    fn add_file(&mut self, file: &FileDescriptorProto) {
        let name = file.name().to_string();
        let path = format!("file {name}");
        self.put(path.clone(), "package", file.package());
        self.put(path, "syntax", file.syntax());
        let scope = if file.package().is_empty() {
            String::new()
        } else {
            format!(".{}", file.package())
        };
        for message in &file.message_type {
            self.add_message(&name, &scope, message);
        }
        for enumeration in &file.enum_type {
            self.add_enum(&name, &scope, enumeration);
        }
        for service in &file.service {
            self.add_service(&name, &scope, service);
        }
    }

    fn add_message(&mut self, file: &str, scope: &str, message: &DescriptorProto) {
        let full = format!("{scope}.{}", message.name());
        let path = format!("message {full}");
        self.put(path.clone(), "file", file);
        let map_entry = message
            .options
            .as_ref()
            .and_then(|o| o.map_entry)
            .unwrap_or(false);
        self.put(path.clone(), "map_entry", map_entry);
        self.put(path.clone(), "reserved_ranges", reserved_ranges(message));
        let mut names = message.reserved_name.clone();
        names.sort();
        self.put(path.clone(), "reserved_names", names.join(","));
        let mut ranges: Vec<String> = message
            .extension_range
            .iter()
            .map(|r| format!("{}..{}", r.start(), r.end()))
            .collect();
        ranges.sort();
        self.put(path, "extension_ranges", ranges.join(","));

        for oneof in &message.oneof_decl {
            self.put(format!("oneof {full}.{}", oneof.name()), "declared", true);
        }
        for field in &message.field {
            self.add_field(&full, message, field);
        }
        for nested in &message.nested_type {
            self.add_message(file, &full, nested);
        }
        for enumeration in &message.enum_type {
            self.add_enum(file, &full, enumeration);
        }
    }

    fn add_field(&mut self, owner: &str, message: &DescriptorProto, field: &FieldDescriptorProto) {
        let path = format!("field {owner}.{}", field.name());
        self.put(path.clone(), "number", field.number());
        self.put(path.clone(), "label", field.label().as_str_name());
        self.put(path.clone(), "type", field.r#type().as_str_name());
        self.put(path.clone(), "type_name", field.type_name());
        let oneof = field
            .oneof_index
            .and_then(|i| message.oneof_decl.get(usize::try_from(i).ok()?))
            .map(|o| o.name().to_string())
            .unwrap_or_default();
        self.put(path.clone(), "oneof", oneof);
        self.put(path.clone(), "proto3_optional", field.proto3_optional());
        // protoc fills json_name in; a descriptor that leaves it out means the default spelling,
        // so compare the name a JSON codec would actually use.
        let json_name = field
            .json_name
            .clone()
            .unwrap_or_else(|| json_camel_case(field.name()));
        self.put(path.clone(), "json_name", json_name);
        let packed = field.options.as_ref().and_then(|o| o.packed);
        self.put(path.clone(), "packed", format!("{packed:?}"));
        self.put(path, "default_value", field.default_value());
    }

    fn add_enum(&mut self, file: &str, scope: &str, enumeration: &EnumDescriptorProto) {
        let full = format!("{scope}.{}", enumeration.name());
        let path = format!("enum {full}");
        self.put(path.clone(), "file", file);
        let mut ranges: Vec<String> = enumeration
            .reserved_range
            .iter()
            .map(|r| format!("{}..={}", r.start(), r.end()))
            .collect();
        ranges.sort();
        self.put(path.clone(), "reserved_ranges", ranges.join(","));
        let mut names = enumeration.reserved_name.clone();
        names.sort();
        self.put(path.clone(), "reserved_names", names.join(","));
        let allow_alias = enumeration.options.as_ref().and_then(|o| o.allow_alias);
        self.put(path, "allow_alias", format!("{allow_alias:?}"));
        // Enum values live in the enclosing scope in protobuf, but reporting them under the enum
        // reads better.
        for value in &enumeration.value {
            self.put(
                format!("enum value {full}.{}", value.name()),
                "number",
                value.number(),
            );
        }
    }

    fn add_service(&mut self, file: &str, scope: &str, service: &ServiceDescriptorProto) {
        let full = format!("{scope}.{}", service.name());
        self.put(format!("service {full}"), "file", file);
        for method in &service.method {
            let path = format!("method {full}.{}", method.name());
            self.put(path.clone(), "input_type", method.input_type());
            self.put(path.clone(), "output_type", method.output_type());
            self.put(path.clone(), "client_streaming", method.client_streaming());
            self.put(path, "server_streaming", method.server_streaming());
        }
    }

    /// Everything in which `ours` differs from `upstream`, in path order.
    pub fn drift(upstream: &Facts, ours: &Facts) -> Vec<Drift> {
        let mut drift = Vec::new();
        for ((path, attr), theirs) in &upstream.0 {
            match ours.0.get(&(path.clone(), attr)) {
                None => drift.push(Drift::Missing {
                    path: path.clone(),
                    attr,
                    upstream: theirs.clone(),
                }),
                Some(mine) if mine != theirs => drift.push(Drift::Changed {
                    path: path.clone(),
                    attr,
                    upstream: theirs.clone(),
                    ours: mine.clone(),
                }),
                Some(_) => {}
            }
        }
        for ((path, attr), mine) in &ours.0 {
            if !upstream.0.contains_key(&(path.clone(), *attr)) {
                drift.push(Drift::Extra {
                    path: path.clone(),
                    attr,
                    ours: mine.clone(),
                });
            }
        }
        drift.sort_by(|a, b| (a.path(), a.attr()).cmp(&(b.path(), b.attr())));
        drift
    }
}

fn reserved_ranges(message: &DescriptorProto) -> String {
    // Message reserved ranges are half-open [start, end).
    let mut ranges: Vec<String> = message
        .reserved_range
        .iter()
        .map(|r| format!("{}..{}", r.start(), r.end()))
        .collect();
    ranges.sort();
    ranges.join(",")
}

/// The JSON name protoc derives from a field name: underscores dropped, the next letter upper-cased.
fn json_camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper_next = false;
    for c in name.chars() {
        if c == '_' {
            upper_next = true;
        } else if upper_next {
            out.extend(c.to_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Our compiled descriptors, without the protobuf well-known types that protox bundles in: those
/// come from the protobuf runtime on both sides and are not part of Fabric's schema.
fn ours() -> FileDescriptorSet {
    let mut set = FileDescriptorSet::decode(fabric_protos::FILE_DESCRIPTOR_SET)
        .expect("fabric_protos::FILE_DESCRIPTOR_SET is not a FileDescriptorSet");
    set.file
        .retain(|f| !f.name().starts_with("google/protobuf/"));
    set
}

/// Builds and runs the Go dumper, which needs the Go toolchain (and, on the first run, network
/// access or a warm module cache for fabric-protos-go-apiv2).
fn upstream() -> FileDescriptorSet {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fabric-protos/upstream-descriptors");
    let output = Command::new("go")
        .arg("run")
        .arg(".")
        .current_dir(&dir)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => panic!(
            "cannot run `go` ({e}): the conformance test needs the Go toolchain (1.23+) on PATH \
             to read the descriptors of fabric-protos-go-apiv2; install Go and re-run"
        ),
    };
    assert!(
        output.status.success(),
        "`go run .` in {} failed ({}):\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    FileDescriptorSet::decode(output.stdout.as_slice())
        .expect("the Go dumper did not print a FileDescriptorSet")
}

/// Our schema carries exactly the wire facts of the schema Fabric's Go bindings were generated
/// from: same files and packages, messages, fields, enums, reserved items and services.
#[test]
fn conformance_our_protos_match_upstream_descriptors() {
    let upstream = upstream();
    let ours = ours();
    // A dumper that lost its imports would print an empty set and every one of our files would
    // show up as extra; this says what went wrong first.
    assert!(
        upstream.file.len() >= ours.file.len(),
        "the Go dumper listed {} files and we have {}; is an import missing from main.go?",
        upstream.file.len(),
        ours.file.len()
    );
    let drift = Facts::drift(&Facts::of(&upstream), &Facts::of(&ours));
    let report: Vec<String> = drift.iter().map(ToString::to_string).collect();
    assert!(
        drift.is_empty(),
        "{} difference(s) between upstream descriptors and ours:\n{}",
        drift.len(),
        report.join("\n")
    );
}

// ---- The comparator must catch drift ----------------------------------------------------------

fn message_mut<'a>(
    set: &'a mut FileDescriptorSet,
    package: &str,
    name: &str,
) -> &'a mut DescriptorProto {
    set.file
        .iter_mut()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.message_type.iter_mut())
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no message {package}.{name} in our descriptors"))
}

fn field_mut<'a>(message: &'a mut DescriptorProto, name: &str) -> &'a mut FieldDescriptorProto {
    message.field.iter_mut().find(|f| f.name() == name).unwrap()
}

fn enum_mut<'a>(
    set: &'a mut FileDescriptorSet,
    package: &str,
    name: &str,
) -> &'a mut EnumDescriptorProto {
    set.file
        .iter_mut()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.enum_type.iter_mut())
        .find(|e| e.name() == name)
        .unwrap()
}

fn service_mut<'a>(
    set: &'a mut FileDescriptorSet,
    package: &str,
    name: &str,
) -> &'a mut ServiceDescriptorProto {
    set.file
        .iter_mut()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.service.iter_mut())
        .find(|s| s.name() == name)
        .unwrap()
}

/// Applies `mutate` to a copy of our descriptors and returns what the comparator reports.
fn drift_after(mutate: impl FnOnce(&mut FileDescriptorSet)) -> Vec<Drift> {
    let reference = ours();
    let mut mutated = reference.clone();
    mutate(&mut mutated);
    Facts::drift(&Facts::of(&reference), &Facts::of(&mutated))
}

fn changed(path: &str, attr: &'static str, upstream: &str, ours: &str) -> Drift {
    Drift::Changed {
        path: path.into(),
        attr,
        upstream: upstream.into(),
        ours: ours.into(),
    }
}

#[test]
fn conformance_comparator_reports_no_drift_for_identical_sets() {
    assert_eq!(drift_after(|_| {}), Vec::new());
}

#[test]
fn conformance_comparator_catches_a_changed_field_number() {
    let drift = drift_after(|set| {
        field_mut(message_mut(set, "common", "ChannelHeader"), "tx_id").number = Some(15);
    });
    assert_eq!(
        drift,
        vec![changed(
            "field .common.ChannelHeader.tx_id",
            "number",
            "5",
            "15"
        )]
    );
}

#[test]
fn conformance_comparator_catches_a_changed_field_type() {
    let drift = drift_after(|set| {
        field_mut(message_mut(set, "common", "BlockHeader"), "number").set_type(Type::Int64);
    });
    assert_eq!(
        drift,
        vec![changed(
            "field .common.BlockHeader.number",
            "type",
            "TYPE_UINT64",
            "TYPE_INT64"
        )]
    );
}

#[test]
fn conformance_comparator_catches_a_changed_label() {
    let drift = drift_after(|set| {
        field_mut(message_mut(set, "common", "Envelope"), "signature").set_label(Label::Repeated);
    });
    assert_eq!(
        drift,
        vec![changed(
            "field .common.Envelope.signature",
            "label",
            "LABEL_OPTIONAL",
            "LABEL_REPEATED"
        )]
    );
}

#[test]
fn conformance_comparator_catches_a_dropped_enum_value() {
    let drift = drift_after(|set| {
        enum_mut(set, "common", "HeaderType")
            .value
            .retain(|v| v.name() != "CONFIG_UPDATE");
    });
    assert_eq!(
        drift,
        vec![Drift::Missing {
            path: "enum value .common.HeaderType.CONFIG_UPDATE".into(),
            attr: "number",
            upstream: "2".into(),
        }]
    );
}

#[test]
fn conformance_comparator_catches_a_flipped_streaming_flag() {
    let drift = drift_after(|set| {
        let deliver = service_mut(set, "protos", "Deliver");
        let method = deliver
            .method
            .iter_mut()
            .find(|m| m.name() == "Deliver")
            .unwrap();
        method.client_streaming = Some(false);
    });
    assert_eq!(
        drift,
        vec![changed(
            "method .protos.Deliver.Deliver",
            "client_streaming",
            "true",
            "false"
        )]
    );
}

#[test]
fn conformance_comparator_catches_a_renamed_message() {
    let drift = drift_after(|set| {
        message_mut(set, "common", "LastConfig").name = Some("FinalConfig".into());
    });
    let paths: Vec<(&str, bool)> = drift
        .iter()
        .map(|d| (d.path(), matches!(d, Drift::Missing { .. })))
        .collect();
    // The old name disappears together with its field, and the new one appears.
    assert!(
        paths.contains(&("message .common.LastConfig", true)),
        "{drift:#?}"
    );
    assert!(
        paths.contains(&("field .common.LastConfig.index", true)),
        "{drift:#?}"
    );
    assert!(
        paths.contains(&("message .common.FinalConfig", false)),
        "{drift:#?}"
    );
    assert!(
        paths.contains(&("field .common.FinalConfig.index", false)),
        "{drift:#?}"
    );
    assert!(
        drift
            .iter()
            .all(|d| d.path().contains("LastConfig") || d.path().contains("FinalConfig")),
        "{drift:#?}"
    );
}

#[test]
fn conformance_comparator_catches_a_field_leaving_its_oneof() {
    let drift = drift_after(|set| {
        field_mut(message_mut(set, "orderer", "SeekPosition"), "oldest").oneof_index = None;
    });
    assert_eq!(
        drift,
        vec![changed(
            "field .orderer.SeekPosition.oldest",
            "oneof",
            "Type",
            ""
        )]
    );
}

#[test]
fn conformance_comparator_catches_a_map_turned_into_a_list() {
    let drift = drift_after(|set| {
        let group = message_mut(set, "common", "ConfigGroup");
        let entry = group
            .nested_type
            .iter_mut()
            .find(|m| m.name() == "GroupsEntry")
            .unwrap();
        entry.options = None;
    });
    assert_eq!(
        drift,
        vec![changed(
            "message .common.ConfigGroup.GroupsEntry",
            "map_entry",
            "true",
            "false"
        )]
    );
}

#[test]
fn conformance_comparator_catches_dropped_reserved_items() {
    let drift = drift_after(|set| {
        let config = message_mut(set, "common", "Config");
        config.reserved_name.clear();
        config.reserved_range.clear();
    });
    assert_eq!(
        drift,
        vec![
            changed("message .common.Config", "reserved_names", "type", ""),
            changed("message .common.Config", "reserved_ranges", "3..4", ""),
        ]
    );
}

#[test]
fn conformance_comparator_reports_every_drift_at_once() {
    let drift = drift_after(|set| {
        field_mut(message_mut(set, "common", "ChannelHeader"), "epoch").number = Some(60);
        field_mut(message_mut(set, "common", "Payload"), "data").set_type(Type::String);
        set.file
            .iter_mut()
            .find(|f| f.name() == "common/ledger.proto")
            .unwrap()
            .package = Some("ledger".into());
    });
    let attrs: Vec<(&str, &str)> = drift.iter().map(|d| (d.path(), d.attr())).collect();
    assert!(
        attrs.contains(&("field .common.ChannelHeader.epoch", "number")),
        "{attrs:?}"
    );
    assert!(
        attrs.contains(&("field .common.Payload.data", "type")),
        "{attrs:?}"
    );
    assert!(
        attrs.contains(&("file common/ledger.proto", "package")),
        "{attrs:?}"
    );
}

#[test]
fn conformance_json_camel_case_matches_protoc_spelling() {
    assert_eq!(json_camel_case("channel_header"), "channelHeader");
    assert_eq!(json_camel_case("TransientMap"), "TransientMap");
    assert_eq!(json_camel_case("tls_cert_hash"), "tlsCertHash");
}
