//! Write Weft chaincode in Rust.
//!
//! A chaincode is a `cdylib` crate built for `wasm32-unknown-unknown` that declares one handler
//! with [`chaincode!`]. The handler gets a [`Stub`], the counterpart of the `ChaincodeStubInterface`
//! of Fabric's Go shim, and returns a [`Response`]:
//!
//! ```ignore
//! use weft_chaincode_sdk::{chaincode, Response, Stub};
//!
//! fn handle(stub: &mut Stub) -> Response {
//!     let (function, params) = stub.function_and_parameters();
//!     match function.as_str() {
//!         "Get" => match stub.get_state(&params[0]) {
//!             Ok(Some(v)) => Response::success(v),
//!             Ok(None) => Response::error(format!("the record {} does not exist", params[0])),
//!             Err(e) => Response::error(e.to_string()),
//!         },
//!         other => Response::error(format!("unknown function {}", other)),
//!     }
//! }
//! chaincode!(handle);
//! ```
//!
//! The wire level (imports, exports, encodings) is specified in docs/chaincode-abi.md.

use std::collections::BTreeMap;
use std::fmt;

pub mod codec;
pub mod json;
#[doc(hidden)]
pub mod sys;

use codec::Reader;

/// The host ABI version this SDK speaks; exported as `weft_abi_version`.
pub const ABI_VERSION: i32 = 1;

/// Status codes as in Fabric's shim.
pub const OK: i32 = 200;
pub const ERROR: i32 = 500;

/// Fabric's composite-key separator and the largest code point (exclusive end of key ranges).
pub const COMPOSITE_KEY_NAMESPACE: char = '\u{0}';
pub const MAX_UNICODE_RUNE: char = '\u{10FFFF}';
/// Fabric's shim starts an open range here so composite keys (which begin with U+0000) are not
/// returned by plain range queries.
const EMPTY_KEY_SUBSTITUTE: &str = "\u{1}";

/// The result of an invocation: Fabric's `protos.Response`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: i32,
    pub message: String,
    pub payload: Vec<u8>,
}

impl Response {
    pub fn success(payload: impl Into<Vec<u8>>) -> Self {
        Response {
            status: OK,
            message: String::new(),
            payload: payload.into(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Response {
            status: ERROR,
            message: message.into(),
            payload: Vec::new(),
        }
    }
}

impl<E: fmt::Display> From<std::result::Result<Vec<u8>, E>> for Response {
    fn from(r: std::result::Result<Vec<u8>, E>) -> Self {
        match r {
            Ok(payload) => Response::success(payload),
            Err(e) => Response::error(e.to_string()),
        }
    }
}

/// Why a host call failed; the codes are the negative return values of the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    Unsupported,
    AccessDenied,
    LimitExceeded,
    Internal,
    /// The host answered something this SDK cannot decode.
    Protocol,
}

impl ErrorKind {
    fn from_code(code: i64) -> ErrorKind {
        match code {
            -2 => ErrorKind::InvalidArgument,
            -3 => ErrorKind::Unsupported,
            -4 => ErrorKind::AccessDenied,
            -5 => ErrorKind::LimitExceeded,
            -6 => ErrorKind::Internal,
            _ => ErrorKind::Protocol,
        }
    }

    fn label(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Unsupported => "not supported",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::LimitExceeded => "limit exceeded",
            ErrorKind::Internal => "peer error",
            ErrorKind::Protocol => "host protocol error",
        }
    }
}

/// A failed stub call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.label(), self.message)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
}

/// One page of a paginated range query; an empty `bookmark` means the range is exhausted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangePage {
    pub items: Vec<KeyValue>,
    pub bookmark: String,
    pub fetched_records_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyModification {
    pub tx_id: String,
    pub value: Vec<u8>,
    pub timestamp_seconds: i64,
    pub timestamp_nanos: i32,
    pub is_delete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
}

