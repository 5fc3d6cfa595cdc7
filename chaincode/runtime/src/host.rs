//! The host side of ABI version 1 (docs/chaincode-abi.md): the `weft` import module.
//!
//! Every host call copies the guest's buffers out of linear memory (bounds- and size-checked; a
//! bad pointer or an oversized buffer traps the guest), runs the matching [`ChaincodeStub`]
//! method, and leaves any result in the store's single pending slot, which the guest copies in
//! with `take_result`. The host never calls back into the guest, so a hostile guest cannot
//! re-enter the host half-way through a call.
//!
//! The stub is borrowed for one invocation only, while wasmtime wants `'static` host state, so it
//! is lent to host functions through a scoped thread-local ([`CURRENT_STUB`]) for exactly the
//! duration of the guest call. Nested chaincode-to-chaincode calls lend their own stub on top.

use std::sync::Arc;

use scoped_tls_hkt::{ReborrowMut, scoped_thread_local};
use wasmtime::{Caller, Linker, Memory, ResourceLimiter, Trap};
use weft_chaincode_api::{ChaincodeStub, Response, StubError};

use crate::Limits;
use crate::codec;

pub(crate) const IMPORT_MODULE: &str = "weft";

/// Return value of a host call whose value does not exist.
const ABSENT: i64 = -1;

/// Every function of the `weft` import module, for checking a module's imports at load.
pub(crate) const HOST_FUNCTIONS: &[&str] = &[
    "take_result",
    "set_response",
    "abort",
    "log",
    "args",
    "channel_id",
    "tx_id",
    "creator",
    "transient",
    "signed_proposal",
    "tx_timestamp",
    "binding",
    "get_state",
    "put_state",
    "del_state",
    "get_state_metadata",
    "set_state_metadata",
    "get_state_by_range",
    "get_history_for_key",
    "get_private_data",
    "get_private_data_hash",
    "put_private_data",
    "del_private_data",
    "get_private_data_by_range",
    "get_private_data_metadata",
    "set_private_data_metadata",
    "set_event",
    "invoke_chaincode",
];

/// The invocation's stub, lent to host functions.
pub(crate) struct StubRef<'a>(pub(crate) &'a mut (dyn ChaincodeStub + 'a));

impl<'a, 'b> ReborrowMut<'a> for StubRef<'b> {
    type Result = StubRef<'a>;
    fn reborrow_mut(&'a mut self) -> StubRef<'a> {
        StubRef(&mut *self.0)
    }
}

scoped_thread_local!(pub(crate) static mut CURRENT_STUB: for<'a> StubRef<'a>);

/// A guest misbehaviour that ends the invocation (raised as a trap).
#[derive(Debug)]
pub(crate) struct GuestFault(pub(crate) String);

impl std::fmt::Display for GuestFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GuestFault {}

fn fault(message: String) -> wasmtime::Error {
    wasmtime::Error::new(GuestFault(message))
}

/// Per-invocation host state (one wasmtime store each).
pub(crate) struct HostState {
    pub(crate) limits: Arc<Limits>,
    pub(crate) package_id: Arc<str>,
    pub(crate) memory: Option<Memory>,
    /// The result waiting for `take_result`; empty when there is none.
    pending: Vec<u8>,
    /// Log messages emitted so far by this invocation.
    logged: u32,
    pub(crate) response: Option<Response>,
    pub(crate) limiter: MemoryLimiter,
}

impl HostState {
    pub(crate) fn new(limits: Arc<Limits>, package_id: Arc<str>) -> Self {
        let limiter = MemoryLimiter {
            max_memory_bytes: limits.max_memory_bytes,
        };
        HostState {
            limits,
            package_id,
            memory: None,
            pending: Vec::new(),
            logged: 0,
            response: None,
            limiter,
        }
    }
}

/// Fails memory growth past `max_memory_bytes` with a trap that says so (a plain growth failure
/// would surface as an anonymous `unreachable` in the guest's allocator).
pub(crate) struct MemoryLimiter {
    max_memory_bytes: usize,
}

/// Tables hold function references; Rust guests need a few hundred entries.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            return Err(fault(format!(
                "chaincode tried to grow its memory from {current} to {desired} bytes, more than \
                 the limit of {} bytes (max_memory_bytes)",
                self.max_memory_bytes
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }
}

/// What a stub call produced.
enum Outcome {
    Done,
    Absent,
    Data(Vec<u8>),
}

