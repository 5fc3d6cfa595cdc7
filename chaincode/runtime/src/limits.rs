//! The bounds every chaincode invocation runs under. One set per peer, fixed when the
//! [`Engine`](crate::Engine) is built.

/// Bounds on loading and running chaincode. Every field is a hard limit: exceeding it fails the
/// load or the invocation with an error that names the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// WASM fuel per invocation (about one unit per executed instruction, plus
    /// [`Limits::host_call_fuel`] per host call). Bounds the time an invocation can run.
    pub fuel_per_invocation: u64,
    /// Fuel charged for each host call, so a guest cannot spin on cheap host calls for free.
    pub host_call_fuel: u64,
    /// Largest linear memory a guest may grow to.
    pub max_memory_bytes: usize,
    /// Largest buffer a guest may pass to one host call (key, value, payload, argument list...).
    pub max_input_bytes: usize,
    /// Largest result one host call may hand back (a range page, a history, an argument list).
    /// Larger results fail the call with a "limit exceeded" error the guest sees.
    pub max_result_bytes: usize,
    /// Log messages are cut to this size.
    pub max_log_bytes: usize,
    /// How deep chaincode-to-chaincode calls may nest (the outermost invocation is depth 1).
    pub max_nesting: u32,
    /// Largest WASM module accepted by [`Engine::load`](crate::Engine::load).
    pub max_module_bytes: usize,
    /// How many distinct modules one engine keeps compiled.
    pub max_loaded_modules: usize,
    /// How many instances may be live at once across all chaincodes (the instance pool size);
    /// nested calls each hold one. An invocation beyond it fails instead of waiting.
    pub max_concurrent_instances: u32,
    /// Native stack a guest may use, bounding recursion.
    pub max_wasm_stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_per_invocation: 500_000_000,
            host_call_fuel: 1_000,
            max_memory_bytes: 64 << 20,
            max_input_bytes: 8 << 20,
            max_result_bytes: 8 << 20,
            max_log_bytes: 4 << 10,
            max_nesting: 8,
            max_module_bytes: 16 << 20,
            max_loaded_modules: 256,
            max_concurrent_instances: 64,
            max_wasm_stack_bytes: 512 << 10,
        }
    }
}