/// Access to the peer during one invocation.
pub struct Stub {
    args: Vec<Vec<u8>>,
}

/// What a host call returned: `Ok(None)` for "absent", `Ok(Some(bytes))` otherwise.
fn finish_call(r: i64) -> Result<Option<Vec<u8>>> {
    if r == sys::ABSENT {
        return Ok(None);
    }
    if r < 0 {
        // An error leaves its message pending; its size is asked for with an empty take.
        let size = unsafe { sys::take_result(std::ptr::null_mut(), 0) }.max(0) as usize;
        let message = take(size).map(|m| String::from_utf8_lossy(&m).into_owned());
        return Err(Error::new(
            ErrorKind::from_code(r),
            message.unwrap_or_default(),
        ));
    }
    Ok(Some(take(r as usize)?))
}

/// Copies the pending host result of `len` bytes into guest memory.
fn take(len: usize) -> Result<Vec<u8>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let mut buf = vec![0u8; len];
    let rc = unsafe { sys::take_result(buf.as_mut_ptr(), len as u32) };
    if rc != len as i32 {
        return Err(Error::new(
            ErrorKind::Protocol,
            "host result could not be copied",
        ));
    }
    Ok(buf)
}

fn required(r: i64) -> Result<Vec<u8>> {
    Ok(finish_call(r)?.unwrap_or_default())
}

fn unit(r: i64) -> Result<()> {
    finish_call(r).map(|_| ())
}

fn p(s: &[u8]) -> (*const u8, u32) {
    (s.as_ptr(), s.len() as u32)
}

fn check_simple_key(key: &str) -> Result<()> {
    if key.starts_with(COMPOSITE_KEY_NAMESPACE) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "first character of the key [{}] contains a null character which is not allowed",
                key
            ),
        ));
    }
    Ok(())
}

fn decode_kvs(r: &mut Reader<'_>) -> std::result::Result<Vec<KeyValue>, String> {
    let n = r.count(8)?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        items.push(KeyValue {
            key: r.string()?,
            value: r.bytes()?,
        });
    }
    Ok(items)
}

fn decode_map(buf: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut r = Reader::new(buf);
    let n = r.count(8)?;
    let mut map = BTreeMap::new();
    for _ in 0..n {
        let k = r.string()?;
        map.insert(k, r.bytes()?);
    }
    r.finish()?;
    Ok(map)
}

impl Stub {
    fn new() -> Result<Stub> {
        let buf = required(unsafe { sys::args() })?;
        let mut r = Reader::new(&buf);
        let n = r.count(4)?;
        let mut args = Vec::with_capacity(n);
        for _ in 0..n {
            args.push(r.bytes()?);
        }
        r.finish()?;
        Ok(Stub { args })
    }

    /// The raw arguments; the first is conventionally the function name.
    pub fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    /// The arguments as strings (invalid UTF-8 replaced), as the shim's `GetStringArgs`.
    pub fn string_args(&self) -> Vec<String> {
        self.args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    /// The first argument and the rest, as the shim's `GetFunctionAndParameters`.
    pub fn function_and_parameters(&self) -> (String, Vec<String>) {
        let mut all = self.string_args();
        if all.is_empty() {
            return (String::new(), Vec::new());
        }
        let function = all.remove(0);
        (function, all)
    }

    fn text(r: i64) -> Result<String> {
        String::from_utf8(required(r)?)
            .map_err(|_| Error::new(ErrorKind::Protocol, "host string is not UTF-8"))
    }

    pub fn channel_id(&self) -> Result<String> {
        Self::text(unsafe { sys::channel_id() })
    }

    pub fn tx_id(&self) -> Result<String> {
        Self::text(unsafe { sys::tx_id() })
    }

    /// The serialized identity (`msp.SerializedIdentity` bytes) of the proposal's creator.
    pub fn creator(&self) -> Result<Vec<u8>> {
        required(unsafe { sys::creator() })
    }

    pub fn transient(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        decode_map(&required(unsafe { sys::transient() })?)
    }

    pub fn signed_proposal(&self) -> Result<Vec<u8>> {
        required(unsafe { sys::signed_proposal() })
    }

    pub fn binding(&self) -> Result<Vec<u8>> {
        required(unsafe { sys::binding() })
    }

    /// The channel header timestamp as (seconds, nanos): the same on every endorser.
    pub fn tx_timestamp(&self) -> Result<(i64, i32)> {
        let buf = required(unsafe { sys::tx_timestamp() })?;
        let mut r = Reader::new(&buf);
        let t = (r.i64()?, r.i32()?);
        r.finish()?;
        Ok(t)
    }

    pub fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        let (kp, kl) = p(key.as_bytes());
        finish_call(unsafe { sys::get_state(kp, kl) })
    }

