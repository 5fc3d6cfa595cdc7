//! The per-peer engine: compiles each chaincode package once and shares it across channels.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::{
    Config, ExternType, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig,
};

use crate::chaincode::WasmChaincode;
use crate::host::{self, HostState};
use crate::{ABI_VERSION, Limits, RuntimeError};

/// Guard pages after each pooled linear memory. Small, because memories are bounded by
/// `max_memory_bytes` and reserved at that size; compiled code then checks bounds explicitly.
const MEMORY_GUARD_BYTES: u64 = 64 << 10;

/// Memory and table bytes of a pooled slot that are zeroed in place rather than returned to the
/// kernel when an instance ends, so the next invocation does not page-fault them back in. Rust
/// guests keep their stack and data in the first ~1 MiB.
const MEMORY_KEEP_RESIDENT_BYTES: usize = 512 << 10;
const TABLE_KEEP_RESIDENT_BYTES: usize = 64 << 10;

/// One per peer. Cheap to clone; clones share the compiled modules and the instance pool.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    wasm: wasmtime::Engine,
    linker: Linker<HostState>,
    limits: Arc<Limits>,
    modules: Mutex<HashMap<String, Arc<WasmChaincode>>>,
}

impl Engine {
    /// Builds an engine whose invocations all run under `limits`.
    pub fn new(limits: Limits) -> Result<Engine, RuntimeError> {
        if i32::try_from(limits.max_result_bytes).is_err()
            || i32::try_from(limits.max_input_bytes).is_err()
        {
            return Err(RuntimeError::Engine(
                "max_result_bytes and max_input_bytes must be below 2 GiB".to_owned(),
            ));
        }
        let wasm = wasmtime::Engine::new(&wasm_config(&limits))
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&wasm);
        host::define_imports(&mut linker).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                wasm,
                linker,
                limits: Arc::new(limits),
                modules: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Compiles `wasm` (once per package id; later calls return the cached chaincode), checks its
    /// imports, exports and ABI version, and returns the chaincode ready to invoke. A package id
    /// names one package's bytes (it ends with their SHA-256), so the cache is keyed by id alone.
    pub fn load(&self, package_id: &str, wasm: &[u8]) -> Result<Arc<WasmChaincode>, RuntimeError> {
        if let Some(loaded) = self.get(package_id) {
            return Ok(loaded);
        }
        let limit = self.inner.limits.max_loaded_modules;
        if self.loaded_count() >= limit {
            return Err(RuntimeError::TooManyModules {
                package_id: package_id.to_owned(),
                limit,
            });
        }
        // Compile outside the lock: it takes milliseconds and other chaincodes keep loading.
        let chaincode = Arc::new(self.compile(package_id, wasm)?);
        let mut modules = self.lock_modules();
        if !modules.contains_key(package_id) && modules.len() >= limit {
            return Err(RuntimeError::TooManyModules {
                package_id: package_id.to_owned(),
                limit,
            });
        }
        Ok(modules
            .entry(package_id.to_owned())
            .or_insert(chaincode)
            .clone())
    }

    /// Loads the WASM module inside a Fabric chaincode package (`metadata.json` with type
    /// `wasm`, `code.tar.gz` with `chaincode.wasm`).
    pub fn load_package(
        &self,
        package_id: &str,
        package: &[u8],
    ) -> Result<Arc<WasmChaincode>, RuntimeError> {
        if let Some(loaded) = self.get(package_id) {
            return Ok(loaded);
        }
        let parsed = crate::package::parse(package, self.inner.limits.max_module_bytes)?;
        self.load(package_id, &parsed.wasm)
    }

    /// The chaincode loaded under `package_id`, if any.
    pub fn get(&self, package_id: &str) -> Option<Arc<WasmChaincode>> {
        self.lock_modules().get(package_id).cloned()
    }