type StubResult = Result<Outcome, StubError>;

fn error_code(e: &StubError) -> (i64, &str) {
    match e {
        StubError::InvalidArgument(m) => (-2, m),
        StubError::Unsupported(m) => (-3, m),
        StubError::AccessDenied(m) => (-4, m),
        StubError::LimitExceeded(m) => (-5, m),
        StubError::Internal(m) => (-6, m),
    }
}

fn charge_fuel(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<()> {
    let cost = caller.data().limits.host_call_fuel;
    let fuel = caller.get_fuel()?;
    if fuel < cost {
        return Err(wasmtime::Error::new(Trap::OutOfFuel));
    }
    caller.set_fuel(fuel - cost)
}

fn guest_memory(caller: &Caller<'_, HostState>) -> wasmtime::Result<Memory> {
    caller
        .data()
        .memory
        .ok_or_else(|| fault("chaincode has no exported memory".to_owned()))
}

/// Copies guest buffers `(offset, length)` out of linear memory.
fn read_inputs(
    caller: &Caller<'_, HostState>,
    call: &str,
    buffers: &[(u32, u32)],
    max_bytes: usize,
) -> wasmtime::Result<Vec<Vec<u8>>> {
    let memory = guest_memory(caller)?;
    let data = memory.data(caller);
    buffers
        .iter()
        .map(|&(offset, len)| {
            let (start, len_usize) = (offset as usize, len as usize);
            if len_usize > max_bytes {
                return Err(fault(format!(
                    "chaincode passed a {len}-byte buffer to weft.{call}, more than the limit of \
                     {max_bytes} bytes"
                )));
            }
            let bytes = start
                .checked_add(len_usize)
                .and_then(|end| data.get(start..end))
                .ok_or_else(|| {
                    fault(format!(
                        "chaincode passed an out-of-bounds buffer (offset {offset}, length {len}) \
                         to weft.{call}; its memory is {} bytes",
                        data.len()
                    ))
                })?;
            Ok(bytes.to_vec())
        })
        .collect()
}

fn text<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, StubError> {
    std::str::from_utf8(bytes)
        .map_err(|_| StubError::InvalidArgument(format!("{what} is not valid UTF-8")))
}

/// Runs one stub-backed host call: fuel, inputs, the stub method, and the result protocol.
fn host_call(
    mut caller: Caller<'_, HostState>,
    call: &str,
    buffers: &[(u32, u32)],
    f: impl FnOnce(&mut dyn ChaincodeStub, &[Vec<u8>]) -> StubResult,
) -> wasmtime::Result<i64> {
    charge_fuel(&mut caller)?;
    caller.data_mut().pending = Vec::new();
    let max_input = caller.data().limits.max_input_bytes;
    let inputs = read_inputs(&caller, call, buffers, max_input)?;
    if !CURRENT_STUB.is_set() {
        return Err(fault(format!(
            "chaincode called weft.{call} outside an invocation (host calls are not allowed \
             while the module is being checked at load)"
        )));
    }
    let outcome = CURRENT_STUB.with(|stub| f(stub.0, &inputs));
    let state = caller.data_mut();
    let max_result = state.limits.max_result_bytes;
    let (code, pending) = match outcome {
        Ok(Outcome::Done) => (0, Vec::new()),
        Ok(Outcome::Absent) => (ABSENT, Vec::new()),
        Ok(Outcome::Data(data)) if data.len() > max_result => (
            -5,
            format!(
                "the result of weft.{call} is {} bytes, more than the limit of {max_result} bytes",
                data.len()
            )
            .into_bytes(),
        ),
        Ok(Outcome::Data(data)) => (data.len() as i64, data),
        Err(e) => {
            let (code, message) = error_code(&e);
            (code, message.as_bytes().to_vec())
        }
    };
    state.pending = pending;
    Ok(code)
}

fn data(bytes: Vec<u8>) -> StubResult {
    Ok(Outcome::Data(bytes))
}

fn optional(value: Option<Vec<u8>>) -> StubResult {
    Ok(value.map_or(Outcome::Absent, Outcome::Data))
}

fn done(_: ()) -> Outcome {
    Outcome::Done
}

/// Copies the pending result into guest memory (`len == 0` asks for its size).
fn take_result(mut caller: Caller<'_, HostState>, offset: u32, len: u32) -> wasmtime::Result<i32> {
    let pending_len = caller.data().pending.len();
    if len == 0 {
        // max_result_bytes is checked to fit an i32 when the engine is built.
        return Ok(i32::try_from(pending_len).unwrap_or(i32::MAX));
    }
    if len as usize != pending_len {
        return Err(fault(format!(
            "chaincode asked weft.take_result for {len} bytes but {pending_len} are pending"
        )));
    }
    let memory = guest_memory(&caller)?;
    let (mem, state) = memory.data_and_store_mut(&mut caller);
    let mem_len = mem.len();
    let start = offset as usize;
    let dst = start
        .checked_add(pending_len)
        .and_then(|end| mem.get_mut(start..end))
        .ok_or_else(|| {
            fault(format!(
                "chaincode passed an out-of-bounds buffer (offset {offset}, length {len}) to \
                 weft.take_result; its memory is {mem_len} bytes"
            ))
        })?;
    dst.copy_from_slice(&state.pending);
    state.pending = Vec::new();
    Ok(len as i32)
}

/// Status codes a response may carry (HTTP-like, as Fabric's shim uses them).
const VALID_STATUS: std::ops::Range<i32> = 100..600;

fn set_response(
    mut caller: Caller<'_, HostState>,
    status: i32,
    message: (u32, u32),
    payload: (u32, u32),
) -> wasmtime::Result<i32> {
    charge_fuel(&mut caller)?;
    let max = caller.data().limits.max_input_bytes;
    let mut inputs = read_inputs(&caller, "set_response", &[message, payload], max)?;
    let payload = inputs.pop().unwrap_or_default();
    let message = String::from_utf8(inputs.pop().unwrap_or_default())
        .map_err(|_| fault("chaincode response message is not valid UTF-8".to_owned()))?;
    if !VALID_STATUS.contains(&status) {
        return Err(fault(format!(
            "chaincode returned status {status}, which is not a response status (100-599)"
        )));
    }
    let state = caller.data_mut();
    if state.response.is_some() {
        return Err(fault(
            "chaincode called weft.set_response more than once".to_owned(),
        ));
    }
    state.response = Some(Response {
        status,
        message,
        payload,
    });
    Ok(0)
}

/// Reads a log or abort message, cut to `max_log_bytes`.
fn guest_message(
    caller: &Caller<'_, HostState>,
    call: &str,
    ptr: u32,
    len: u32,
) -> wasmtime::Result<String> {
    let max = caller.data().limits.max_log_bytes;
    let cut = len.min(u32::try_from(max).unwrap_or(u32::MAX));
    let bytes = read_inputs(caller, call, &[(ptr, cut)], max)?;
    Ok(String::from_utf8_lossy(bytes.first().map_or(&[][..], Vec::as_slice)).into_owned())
}

/// Log lines one invocation may write to the peer's log; later ones are dropped, so a guest
/// cannot flood the log within its fuel.
const MAX_LOG_MESSAGES_PER_INVOCATION: u32 = 256;

fn log(mut caller: Caller<'_, HostState>, level: i32, ptr: u32, len: u32) -> wasmtime::Result<()> {
    charge_fuel(&mut caller)?;
    let message = guest_message(&caller, "log", ptr, len)?;
    let state = caller.data_mut();
    state.logged = state.logged.saturating_add(1);
    let package = &*state.package_id;
    if state.logged > MAX_LOG_MESSAGES_PER_INVOCATION {
        if state.logged == MAX_LOG_MESSAGES_PER_INVOCATION + 1 {
            tracing::warn!(target: "chaincode", package, "chaincode wrote more than {MAX_LOG_MESSAGES_PER_INVOCATION} log messages in one invocation; dropping the rest");
        }
        return Ok(());
    }
    match level {
        0 => tracing::debug!(target: "chaincode", package, "{message}"),
        1 => tracing::info!(target: "chaincode", package, "{message}"),
        2 => tracing::warn!(target: "chaincode", package, "{message}"),
        _ => tracing::error!(target: "chaincode", package, "{message}"),
    }
    Ok(())
}

fn abort(caller: Caller<'_, HostState>, ptr: u32, len: u32) -> wasmtime::Result<()> {
    let message = guest_message(&caller, "abort", ptr, len)?;
    Err(fault(format!("chaincode aborted: {message}")))
}

type P = u32;

/// Defines every function of the `weft` import module.
pub(crate) fn define_imports(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let m = IMPORT_MODULE;
    linker.func_wrap(m, "take_result", take_result)?;
    linker.func_wrap(
        m,
        "set_response",
        |c: Caller<'_, HostState>, status: i32, mp: P, ml: P, pp: P, pl: P| {
            set_response(c, status, (mp, ml), (pp, pl))
        },
    )?;
    linker.func_wrap(m, "abort", abort)?;
    linker.func_wrap(m, "log", log)?;
    define_context(linker)?;
    define_state(linker)?;
    define_private_data(linker)?;
    linker.func_wrap(
        m,
        "set_event",
        |c: Caller<'_, HostState>, np: P, nl: P, pp: P, pl: P| {
            host_call(c, "set_event", &[(np, nl), (pp, pl)], |s, i| {
                s.set_event(text(&i[0], "event name")?, &i[1]).map(done)
            })
        },
    )?;
    linker.func_wrap(
        m,
        "invoke_chaincode",
        |c: Caller<'_, HostState>, np: P, nl: P, ap: P, al: P, cp: P, cl: P| {
            host_call(
                c,
                "invoke_chaincode",
                &[(np, nl), (ap, al), (cp, cl)],
                |s, i| {
                    let name = text(&i[0], "chaincode name")?;
                    let args = codec::decode_list(&i[1]).map_err(StubError::InvalidArgument)?;
                    let channel = text(&i[2], "channel name")?;
                    data(codec::response(&s.invoke_chaincode(name, &args, channel)?))
                },
            )
        },
    )?;
    Ok(())
}

