//! One loaded chaincode: a compiled module plus its pre-linked imports. Each invocation gets a
//! fresh instance (from the engine's instance pool) so no guest state survives between
//! transactions, which keeps endorsement deterministic.

use std::cell::Cell;
use std::sync::Arc;

use wasmtime::{Extern, InstancePre, Module, ModuleExport, Store, Trap, TypedFunc};
use weft_chaincode_api::{Chaincode, ChaincodeStub, Response};

use crate::host::{CURRENT_STUB, GuestFault, HostState, StubRef};
use crate::{EXPORT_ABI_VERSION, EXPORT_INVOKE, EXPORT_MEMORY, Limits, RuntimeError};

/// Fuel for running `weft_abi_version` at load; the export only returns a constant.
const ABI_PROBE_FUEL: u64 = 1_000_000;

thread_local! {
    /// How many WASM invocations are active on this thread (nested chaincode-to-chaincode calls
    /// run synchronously on the caller's thread).
    static NESTING_DEPTH: Cell<u32> = const { Cell::new(0) };
}

struct NestingGuard;

impl NestingGuard {
    fn enter(max: u32) -> Result<NestingGuard, String> {
        NESTING_DEPTH.with(|depth| {
            if depth.get() >= max {
                return Err(format!(
                    "chaincode-to-chaincode calls nest deeper than {max} levels (max_nesting)"
                ));
            }
            depth.set(depth.get() + 1);
            Ok(NestingGuard)
        })
    }
}

impl Drop for NestingGuard {
    fn drop(&mut self) {
        NESTING_DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// A fresh instance: its store, its initial memory size and the export to call.
type Instantiated = (Store<HostState>, usize, TypedFunc<(), i32>);

/// A compiled WASM chaincode, shared by every channel that uses its package.
pub struct WasmChaincode {
    package_id: Arc<str>,
    pre: InstancePre<HostState>,
    limits: Arc<Limits>,
    memory_export: ModuleExport,
    invoke_export: ModuleExport,
    abi_export: ModuleExport,
    compiled_bytes: usize,
    initial_memory_bytes: usize,
}

impl std::fmt::Debug for WasmChaincode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmChaincode")
            .field("package_id", &self.package_id)
            .finish_non_exhaustive()
    }
}

impl WasmChaincode {
    pub(crate) fn new(
        package_id: &str,
        module: &Module,
        pre: InstancePre<HostState>,
        limits: Arc<Limits>,
    ) -> Result<Self, RuntimeError> {
        let export = |name: &'static str| {
            module
                .get_export_index(name)
                .ok_or_else(|| RuntimeError::MissingExport {
                    package_id: package_id.to_owned(),
                    export: name,
                    what: "an export",
                })
        };
        let image = module.image_range();
        Ok(WasmChaincode {
            package_id: Arc::from(package_id),
            memory_export: export(EXPORT_MEMORY)?,
            invoke_export: export(EXPORT_INVOKE)?,
            abi_export: export(EXPORT_ABI_VERSION)?,
            compiled_bytes: (image.end as usize).saturating_sub(image.start as usize),
            initial_memory_bytes: 0,
            pre,
            limits,
        })
    }

    pub fn package_id(&self) -> &str {
        &self.package_id
    }

    /// Size of the compiled machine code and metadata kept for this module (shared by all
    /// channels and invocations).
    pub fn compiled_bytes(&self) -> usize {
        self.compiled_bytes
    }

    /// Linear memory a fresh instance starts with (each running invocation holds one).
    pub fn initial_memory_bytes(&self) -> usize {
        self.initial_memory_bytes
    }

    /// Instantiates once without a stub and reads the guest's ABI version; also records the
    /// initial memory size.
    pub(crate) fn abi_version(&mut self) -> Result<i32, RuntimeError> {
        let fail = |reason: String| RuntimeError::Instantiate {
            package_id: self.package_id.to_string(),
            reason,
        };
        let (mut store, memory, func) = self
            .instantiate(ABI_PROBE_FUEL, &self.abi_export)
            .map_err(fail)?;
        self.initial_memory_bytes = memory;
        func.call(&mut store, ())
            .map_err(|e| fail(self.describe(e)))
    }

    fn instantiate(&self, fuel: u64, entry: &ModuleExport) -> Result<Instantiated, String> {
        let state = HostState::new(self.limits.clone(), self.package_id.clone());
        let mut store = Store::new(self.pre.module().engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_fuel(fuel).map_err(|e| format!("{e:#}"))?;
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| format!("cannot start an instance: {}", self.describe(e)))?;
        let memory = instance
            .get_module_export(&mut store, &self.memory_export)
            .and_then(Extern::into_memory)
            .ok_or_else(|| format!("{EXPORT_MEMORY} is not a memory"))?;
        let memory_bytes = memory.data_size(&store);
        store.data_mut().memory = Some(memory);
        let func = instance
            .get_module_export(&mut store, entry)
            .and_then(Extern::into_func)
            .ok_or_else(|| "entry point is not a function".to_owned())?
            .typed::<(), i32>(&store)
            .map_err(|e| format!("{e:#}"))?;
        Ok((store, memory_bytes, func))
    }

    fn run(&self, stub: &mut dyn ChaincodeStub) -> Result<Response, String> {
        let _nesting = NestingGuard::enter(self.limits.max_nesting)?;
        let (mut store, _, func) =
            self.instantiate(self.limits.fuel_per_invocation, &self.invoke_export)?;
        let code = CURRENT_STUB
            .set(StubRef(stub), || func.call(&mut store, ()))
            .map_err(|e| self.describe(e))?;
        if code != 0 {
            return Err(format!(
                "chaincode entry point {EXPORT_INVOKE} returned {code} instead of 0"
            ));
        }
        store
            .data_mut()
            .response
            .take()
            .ok_or_else(|| "chaincode returned without setting a response".to_owned())
    }

    /// Turns a trap or host fault into a message that says what the guest did.
    fn describe(&self, error: wasmtime::Error) -> String {
        if let Some(fault) = error.downcast_ref::<GuestFault>() {
            return fault.0.clone();
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => format!(
                "chaincode ran out of fuel: it used all {} units one invocation may use \
                 (fuel_per_invocation); it may loop forever",
                self.limits.fuel_per_invocation
            ),
            Some(Trap::StackOverflow) => format!(
                "chaincode overflowed its stack of {} bytes (max_wasm_stack_bytes); it may \
                 recurse without end",
                self.limits.max_wasm_stack_bytes
            ),
            Some(Trap::UnreachableCodeReached) => {
                "chaincode trapped: it executed `unreachable` (a Rust chaincode panicking or \
                 failing to allocate ends this way)"
                    .to_owned()
            }
            Some(trap) => format!("chaincode trapped: {trap}"),
            None => format!("chaincode failed: {error:#}"),
        }
    }
}

impl Chaincode for WasmChaincode {
    /// Runs the guest's entry point. Every failure of the guest (trap, fuel or memory exhausted,
    /// bad pointers, malformed response) becomes an error response; the host never panics.
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Response {
        match self.run(stub) {
            Ok(response) => response,
            Err(message) => {
                tracing::debug!(package = %self.package_id, "chaincode invocation failed: {message}");
                Response::error(format!("chaincode {}: {message}", self.package_id))
            }
        }
    }
}
