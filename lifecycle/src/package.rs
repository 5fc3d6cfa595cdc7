//! Chaincode install packages and the peer's store of them (Fabric's
//! `core/chaincode/persistence`).
//!
//! A package is a gzipped tar with two regular files at the top: `metadata.json`
//! (`{"type","path","label"}`) and `code.tar.gz`. Its ID is `<label>:<hex sha256 of the package
//! bytes>`, and the store keeps it as `<dir>/<label>.<hash>.tar.gz`, so a Go peer's chaincode
//! directory and ours hold the same files. Packages arrive from clients: every size is bounded,
//! nothing is extracted to disk, and entries with absolute or `..` paths are refused.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::error::LifecycleError;

/// The largest install package accepted (the peer's gRPC message limit).
pub const MAX_PACKAGE_BYTES: usize = 100 * 1024 * 1024;
/// The most a package (or its code package) may decompress to; stops gzip bombs.
pub const MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;
/// The most tar entries read from a package or a code package.
pub const MAX_TAR_ENTRIES: usize = 4096;
/// The largest `metadata.json` accepted.
pub const MAX_METADATA_BYTES: u64 = 64 * 1024;
/// The largest label accepted (labels become file names).
pub const MAX_LABEL_BYTES: usize = 128;

/// The metadata file at the top of a package.
pub const METADATA_FILE: &str = "metadata.json";
/// The code archive at the top of a package.
pub const CODE_PACKAGE_FILE: &str = "code.tar.gz";
/// The package type of Weft's WASM chaincode.
pub const WASM_PACKAGE_TYPE: &str = "wasm";
/// The module a WASM package's code archive carries.
pub const WASM_MODULE_FILE: &str = "chaincode.wasm";

/// `metadata.json` of a package. Missing members read as empty, as with Go's JSON decoder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PackageMetadata {
    #[serde(default, rename = "type")]
    pub package_type: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub label: String,
}

/// A parsed install package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodePackage {
    pub metadata: PackageMetadata,
    /// The bytes of `code.tar.gz`.
    pub code_package: Vec<u8>,
}

/// An installed package, as listed from the store's file names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InstalledPackage {
    pub package_id: String,
    pub label: String,
    pub hash: [u8; 32],
}

/// Fabric's package ID: `<label>:<hex sha256(package)>`.
pub fn package_id(label: &str, package: &[u8]) -> String {
    format!("{label}:{}", hex::encode(openssl::sha::sha256(package)))
}

/// Fabric's label rule: `^[[:alnum:]][[:alnum:]_.+-]*$` (ASCII), plus a length bound.
pub fn validate_label(label: &str) -> Result<(), LifecycleError> {
    let mut chars = label.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    if first_ok && rest_ok && label.len() <= MAX_LABEL_BYTES {
        return Ok(());
    }
    Err(LifecycleError::Package(format!(
        "invalid label '{label}'. Label must be non-empty, can only consist of alphanumerics, \
         symbols from '.+-_', and can only begin with alphanumerics"
    )))
}

/// Parses an install package, checking what Fabric checks (gzip, regular files only, one
/// `metadata.json` that is JSON, a `code.tar.gz`, a valid label) within the crate's bounds.
pub fn parse_package(package: &[u8]) -> Result<ChaincodePackage, LifecycleError> {
    if package.len() > MAX_PACKAGE_BYTES {
        return Err(LifecycleError::Package(format!(
            "chaincode package is {} bytes, more than the {MAX_PACKAGE_BYTES} allowed",
            package.len()
        )));
    }
    let mut metadata = None;
    let mut code_package = None;
    for_each_regular_file(package, |name, contents| {
        match name {
            METADATA_FILE => {
                let bytes = read_bounded(contents, MAX_METADATA_BYTES, name)?;
                let parsed: PackageMetadata = serde_json::from_slice(&bytes).map_err(|e| {
                    LifecycleError::Package(format!(
                        "could not unmarshal {METADATA_FILE} as json: {e}"
                    ))
                })?;
                metadata = Some(parsed);
            }
            CODE_PACKAGE_FILE => {
                code_package = Some(read_bounded(contents, MAX_UNPACKED_BYTES, name)?);
            }
            // Fabric ignores other top-level files (with a warning).
            _ => {}
        }
        Ok(())
    })?;
    let code_package = code_package.ok_or_else(|| {
        LifecycleError::Package("did not find a code package inside the package".to_owned())
    })?;
    let metadata = metadata.ok_or_else(|| {
        LifecycleError::Package(format!(
            "did not find any package metadata (missing {METADATA_FILE})"
        ))
    })?;
    validate_label(&metadata.label)?;
    Ok(ChaincodePackage {
        metadata,
        code_package,
    })
}

