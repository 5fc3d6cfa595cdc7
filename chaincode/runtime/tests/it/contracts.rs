//! Builds the shipped contracts once per test run with scripts/build-chaincode (Debian's wasm32
//! toolchain must be installed; the tests fail, not skip, without it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use weft_chaincode_runtime::{Engine, Limits, WasmChaincode};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the build script, writing into `out`; returns its stdout.
pub fn build_into(out: &Path) -> String {
    let output = Command::new(repo_root().join("scripts/build-chaincode"))
        .env("WEFT_CHAINCODE_OUT", out)
        .output()
        .expect("run scripts/build-chaincode");
    assert!(
        output.status.success(),
        "scripts/build-chaincode failed (is Debian's rustc/cargo/libstd-rust-dev-wasm32/lld-14 \
         installed?):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The directory holding the built packages, built on first use.
pub fn built_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = repo_root().join("target/chaincode");
        build_into(&dir);
        dir
    })
}

/// (package id, package bytes) of a shipped contract.
pub fn package(name: &str) -> (String, Vec<u8>) {
    let dir = built_dir();
    let id = std::fs::read_to_string(dir.join(format!("{name}.package-id"))).unwrap();
    let bytes = std::fs::read(dir.join(format!("{name}.tar.gz"))).unwrap();
    (id.trim().to_owned(), bytes)
}

pub fn load(engine: &Engine, name: &str) -> Arc<WasmChaincode> {
    let (id, bytes) = package(name);
    engine.load_package(&id, &bytes).unwrap()
}

pub fn engine() -> Engine {
    Engine::new(Limits::default()).unwrap()
}

#[test]
fn packages_are_reproducible_and_in_fabric_layout() {
    let (id, bytes) = package("crud");
    let again = tempfile::tempdir().unwrap();
    build_into(again.path());
    let rebuilt = std::fs::read(again.path().join("crud.tar.gz")).unwrap();
    assert!(
        bytes == rebuilt,
        "two builds of crud gave different packages"
    );
    assert!(id.starts_with("crud_1.0:"), "{id}");
    assert_eq!(id.len(), "crud_1.0:".len() + 64);

    let parsed = weft_chaincode_runtime::package::parse(&bytes, 16 << 20).unwrap();
    assert_eq!(
        parsed.metadata_json,
        br#"{"type":"wasm","label":"crud_1.0"}"#
    );
    assert_eq!(parsed.label, "crud_1.0");
    assert_eq!(&parsed.wasm[..4], b"\0asm");
}

#[test]
fn engine_compiles_a_package_once_and_shares_it() {
    let engine = engine();
    let (id, bytes) = package("basic");
    let first = engine.load_package(&id, &bytes).unwrap();
    let second = engine.load_package(&id, &bytes).unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(engine.loaded_count(), 1);
    assert_eq!(first.package_id(), id);
    assert!(first.compiled_bytes() > 0);
    assert!(engine.unload(&id));
    assert!(engine.get(&id).is_none());
}

#[test]
fn package_without_wasm_type_is_rejected() {
    let tar_gz = tar_gz(&[("metadata.json", br#"{"type":"golang","label":"x_1"}"#)]);
    let err = engine().load_package("x_1:00", &tar_gz).unwrap_err();
    assert!(err.to_string().contains(r#"its type is "golang""#), "{err}");
    let err = engine()
        .load_package("x_1:00", b"not a tarball")
        .unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
}

/// The SDK and contract unit tests (JSON, codec, composite keys, asset JSON) run natively with
/// the same Debian toolchain that builds the modules.
#[test]
fn sdk_and_contract_unit_tests_pass_with_the_debian_toolchain() {
    for crate_dir in [
        "chaincode/sdk",
        "chaincode/contracts/basic",
        "chaincode/contracts/crud",
    ] {
        let output = Command::new("/usr/bin/cargo")
            .args(["test", "--offline", "--locked", "--manifest-path"])
            .arg(repo_root().join(crate_dir).join("Cargo.toml"))
            .env("RUSTC", "/usr/bin/rustc")
            .env("PATH", "/usr/bin:/bin")
            .env(
                "CARGO_TARGET_DIR",
                repo_root().join("target/chaincode/native-tests"),
            )
            .env_remove("RUSTFLAGS")
            .output()
            .expect("run Debian's cargo (apt-get install cargo rustc)");
        assert!(
            output.status.success(),
            "{crate_dir} unit tests failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for (name, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
    out
}

// A package is client input (install requests): sizes are checked while reading, so a small
// compressed package cannot make the peer inflate an unbounded module.
#[test]
fn oversized_or_incomplete_packages_are_refused() {
    let meta: &[u8] = br#"{"type":"wasm","label":"big_1"}"#;
    let zeros = vec![0u8; 1 << 20];
    let big = tar_gz(&[
        ("metadata.json", meta),
        ("code.tar.gz", &tar_gz(&[("chaincode.wasm", &zeros)])),
    ]);
    assert!(
        big.len() < 64 << 10,
        "the test package should compress well"
    );
    let err = weft_chaincode_runtime::package::parse(&big, 1024).unwrap_err();
    assert!(
        err.to_string()
            .contains("chaincode.wasm is larger than 1024 bytes"),
        "{err}"
    );

    let no_wasm = tar_gz(&[
        ("metadata.json", meta),
        ("code.tar.gz", &tar_gz(&[("main.go", b"package main")])),
    ]);
    let err = weft_chaincode_runtime::package::parse(&no_wasm, 1024).unwrap_err();
    assert!(
        err.to_string()
            .contains("code.tar.gz has no chaincode.wasm"),
        "{err}"
    );

    let bad_meta = tar_gz(&[("metadata.json", b"{"), ("code.tar.gz", b"")]);
    let err = weft_chaincode_runtime::package::parse(&bad_meta, 1024).unwrap_err();
    assert!(
        err.to_string()
            .contains("metadata.json is not Fabric package metadata"),
        "{err}"
    );
}
