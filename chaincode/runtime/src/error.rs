use thiserror::Error;

/// Why an engine could not be built or a chaincode package could not be loaded. Failures while a
/// chaincode runs are not errors of this type: they become an error [`Response`] of the
/// invocation (status 500), as a failing Fabric chaincode's would.
///
/// [`Response`]: weft_chaincode_api::Response
#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("cannot configure the WASM engine: {0}")]
    Engine(String),
    #[error(
        "chaincode {package_id}: module is {size} bytes, more than the limit of {limit}; build it in release mode or raise max_module_bytes"
    )]
    ModuleTooLarge {
        package_id: String,
        size: usize,
        limit: usize,
    },
    #[error("chaincode {package_id}: not a valid WASM module: {reason}")]
    Compile { package_id: String, reason: String },
    #[error(
        "chaincode {package_id}: imports {module}::{name}, which the Weft host ABI does not provide (build for wasm32-unknown-unknown with the Weft SDK, without WASI)"
    )]
    UnknownImport {
        package_id: String,
        module: String,
        name: String,
    },
    #[error(
        "chaincode {package_id}: must export {export} ({what}); declare the entry point with the Weft SDK's chaincode! macro"
    )]
    MissingExport {
        package_id: String,
        export: &'static str,
        what: &'static str,
    },
    #[error(
        "chaincode {package_id}: built for host ABI version {found}, this peer supports version {supported}; rebuild it with a matching Weft SDK"
    )]
    AbiVersion {
        package_id: String,
        found: i32,
        supported: i32,
    },
    #[error("chaincode {package_id}: cannot be instantiated: {reason}")]
    Instantiate { package_id: String, reason: String },
    #[error(
        "cannot load chaincode {package_id}: {limit} modules are already loaded (max_loaded_modules)"
    )]
    TooManyModules { package_id: String, limit: usize },
    #[error("chaincode package is malformed: {0}")]
    Package(String),
}
