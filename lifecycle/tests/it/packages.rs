//! Install packages: Fabric's package ID and file layout, and hostile archives (Fabric's
//! persistence tests cover the same refusals: not gzip, non-regular entries, missing files, bad
//! labels).

use std::io::Write;

use weft_lifecycle::package::{self, PackageStore};

pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Dir(&'a str),
}

/// A gzipped tar with raw header names, so hostile paths can be written.
pub fn targz(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        let (name, data, kind): (&str, &[u8], tar::EntryType) = match entry {
            Entry::File(name, data) => (name, data, tar::EntryType::Regular),
            Entry::Symlink(name, _) => (name, &[], tar::EntryType::Symlink),
            Entry::Dir(name) => (name, &[], tar::EntryType::Directory),
        };
        let raw = header.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Entry::Symlink(_, target) = entry {
            raw.linkname[..target.len()].copy_from_slice(target.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

pub fn wasm_package(label: &str, module: &[u8]) -> Vec<u8> {
    let code = targz(&[Entry::File("chaincode.wasm", module)]);
    let metadata = format!(r#"{{"type":"wasm","path":"","label":"{label}"}}"#);
    targz(&[
        Entry::File("metadata.json", metadata.as_bytes()),
        Entry::File("code.tar.gz", &code),
    ])
}

fn error_of(bytes: &[u8]) -> String {
    package::parse_package(bytes).unwrap_err().to_string()
}

// Fabric: persistence.PackageID = label + ":" + hex(sha256(package bytes)); CCFileName replaces
// the first ':' with '.' and appends .tar.gz.
#[test]
fn install_stores_package_under_fabric_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = PackageStore::for_peer(dir.path()).unwrap();
    let bytes = wasm_package("basic_1.0", b"\0asm\x01\0\0\0");
    let (installed, parsed, new) = store.install(&bytes).unwrap();
    assert!(new);
    let hash = hex::encode(openssl::sha::sha256(&bytes));
    assert_eq!(installed.package_id, format!("basic_1.0:{hash}"));
    assert_eq!(installed.label, "basic_1.0");
    assert_eq!(parsed.metadata.package_type, "wasm");
    let file = dir
        .path()
        .join("lifecycle/chaincodes")
        .join(format!("basic_1.0.{hash}.tar.gz"));
    assert_eq!(std::fs::read(&file).unwrap(), bytes);

    let (_, _, again) = store.install(&bytes).unwrap();
    assert!(!again);
    assert_eq!(store.list().unwrap(), vec![installed.clone()]);
    assert_eq!(
        store.get(&installed.package_id).unwrap(),
        Some(installed.clone())
    );
    assert_eq!(store.load(&installed.package_id).unwrap(), bytes);
    assert_eq!(
        store.wasm_module(&installed.package_id).unwrap(),
        b"\0asm\x01\0\0\0"
    );

    // A store reopened on the same directory sees the same packages.
    let reopened = PackageStore::for_peer(dir.path()).unwrap();
    assert_eq!(reopened.list().unwrap(), vec![installed]);
}

// Fabric: Store.Load returns CodePackageNotFoundErr "chaincode install package '%s' not found".
#[test]
fn unknown_and_hostile_package_ids_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = PackageStore::open(dir.path()).unwrap();
    std::fs::write(dir.path().join("stray.txt"), b"x").unwrap();
    let missing = format!("cc:{}", "0".repeat(64));
    let err = store.load(&missing).unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(
        err.to_string(),
        format!("chaincode install package '{missing}' not found")
    );
    for hostile in [
        "../../etc/passwd",
        "a/b:c",
        &format!("../x:{}", "0".repeat(64)),
    ] {
        assert!(store.load(hostile).unwrap_err().is_not_found(), "{hostile}");
        assert_eq!(store.get(hostile).unwrap(), None);
    }
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn packages_fabric_rejects_are_rejected() {
    let code = targz(&[Entry::File("chaincode.wasm", b"x")]);
    let good_md = br#"{"type":"wasm","label":"ok"}"#;

    assert!(error_of(b"not gzip at all").contains("error reading as gzip stream"));
    assert_eq!(
        error_of(&targz(&[Entry::File("metadata.json", good_md)])),
        "did not find a code package inside the package"
    );
    assert_eq!(
        error_of(&targz(&[Entry::File("code.tar.gz", &code)])),
        "did not find any package metadata (missing metadata.json)"
    );
    assert!(
        error_of(&targz(&[
            Entry::File("metadata.json", b"{not json"),
            Entry::File("code.tar.gz", &code),
        ]))
        .starts_with("could not unmarshal metadata.json as json")
    );
    let bad_label = targz(&[
        Entry::File("metadata.json", br#"{"type":"wasm","label":"../evil"}"#),
        Entry::File("code.tar.gz", &code),
    ]);
    assert!(error_of(&bad_label).starts_with("invalid label '../evil'"));
    let empty_label = targz(&[
        Entry::File("metadata.json", br#"{"type":"wasm"}"#),
        Entry::File("code.tar.gz", &code),
    ]);
    assert!(error_of(&empty_label).starts_with("invalid label ''"));
    assert_eq!(
        error_of(&targz(&[
            Entry::Symlink("metadata.json", "/etc/passwd"),
            Entry::File("code.tar.gz", &code),
        ])),
        "tar entry metadata.json is not a regular file, type 2"
    );
    assert!(error_of(&targz(&[Entry::Dir("src/")])).contains("not a regular file"));
}

#[test]
fn hostile_archives_are_refused_without_touching_disk() {
    let code = targz(&[Entry::File("chaincode.wasm", b"x")]);
    for path in ["../metadata.json", "/etc/metadata.json", "a/../../b"] {
        let err = error_of(&targz(&[
            Entry::File(path, b"{}"),
            Entry::File("code.tar.gz", &code),
        ]));
        assert!(err.starts_with("illegal file path"), "{path}: {err}");
    }

    let big_metadata = vec![b' '; 65 * 1024];
    let err = error_of(&targz(&[
        Entry::File("metadata.json", &big_metadata),
        Entry::File("code.tar.gz", &code),
    ]));
    assert!(err.contains("larger than"), "{err}");

    let names: Vec<String> = (0..=package::MAX_TAR_ENTRIES)
        .map(|i| format!("f{i}"))
        .collect();
    let many: Vec<Entry<'_>> = names.iter().map(|n| Entry::File(n, b"")).collect();
    assert!(error_of(&targz(&many)).contains("more than"));

    // Truncated gzip stream.
    let good = wasm_package("ok", b"x");
    assert!(package::parse_package(&good[..good.len() / 2]).is_err());
}

#[test]
fn wasm_module_is_found_in_the_code_package() {
    let named = targz(&[
        Entry::File("src/lib.rs", b"fn main(){}"),
        Entry::File("chaincode.wasm", b"module"),
    ]);
    assert_eq!(package::wasm_module(&named).unwrap(), b"module");
    let single = targz(&[Entry::File("target/basic.wasm", b"other")]);
    assert_eq!(package::wasm_module(&single).unwrap(), b"other");
    let none = targz(&[Entry::File("main.go", b"package main")]);
    assert!(package::wasm_module(&none).is_err());
    let traversal = targz(&[Entry::File("../chaincode.wasm", b"m")]);
    assert!(
        package::wasm_module(&traversal)
            .unwrap_err()
            .to_string()
            .starts_with("illegal file path")
    );
}

#[test]
fn non_wasm_packages_have_no_module() {
    let dir = tempfile::tempdir().unwrap();
    let store = PackageStore::open(dir.path()).unwrap();
    let code = targz(&[Entry::File("main.go", b"package main")]);
    let bytes = targz(&[
        Entry::File(
            "metadata.json",
            br#"{"type":"golang","path":"x","label":"go_1"}"#,
        ),
        Entry::File("code.tar.gz", &code),
    ]);
    let (installed, _, _) = store.install(&bytes).unwrap();
    let err = store
        .wasm_module(&installed.package_id)
        .unwrap_err()
        .to_string();
    assert!(err.contains("type 'golang'"), "{err}");
}