    pub fn put_state(&mut self, key: &str, value: &[u8]) -> Result<()> {
        if key.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "key must not be an empty string",
            ));
        }
        let (kp, kl) = p(key.as_bytes());
        let (vp, vl) = p(value);
        unit(unsafe { sys::put_state(kp, kl, vp, vl) })
    }

    pub fn del_state(&mut self, key: &str) -> Result<()> {
        let (kp, kl) = p(key.as_bytes());
        unit(unsafe { sys::del_state(kp, kl) })
    }

    pub fn get_state_metadata(&mut self, key: &str) -> Result<BTreeMap<String, Vec<u8>>> {
        let (kp, kl) = p(key.as_bytes());
        decode_map(&required(unsafe { sys::get_state_metadata(kp, kl) })?)
    }

    pub fn set_state_metadata(&mut self, key: &str, name: &str, value: &[u8]) -> Result<()> {
        let (kp, kl) = p(key.as_bytes());
        let (np, nl) = p(name.as_bytes());
        let (vp, vl) = p(value);
        unit(unsafe { sys::set_state_metadata(kp, kl, np, nl, vp, vl) })
    }

    fn range_page(
        &mut self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage> {
        let (sp, sl) = p(start.as_bytes());
        let (ep, el) = p(end.as_bytes());
        let (bp, bl) = p(bookmark.as_bytes());
        let buf = required(unsafe { sys::get_state_by_range(sp, sl, ep, el, page_size, bp, bl) })?;
        let mut r = Reader::new(&buf);
        let fetched_records_count = r.u32()?;
        let bookmark = r.string()?;
        let items = decode_kvs(&mut r)?;
        r.finish()?;
        Ok(RangePage {
            items,
            bookmark,
            fetched_records_count,
        })
    }

    /// Simple keys in `[start, end)`; empty `start`/`end` mean the namespace's first/last key.
    /// As in Fabric's shim, composite keys are never returned.
    pub fn get_state_by_range(&mut self, start: &str, end: &str) -> Result<Vec<KeyValue>> {
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        check_simple_key(start)?;
        check_simple_key(end)?;
        self.all_pages(start, end)
    }

    /// An unpaginated range; if the peer answers it in parts (a non-empty bookmark), the parts
    /// are fetched in turn, as the Go shim's iterator does.
    fn all_pages(&mut self, start: &str, end: &str) -> Result<Vec<KeyValue>> {
        let mut page = self.range_page(start, end, 0, "")?;
        let mut items = std::mem::take(&mut page.items);
        while !page.bookmark.is_empty() {
            let bookmark = std::mem::take(&mut page.bookmark);
            page = self.range_page(start, end, 0, &bookmark)?;
            if page.items.is_empty() {
                break;
            }
            items.append(&mut page.items);
        }
        Ok(items)
    }

    /// One page of at most `page_size` simple keys; pass the returned bookmark to continue.
    pub fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage> {
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        check_simple_key(start)?;
        check_simple_key(end)?;
        self.range_page(start, end, page_size, bookmark)
    }

    /// All composite keys of `object_type` whose attributes start with `attributes`.
    pub fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<Vec<KeyValue>> {
        let start = create_composite_key(object_type, attributes)?;
        let end = format!("{}{}", start, MAX_UNICODE_RUNE);
        self.all_pages(&start, &end)
    }

    pub fn get_state_by_partial_composite_key_with_pagination(
        &mut self,
        object_type: &str,
        attributes: &[&str],
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage> {
        let start = create_composite_key(object_type, attributes)?;
        let end = format!("{}{}", start, MAX_UNICODE_RUNE);
        self.range_page(&start, &end, page_size, bookmark)
    }

    pub fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>> {
        let (kp, kl) = p(key.as_bytes());
        let buf = required(unsafe { sys::get_history_for_key(kp, kl) })?;
        let mut r = Reader::new(&buf);
        let n = r.count(21)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(KeyModification {
                tx_id: r.string()?,
                value: r.bytes()?,
                timestamp_seconds: r.i64()?,
                timestamp_nanos: r.i32()?,
                is_delete: r.u8()? != 0,
            });
        }
        r.finish()?;
        Ok(out)
    }

    pub fn get_private_data(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let (cp, cl) = p(collection.as_bytes());
        let (kp, kl) = p(key.as_bytes());
        finish_call(unsafe { sys::get_private_data(cp, cl, kp, kl) })
    }

    pub fn get_private_data_hash(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>> {
        let (cp, cl) = p(collection.as_bytes());
        let (kp, kl) = p(key.as_bytes());
        finish_call(unsafe { sys::get_private_data_hash(cp, cl, kp, kl) })
    }

    pub fn put_private_data(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<()> {
        let (cp, cl) = p(collection.as_bytes());
        let (kp, kl) = p(key.as_bytes());
        let (vp, vl) = p(value);
        unit(unsafe { sys::put_private_data(cp, cl, kp, kl, vp, vl) })
    }

    pub fn del_private_data(&mut self, collection: &str, key: &str) -> Result<()> {
        let (cp, cl) = p(collection.as_bytes());
        let (kp, kl) = p(key.as_bytes());
        unit(unsafe { sys::del_private_data(cp, cl, kp, kl) })
    }

    pub fn get_private_data_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<KeyValue>> {
        let (cp, cl) = p(collection.as_bytes());
        let (sp, sl) = p(start.as_bytes());
        let (ep, el) = p(end.as_bytes());
        let buf = required(unsafe { sys::get_private_data_by_range(cp, cl, sp, sl, ep, el) })?;
        let mut r = Reader::new(&buf);
        let items = decode_kvs(&mut r)?;
        r.finish()?;
        Ok(items)
    }

    pub fn get_private_data_metadata(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>> {
        let (cp, cl) = p(collection.as_bytes());
        let (kp, kl) = p(key.as_bytes());
        decode_map(&required(unsafe {
            sys::get_private_data_metadata(cp, cl, kp, kl)
        })?)
    }

    pub fn set_private_data_metadata(
        &mut self,
        collection: &str,
        key: &str,
        name: &str,
        value: &[u8],
    ) -> Result<()> {
        let (cp, cl) = p(collection.as_bytes());
        let (kp, kl) = p(key.as_bytes());
        let (np, nl) = p(name.as_bytes());
        let (vp, vl) = p(value);
        unit(unsafe { sys::set_private_data_metadata(cp, cl, kp, kl, np, nl, vp, vl) })
    }

    /// Sets the transaction's chaincode event (a later call replaces an earlier one).
    pub fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<()> {
        let (np, nl) = p(name.as_bytes());
        let (pp, pl) = p(payload);
        unit(unsafe { sys::set_event(np, nl, pp, pl) })
    }

    /// Calls another chaincode; an empty `channel` means this channel.
    pub fn invoke_chaincode(
        &mut self,
        chaincode: &str,
        args: &[Vec<u8>],
        channel: &str,
    ) -> Result<Response> {
        let encoded = codec::encode_list(args);
        let (np, nl) = p(chaincode.as_bytes());
        let (ap, al) = p(&encoded);
        let (cp, cl) = p(channel.as_bytes());
        let buf = required(unsafe { sys::invoke_chaincode(np, nl, ap, al, cp, cl) })?;
        let mut r = Reader::new(&buf);
        let status = r.i32()?;
        let message = r.string()?;
        let payload = r.bytes()?;
        r.finish()?;
        Ok(Response {
            status,
            message,
            payload,
        })
    }

    pub fn log(&self, level: LogLevel, message: &str) {
        let (mp, ml) = p(message.as_bytes());
        unsafe { sys::log(level as i32, mp, ml) }
    }
}

/// Fabric's composite key: U+0000, object type, U+0000, then each attribute followed by U+0000.
pub fn create_composite_key(object_type: &str, attributes: &[&str]) -> Result<String> {
    let mut key = String::new();
    key.push(COMPOSITE_KEY_NAMESPACE);
    for part in std::iter::once(&object_type).chain(attributes.iter()) {
        if part.contains(COMPOSITE_KEY_NAMESPACE) || part.contains(MAX_UNICODE_RUNE) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "composite key part {:?} contains U+0000 or U+10FFFF, which are not allowed",
                    part
                ),
            ));
        }
        key.push_str(part);
        key.push(COMPOSITE_KEY_NAMESPACE);
    }
    Ok(key)
}