    /// Forgets a package; invocations already holding it finish normally.
    pub fn unload(&self, package_id: &str) -> bool {
        self.lock_modules().remove(package_id).is_some()
    }

    pub fn loaded_count(&self) -> usize {
        self.lock_modules().len()
    }

    fn lock_modules(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<WasmChaincode>>> {
        // The map is only read or replaced whole under the lock, so a panic elsewhere while it
        // was held cannot leave it inconsistent.
        self.inner
            .modules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn compile(&self, package_id: &str, wasm: &[u8]) -> Result<WasmChaincode, RuntimeError> {
        let limit = self.inner.limits.max_module_bytes;
        if wasm.len() > limit {
            return Err(RuntimeError::ModuleTooLarge {
                package_id: package_id.to_owned(),
                size: wasm.len(),
                limit,
            });
        }
        let module = Module::new(&self.inner.wasm, wasm).map_err(|e| RuntimeError::Compile {
            package_id: package_id.to_owned(),
            reason: format!("{e:#}"),
        })?;
        check_imports(package_id, &module)?;
        check_exports(package_id, &module)?;
        let pre =
            self.inner
                .linker
                .instantiate_pre(&module)
                .map_err(|e| RuntimeError::Instantiate {
                    package_id: package_id.to_owned(),
                    reason: format!("{e:#}"),
                })?;
        let mut chaincode =
            WasmChaincode::new(package_id, &module, pre, self.inner.limits.clone())?;
        let found = chaincode.abi_version()?;
        if found != ABI_VERSION {
            return Err(RuntimeError::AbiVersion {
                package_id: package_id.to_owned(),
                found,
                supported: ABI_VERSION,
            });
        }
        Ok(chaincode)
    }
}

fn wasm_config(limits: &Limits) -> Config {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .max_wasm_stack(limits.max_wasm_stack_bytes)
        // Determinism: every endorser must compute the same result. NaN bit patterns are
        // canonicalized, and proposals whose semantics may differ by host are off.
        .cranelift_nan_canonicalization(true)
        .wasm_relaxed_simd(false)
        .wasm_memory64(false)
        .wasm_multi_memory(false)
        .memory_reservation(limits.max_memory_bytes as u64)
        .memory_guard_size(MEMORY_GUARD_BYTES)
        .memory_reservation_for_growth(0);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(limits.max_concurrent_instances)
        .total_memories(limits.max_concurrent_instances)
        .total_tables(limits.max_concurrent_instances)
        .max_memory_size(limits.max_memory_bytes)
        .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT_BYTES)
        .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

fn check_imports(package_id: &str, module: &Module) -> Result<(), RuntimeError> {
    for import in module.imports() {
        let known = import.module() == host::IMPORT_MODULE
            && host::HOST_FUNCTIONS.contains(&import.name())
            && matches!(import.ty(), ExternType::Func(_));
        if !known {
            return Err(RuntimeError::UnknownImport {
                package_id: package_id.to_owned(),
                module: import.module().to_owned(),
                name: import.name().to_owned(),
            });
        }
    }
    Ok(())
}

fn check_exports(package_id: &str, module: &Module) -> Result<(), RuntimeError> {
    let missing = |export, what| RuntimeError::MissingExport {
        package_id: package_id.to_owned(),
        export,
        what,
    };
    match module.get_export(crate::EXPORT_MEMORY) {
        Some(ExternType::Memory(_)) => {}
        _ => return Err(missing(crate::EXPORT_MEMORY, "its linear memory")),
    }
    for name in [crate::EXPORT_ABI_VERSION, crate::EXPORT_INVOKE] {
        let ok = match module.get_export(name) {
            Some(ExternType::Func(f)) => {
                f.params().len() == 0 && f.results().len() == 1 && f.results().all(|t| t.is_i32())
            }
            _ => false,
        };
        if !ok {
            return Err(missing(name, "a function taking nothing and returning i32"));
        }
    }
    Ok(())
}