/// The WASM module inside a code package: `chaincode.wasm`, or else the only `.wasm` file.
pub fn wasm_module(code_package: &[u8]) -> Result<Vec<u8>, LifecycleError> {
    let mut named = None;
    let mut others = Vec::new();
    for_each_regular_file(code_package, |name, contents| {
        let file_name = Path::new(name).file_name().and_then(|n| n.to_str());
        if file_name == Some(WASM_MODULE_FILE) && named.is_none() {
            named = Some(read_bounded(contents, MAX_UNPACKED_BYTES, name)?);
        } else if name.ends_with(".wasm") {
            others.push(read_bounded(contents, MAX_UNPACKED_BYTES, name)?);
        }
        Ok(())
    })?;
    if let Some(module) = named {
        return Ok(module);
    }
    match others.len() {
        1 => Ok(others.remove(0)),
        0 => Err(LifecycleError::Package(format!(
            "the code package holds no {WASM_MODULE_FILE}; build the package with the Weft chaincode tooling"
        ))),
        n => Err(LifecycleError::Package(format!(
            "the code package holds {n} .wasm files and no {WASM_MODULE_FILE}; keep exactly one module"
        ))),
    }
}

/// Walks the regular files of a gzipped tar, refusing other entry types, unsafe paths, too many
/// entries and oversized contents. `visit` gets each file's path and a reader of its contents.
fn for_each_regular_file(
    archive: &[u8],
    mut visit: impl FnMut(&str, &mut dyn Read) -> Result<(), LifecycleError>,
) -> Result<(), LifecycleError> {
    let gz = flate2::read::GzDecoder::new(archive);
    if gz.header().is_none() {
        return Err(LifecycleError::Package(
            "error reading as gzip stream: not a gzip archive".to_owned(),
        ));
    }
    let mut tar = tar::Archive::new(gz.take(MAX_UNPACKED_BYTES));
    let entries = tar.entries().map_err(|e| tar_error(&e))?;
    for (index, entry) in entries.enumerate() {
        if index >= MAX_TAR_ENTRIES {
            return Err(LifecycleError::Package(format!(
                "archive has more than {MAX_TAR_ENTRIES} entries"
            )));
        }
        let mut entry = entry.map_err(|e| tar_error(&e))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let entry_type = entry.header().entry_type();
        if !entry_type.is_file() {
            return Err(LifecycleError::Package(format!(
                "tar entry {name} is not a regular file, type {}",
                char::from(entry_type.as_byte())
            )));
        }
        check_entry_path(&name)?;
        visit(&name, &mut entry)?;
    }
    Ok(())
}

fn tar_error(e: &io::Error) -> LifecycleError {
    LifecycleError::Package(format!("error inspecting next tar header: {e}"))
}

fn check_entry_path(name: &str) -> Result<(), LifecycleError> {
    let path = Path::new(name);
    let unsafe_path = path.components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    });
    if unsafe_path || name.is_empty() {
        return Err(LifecycleError::Package(format!(
            "illegal file path '{name}' in package: paths must be relative and stay inside the archive"
        )));
    }
    Ok(())
}