/// Splits a composite key into its object type and attributes.
pub fn split_composite_key(key: &str) -> Result<(String, Vec<String>)> {
    let bad = || {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{:?} is not a composite key", key),
        )
    };
    let rest = key.strip_prefix(COMPOSITE_KEY_NAMESPACE).ok_or_else(bad)?;
    let mut parts: Vec<String> = rest
        .split(COMPOSITE_KEY_NAMESPACE)
        .map(String::from)
        .collect();
    if parts.pop().as_deref() != Some("") || parts.is_empty() {
        return Err(bad());
    }
    let object_type = parts.remove(0);
    Ok((object_type, parts))
}

/// Runs `handler` for one invocation and hands its response to the host. Used by [`chaincode!`].
#[doc(hidden)]
pub fn __run(handler: fn(&mut Stub) -> Response) -> i32 {
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        unsafe { sys::abort(msg.as_ptr(), msg.len() as u32) }
    }));
    let response = match Stub::new() {
        Ok(mut stub) => handler(&mut stub),
        Err(e) => Response::error(format!("cannot read the invocation arguments: {}", e)),
    };
    let (mp, ml) = p(response.message.as_bytes());
    let (pp, pl) = p(&response.payload);
    unsafe { sys::set_response(response.status, mp, ml, pp, pl) }
}

/// Declares the chaincode's entry point and the ABI version export.
#[macro_export]
macro_rules! chaincode {
    ($handler:path) => {
        #[no_mangle]
        pub extern "C" fn weft_invoke() -> i32 {
            $crate::__run($handler)
        }

        #[no_mangle]
        pub extern "C" fn weft_abi_version() -> i32 {
            $crate::ABI_VERSION
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fabric's shim: CreateCompositeKey("asset", ["a","b"]) == "\x00asset\x00a\x00b\x00".
    #[test]
    fn composite_keys_use_fabric_encoding() {
        let key = create_composite_key("asset", &["a", "b"]).unwrap();
        assert_eq!(key, "\u{0}asset\u{0}a\u{0}b\u{0}");
        assert_eq!(
            split_composite_key(&key).unwrap(),
            ("asset".to_string(), vec!["a".to_string(), "b".to_string()])
        );
        assert!(create_composite_key("as\u{0}set", &[]).is_err());
        assert!(split_composite_key("plain").is_err());
    }
}