fn define_context(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    fn context(
        linker: &mut Linker<HostState>,
        name: &'static str,
        read: fn(&dyn ChaincodeStub) -> Vec<u8>,
    ) -> wasmtime::Result<()> {
        linker.func_wrap(IMPORT_MODULE, name, move |c: Caller<'_, HostState>| {
            host_call(c, name, &[], |s, _| data(read(s)))
        })?;
        Ok(())
    }
    context(linker, "args", |s| codec::list(s.args()))?;
    context(linker, "channel_id", |s| s.channel_id().as_bytes().to_vec())?;
    context(linker, "tx_id", |s| s.tx_id().as_bytes().to_vec())?;
    context(linker, "creator", |s| s.creator().to_vec())?;
    context(linker, "transient", |s| codec::map(s.transient()))?;
    context(linker, "signed_proposal", |s| s.signed_proposal().to_vec())?;
    context(linker, "tx_timestamp", |s| {
        let (seconds, nanos) = s.tx_timestamp();
        codec::timestamp(seconds, nanos)
    })?;
    context(linker, "binding", |s| s.binding().to_vec())?;
    Ok(())
}

fn define_state(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let m = IMPORT_MODULE;
    linker.func_wrap(m, "get_state", |c: Caller<'_, HostState>, kp: P, kl: P| {
        host_call(c, "get_state", &[(kp, kl)], |s, i| {
            optional(s.get_state(text(&i[0], "key")?)?)
        })
    })?;
    linker.func_wrap(
        m,
        "put_state",
        |c: Caller<'_, HostState>, kp: P, kl: P, vp: P, vl: P| {
            host_call(c, "put_state", &[(kp, kl), (vp, vl)], |s, i| {
                s.put_state(text(&i[0], "key")?, &i[1]).map(done)
            })
        },
    )?;
    linker.func_wrap(m, "del_state", |c: Caller<'_, HostState>, kp: P, kl: P| {
        host_call(c, "del_state", &[(kp, kl)], |s, i| {
            s.del_state(text(&i[0], "key")?).map(done)
        })
    })?;
    linker.func_wrap(
        m,
        "get_state_metadata",
        |c: Caller<'_, HostState>, kp: P, kl: P| {
            host_call(c, "get_state_metadata", &[(kp, kl)], |s, i| {
                data(codec::map(&s.get_state_metadata(text(&i[0], "key")?)?))
            })
        },
    )?;
    linker.func_wrap(
        m,
        "set_state_metadata",
        |c: Caller<'_, HostState>, kp: P, kl: P, np: P, nl: P, vp: P, vl: P| {
            host_call(
                c,
                "set_state_metadata",
                &[(kp, kl), (np, nl), (vp, vl)],
                |s, i| {
                    let key = text(&i[0], "key")?;
                    s.set_state_metadata(key, text(&i[1], "metadata name")?, &i[2])
                        .map(done)
                },
            )
        },
    )?;
    linker.func_wrap(
        m,
        "get_state_by_range",
        |c: Caller<'_, HostState>, sp: P, sl: P, ep: P, el: P, page_size: u32, bp: P, bl: P| {
            host_call(
                c,
                "get_state_by_range",
                &[(sp, sl), (ep, el), (bp, bl)],
                |s, i| {
                    let start = text(&i[0], "start key")?;
                    let end = text(&i[1], "end key")?;
                    let bookmark = text(&i[2], "bookmark")?;
                    let page = s.get_state_by_range(start, end, page_size, bookmark)?;
                    data(codec::range_page(&page))
                },
            )
        },
    )?;
    linker.func_wrap(
        m,
        "get_history_for_key",
        |c: Caller<'_, HostState>, kp: P, kl: P| {
            host_call(c, "get_history_for_key", &[(kp, kl)], |s, i| {
                data(codec::history(&s.get_history_for_key(text(&i[0], "key")?)?))
            })
        },
    )?;
    Ok(())
}