fn read_bounded(reader: &mut dyn Read, limit: u64, name: &str) -> Result<Vec<u8>, LifecycleError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| LifecycleError::Package(format!("could not read {name} from tar: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(LifecycleError::Package(format!(
            "{name} is larger than the {limit} bytes allowed"
        )));
    }
    Ok(bytes)
}

/// The peer's installed packages, one file per package in one directory (Fabric's
/// `<fileSystemPath>/lifecycle/chaincodes`).
#[derive(Debug, Clone)]
pub struct PackageStore {
    dir: PathBuf,
}

impl PackageStore {
    /// Opens (creating if needed) a store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, LifecycleError> {
        let dir = dir.into();
        create_private_dir(&dir).map_err(|source| LifecycleError::Io {
            context: format!(
                "could not create the chaincode install directory {}",
                dir.display()
            ),
            source,
        })?;
        Ok(PackageStore { dir })
    }

    /// The store at Fabric's place under the peer's `fileSystemPath`.
    pub fn for_peer(file_system_path: &Path) -> Result<Self, LifecycleError> {
        Self::open(file_system_path.join("lifecycle").join("chaincodes"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Validates and stores a package. Returns the installed package, the parsed package and
    /// whether it was new (installing the same bytes twice stores one file).
    pub fn install(
        &self,
        package: &[u8],
    ) -> Result<(InstalledPackage, ChaincodePackage, bool), LifecycleError> {
        let parsed = parse_package(package)?;
        let (installed, new) = self.save(&parsed.metadata.label, package)?;
        Ok((installed, parsed, new))
    }

    /// Stores package bytes already parsed by [`parse_package`] under their package ID.
    pub fn save(
        &self,
        label: &str,
        package: &[u8],
    ) -> Result<(InstalledPackage, bool), LifecycleError> {
        validate_label(label)?;
        let hash = openssl::sha::sha256(package);
        let installed = InstalledPackage {
            package_id: format!("{label}:{}", hex::encode(hash)),
            label: label.to_owned(),
            hash,
        };
        let path = self.dir.join(file_name(&installed.package_id));
        if path.exists() {
            return Ok((installed, false));
        }
        write_atomically(&self.dir, &path, package).map_err(|source| LifecycleError::Io {
            context: format!(
                "error writing chaincode install package to {}",
                path.display()
            ),
            source,
        })?;
        Ok((installed, true))
    }

    /// The bytes of an installed package.
    pub fn load(&self, package_id: &str) -> Result<Vec<u8>, LifecycleError> {
        let not_found = || {
            LifecycleError::NotFound(format!(
                "chaincode install package '{package_id}' not found"
            ))
        };
        // A package ID names a file; refuse anything that could point elsewhere.
        if parse_package_id(package_id).is_none() {
            return Err(not_found());
        }
        let path = self.dir.join(file_name(package_id));
        match fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(not_found()),
            Err(source) => Err(LifecycleError::Io {
                context: format!(
                    "error reading chaincode install package at {}",
                    path.display()
                ),
                source,
            }),
        }
    }

    /// The installed package with this ID, if any.
    pub fn get(&self, package_id: &str) -> Result<Option<InstalledPackage>, LifecycleError> {
        let Some((label, hash)) = parse_package_id(package_id) else {
            return Ok(None);
        };
        let exists = self.dir.join(file_name(package_id)).is_file();
        Ok(exists.then(|| InstalledPackage {
            package_id: package_id.to_owned(),
            label: label.to_owned(),
            hash,
        }))
    }

    /// Every installed package, sorted by package ID.
    pub fn list(&self) -> Result<Vec<InstalledPackage>, LifecycleError> {
        let read_dir = fs::read_dir(&self.dir).map_err(|source| LifecycleError::Io {
            context: format!(
                "error reading chaincode directory at {}",
                self.dir.display()
            ),
            source,
        })?;
        let mut packages = Vec::new();
        for entry in read_dir.flatten() {
            let name = entry.file_name();
            if let Some(package) = name.to_str().and_then(installed_from_file_name) {
                packages.push(package);
            }
        }
        packages.sort();
        Ok(packages)
    }

    /// The parsed metadata and code archive of an installed package.
    pub fn code(&self, package_id: &str) -> Result<ChaincodePackage, LifecycleError> {
        parse_package(&self.load(package_id)?)
    }

    /// The WASM module of an installed package of type `wasm`.
    pub fn wasm_module(&self, package_id: &str) -> Result<Vec<u8>, LifecycleError> {
        let package = self.code(package_id)?;
        if package.metadata.package_type != WASM_PACKAGE_TYPE {
            return Err(LifecycleError::Package(format!(
                "package '{package_id}' has type '{}', not '{WASM_PACKAGE_TYPE}'",
                package.metadata.package_type
            )));
        }
        wasm_module(&package.code_package)
    }

    /// Removes an installed package.
    pub fn delete(&self, package_id: &str) -> Result<(), LifecycleError> {
        if parse_package_id(package_id).is_none() {
            return Ok(());
        }
        let path = self.dir.join(file_name(package_id));
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(LifecycleError::Io {
                context: format!("could not remove {}", path.display()),
                source,
            }),
        }
    }
}

