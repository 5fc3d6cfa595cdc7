//! Reading Weft's WASM chaincode packages: Fabric's package layout (a gzipped tar holding
//! `metadata.json` and `code.tar.gz`) with `type` `"wasm"` and the module at `chaincode.wasm`
//! inside `code.tar.gz`, as scripts/build-chaincode writes them.

use std::io::Read;

use crate::RuntimeError;

/// The metadata file is a few dozen bytes; anything larger is not one.
const MAX_METADATA_BYTES: u64 = 64 << 10;
/// Entries examined per archive before giving up (a package has two, code.tar.gz one).
const MAX_ENTRIES: usize = 64;

pub const PACKAGE_TYPE: &str = "wasm";
pub const WASM_FILE: &str = "chaincode.wasm";

/// What a package holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmPackage {
    /// `metadata.json`'s `label` (the part of the package id before the colon).
    pub label: String,
    /// `metadata.json` as it is in the package.
    pub metadata_json: Vec<u8>,
    pub wasm: Vec<u8>,
}

/// The fields of Fabric's `metadata.json` this runtime reads (`path` is ignored).
#[derive(serde::Deserialize)]
struct Metadata {
    #[serde(rename = "type")]
    kind: String,
    label: String,
}

fn bad(message: impl Into<String>) -> RuntimeError {
    RuntimeError::Package(message.into())
}

/// Extracts `metadata.json` and the module from a package, reading at most `max_wasm_bytes` of
/// module and checking the metadata declares type `wasm`.
pub fn parse(package: &[u8], max_wasm_bytes: usize) -> Result<WasmPackage, RuntimeError> {
    let max_code = max_wasm_bytes as u64 + (1 << 20);
    let mut metadata_json = None;
    let mut code = None;
    for_each_entry(package, |name, entry| {
        match name {
            "metadata.json" => metadata_json = Some(read_bounded(entry, MAX_METADATA_BYTES, name)?),
            "code.tar.gz" => code = Some(read_bounded(entry, max_code, name)?),
            _ => {}
        }
        Ok(())
    })?;
    let metadata_json = metadata_json.ok_or_else(|| bad("it has no metadata.json"))?;
    let metadata: Metadata = serde_json::from_slice(&metadata_json)
        .map_err(|e| bad(format!("metadata.json is not Fabric package metadata: {e}")))?;
    if !metadata.kind.eq_ignore_ascii_case(PACKAGE_TYPE) {
        return Err(bad(format!(
            "its type is {:?}, but Weft peers run only \"{PACKAGE_TYPE}\" chaincode (see chaincode/README.md)",
            metadata.kind
        )));
    }
    let code = code.ok_or_else(|| bad("it has no code.tar.gz"))?;
    let mut wasm = None;
    for_each_entry(&code, |name, entry| {
        if name == WASM_FILE {
            wasm = Some(read_bounded(entry, max_wasm_bytes as u64, name)?);
        }
        Ok(())
    })?;
    let wasm = wasm.ok_or_else(|| bad(format!("code.tar.gz has no {WASM_FILE}")))?;
    Ok(WasmPackage {
        label: metadata.label,
        metadata_json,
        wasm,
    })
}

fn for_each_entry(
    tar_gz: &[u8],
    mut visit: impl FnMut(&str, &mut dyn Read) -> Result<(), RuntimeError>,
) -> Result<(), RuntimeError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tar_gz));
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("not a gzipped tar archive: {e}")))?;
    for (index, entry) in entries.enumerate() {
        if index >= MAX_ENTRIES {
            return Err(bad(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut entry = entry.map_err(|e| bad(format!("unreadable archive entry: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| bad(format!("bad entry name: {e}")))?
            .to_string_lossy()
            .into_owned();
        visit(name.trim_start_matches("./"), &mut entry)?;
    }
    Ok(())
}

fn read_bounded(entry: &mut dyn Read, max: u64, name: &str) -> Result<Vec<u8>, RuntimeError> {
    let mut out = Vec::new();
    entry
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("cannot read {name}: {e}")))?;
    if out.len() as u64 > max {
        return Err(bad(format!("{name} is larger than {max} bytes")));
    }
    Ok(out)
}