fn define_private_data(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let m = IMPORT_MODULE;
    linker.func_wrap(
        m,
        "get_private_data",
        |c: Caller<'_, HostState>, cp: P, cl: P, kp: P, kl: P| {
            host_call(c, "get_private_data", &[(cp, cl), (kp, kl)], |s, i| {
                optional(s.get_private_data(text(&i[0], "collection")?, text(&i[1], "key")?)?)
            })
        },
    )?;
    linker.func_wrap(
        m,
        "get_private_data_hash",
        |c: Caller<'_, HostState>, cp: P, cl: P, kp: P, kl: P| {
            host_call(c, "get_private_data_hash", &[(cp, cl), (kp, kl)], |s, i| {
                optional(s.get_private_data_hash(text(&i[0], "collection")?, text(&i[1], "key")?)?)
            })
        },
    )?;
    linker.func_wrap(
        m,
        "put_private_data",
        |c: Caller<'_, HostState>, cp: P, cl: P, kp: P, kl: P, vp: P, vl: P| {
            host_call(
                c,
                "put_private_data",
                &[(cp, cl), (kp, kl), (vp, vl)],
                |s, i| {
                    let collection = text(&i[0], "collection")?;
                    s.put_private_data(collection, text(&i[1], "key")?, &i[2])
                        .map(done)
                },
            )
        },
    )?;
    linker.func_wrap(
        m,
        "del_private_data",
        |c: Caller<'_, HostState>, cp: P, cl: P, kp: P, kl: P| {
            host_call(c, "del_private_data", &[(cp, cl), (kp, kl)], |s, i| {
                s.del_private_data(text(&i[0], "collection")?, text(&i[1], "key")?)
                    .map(done)
            })
        },
    )?;
    linker.func_wrap(
        m,
        "get_private_data_by_range",
        |c: Caller<'_, HostState>, cp: P, cl: P, sp: P, sl: P, ep: P, el: P| {
            host_call(
                c,
                "get_private_data_by_range",
                &[(cp, cl), (sp, sl), (ep, el)],
                |s, i| {
                    let collection = text(&i[0], "collection")?;
                    let items = s.get_private_data_by_range(
                        collection,
                        text(&i[1], "start key")?,
                        text(&i[2], "end key")?,
                    )?;
                    data(codec::key_value_list(&items))
                },
            )
        },
    )?;
    linker.func_wrap(
        m,
        "get_private_data_metadata",
        |c: Caller<'_, HostState>, cp: P, cl: P, kp: P, kl: P| {
            host_call(
                c,
                "get_private_data_metadata",
                &[(cp, cl), (kp, kl)],
                |s, i| {
                    let collection = text(&i[0], "collection")?;
                    data(codec::map(&s.get_private_data_metadata(
                        collection,
                        text(&i[1], "key")?,
                    )?))
                },
            )
        },
    )?;
    linker.func_wrap(
        m,
        "set_private_data_metadata",
        |c: Caller<'_, HostState>, cp: P, cl: P, kp: P, kl: P, np: P, nl: P, vp: P, vl: P| {
            host_call(
                c,
                "set_private_data_metadata",
                &[(cp, cl), (kp, kl), (np, nl), (vp, vl)],
                |s, i| {
                    let collection = text(&i[0], "collection")?;
                    let key = text(&i[1], "key")?;
                    s.set_private_data_metadata(
                        collection,
                        key,
                        text(&i[2], "metadata name")?,
                        &i[3],
                    )
                    .map(done)
                },
            )
        },
    )?;
    Ok(())
}
