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

/// Native stack the host side of one invocation level may use (wasmtime and host-call frames,
/// the stub's own work), on top of the guest's `max_wasm_stack_bytes`.
const HOST_STACK_PER_LEVEL_BYTES: usize = 256 << 10;
/// Stack the caller of the outermost invocation (endorser, gRPC handler) needs for itself.
const CALLER_STACK_BYTES: usize = 1 << 20;

impl Limits {
    /// The native stack a thread running invocations should have. WASM runs on the calling
    /// thread's stack and nested chaincode-to-chaincode calls stack up on it, so the thread must
    /// hold `max_nesting` guest stacks; a smaller one (Rust and tokio default to 2 MiB) can
    /// overflow and abort the process. Use it for the endorser's blocking threads.
    pub fn recommended_thread_stack_bytes(&self) -> usize {
        (self.max_nesting as usize)
            .saturating_mul(
                self.max_wasm_stack_bytes
                    .saturating_add(HOST_STACK_PER_LEVEL_BYTES),
            )
            .saturating_add(CALLER_STACK_BYTES)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recommended_stack_covers_every_nested_guest_stack() {
        let limits = Limits::default();
        let stack = limits.recommended_thread_stack_bytes();
        assert!(stack >= limits.max_nesting as usize * limits.max_wasm_stack_bytes);
        assert!(
            stack > 2 << 20,
            "the 2 MiB default thread stack is not enough"
        );
        let deeper = Limits {
            max_nesting: 16,
            ..Limits::default()
        };
        assert!(deeper.recommended_thread_stack_bytes() > stack);
    }
}