/// `<label>:<hash>` becomes `<label>.<hash>.tar.gz` (Fabric's `CCFileName`).
fn file_name(package_id: &str) -> String {
    format!("{}.tar.gz", package_id.replacen(':', ".", 1))
}

/// Splits a well-formed package ID into label and hash.
fn parse_package_id(package_id: &str) -> Option<(&str, [u8; 32])> {
    let (label, hash_hex) = package_id.rsplit_once(':')?;
    validate_label(label).ok()?;
    parse_hash(hash_hex).map(|hash| (label, hash))
}

fn parse_hash(hash_hex: &str) -> Option<[u8; 32]> {
    // Fabric's file names carry lower-case hex only.
    if hash_hex.len() != 64
        || !hash_hex
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(hash_hex, &mut hash).ok()?;
    Some(hash)
}

/// Fabric's `^(.+)[.]([0-9a-f]{64})[.]tar[.]gz$` on a file name.
fn installed_from_file_name(name: &str) -> Option<InstalledPackage> {
    let stem = name.strip_suffix(".tar.gz")?;
    let (label, hash_hex) = stem.rsplit_once('.')?;
    if label.is_empty() {
        return None;
    }
    let hash = parse_hash(hash_hex)?;
    Some(InstalledPackage {
        package_id: format!("{label}:{hash_hex}"),
        label: label.to_owned(),
        hash,
    })
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Writes to a temporary file in the same directory, syncs, then renames, so a crash never leaves
/// a half-written package under its final name.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!(
        ".ccpackage.{}.{}",
        std::process::id(),
        hex::encode(&openssl::sha::sha256(path.as_os_str().as_encoded_bytes())[..8])
    ));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_fabric_rule() {
        for ok in ["a", "basic_1.0", "A+b-c.d_e", "9"] {
            assert!(validate_label(ok).is_ok(), "{ok}");
        }
        for bad in ["", "_a", ".a", "a b", "a/b", "a:b", "é"] {
            assert!(validate_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_names_round_trip_to_package_ids() {
        let id = package_id("basic_1.0", b"pkg");
        let name = file_name(&id);
        assert!(name.starts_with("basic_1.0.") && name.ends_with(".tar.gz"));
        let installed = installed_from_file_name(&name).unwrap();
        assert_eq!(installed.package_id, id);
        assert_eq!(installed.label, "basic_1.0");
        assert!(installed_from_file_name("basic.tar.gz").is_none());
        assert!(parse_package_id("../../x:00").is_none());
    }
}
