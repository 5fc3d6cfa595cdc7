//! The raw host imports of ABI version 1 (module `weft`), see docs/chaincode-abi.md.
//!
//! Every pointer is an offset into this module's linear memory and every length a byte count.
//! Calls that produce data return an `i64`: a non-negative value is the size of a result the
//! host now holds for us (fetched with `take_result`), a negative value is one of the codes in
//! [`crate::ErrorKind`] or [`ABSENT`].

/// The value (or private data) asked for does not exist.
pub const ABSENT: i64 = -1;

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "weft")]
extern "C" {
    pub fn take_result(ptr: *mut u8, len: u32) -> i32;
    pub fn set_response(
        status: i32,
        msg: *const u8,
        msg_len: u32,
        payload: *const u8,
        payload_len: u32,
    ) -> i32;
    pub fn abort(msg: *const u8, msg_len: u32);
    pub fn log(level: i32, msg: *const u8, msg_len: u32);

    pub fn args() -> i64;
    pub fn channel_id() -> i64;
    pub fn tx_id() -> i64;
    pub fn creator() -> i64;
    pub fn transient() -> i64;
    pub fn signed_proposal() -> i64;
    pub fn tx_timestamp() -> i64;
    pub fn binding() -> i64;

    pub fn get_state(key: *const u8, key_len: u32) -> i64;
    pub fn put_state(key: *const u8, key_len: u32, value: *const u8, value_len: u32) -> i64;
    pub fn del_state(key: *const u8, key_len: u32) -> i64;
    pub fn get_state_metadata(key: *const u8, key_len: u32) -> i64;
    pub fn set_state_metadata(
        key: *const u8,
        key_len: u32,
        name: *const u8,
        name_len: u32,
        value: *const u8,
        value_len: u32,
    ) -> i64;
    pub fn get_state_by_range(
        start: *const u8,
        start_len: u32,
        end: *const u8,
        end_len: u32,
        page_size: u32,
        bookmark: *const u8,
        bookmark_len: u32,
    ) -> i64;
    pub fn get_history_for_key(key: *const u8, key_len: u32) -> i64;

    pub fn get_private_data(coll: *const u8, coll_len: u32, key: *const u8, key_len: u32) -> i64;
    pub fn get_private_data_hash(
        coll: *const u8,
        coll_len: u32,
        key: *const u8,
        key_len: u32,
    ) -> i64;
    pub fn put_private_data(
        coll: *const u8,
        coll_len: u32,
        key: *const u8,
        key_len: u32,
        value: *const u8,
        value_len: u32,
    ) -> i64;
    pub fn del_private_data(coll: *const u8, coll_len: u32, key: *const u8, key_len: u32) -> i64;
    pub fn get_private_data_by_range(
        coll: *const u8,
        coll_len: u32,
        start: *const u8,
        start_len: u32,
        end: *const u8,
        end_len: u32,
    ) -> i64;
    pub fn get_private_data_metadata(
        coll: *const u8,
        coll_len: u32,
        key: *const u8,
        key_len: u32,
    ) -> i64;
    pub fn set_private_data_metadata(
        coll: *const u8,
        coll_len: u32,
        key: *const u8,
        key_len: u32,
        name: *const u8,
        name_len: u32,
        value: *const u8,
        value_len: u32,
    ) -> i64;

    pub fn set_event(name: *const u8, name_len: u32, payload: *const u8, payload_len: u32) -> i64;
    pub fn invoke_chaincode(
        name: *const u8,
        name_len: u32,
        args: *const u8,
        args_len: u32,
        channel: *const u8,
        channel_len: u32,
    ) -> i64;
}

/// Off wasm32 there is no host: every call reports "unsupported" so the pure parts of the SDK
/// (JSON, composite keys, codecs) can still be unit tested natively.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    const UNSUPPORTED: i64 = -3;
    pub unsafe fn take_result(_: *mut u8, _: u32) -> i32 {
        -1
    }
    pub unsafe fn set_response(_: i32, _: *const u8, _: u32, _: *const u8, _: u32) -> i32 {
        -1
    }
    pub unsafe fn abort(_: *const u8, _: u32) {}
    pub unsafe fn log(_: i32, _: *const u8, _: u32) {}
    pub unsafe fn args() -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn channel_id() -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn tx_id() -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn creator() -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn transient() -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn signed_proposal() -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn tx_timestamp() -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn binding() -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn get_state(_: *const u8, _: u32) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn put_state(_: *const u8, _: u32, _: *const u8, _: u32) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn del_state(_: *const u8, _: u32) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn get_state_metadata(_: *const u8, _: u32) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn set_state_metadata(
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
    ) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn get_state_by_range(
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
        _: u32,
        _: *const u8,
        _: u32,
    ) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn get_history_for_key(_: *const u8, _: u32) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn get_private_data(_: *const u8, _: u32, _: *const u8, _: u32) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn get_private_data_hash(_: *const u8, _: u32, _: *const u8, _: u32) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn put_private_data(
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
    ) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn del_private_data(_: *const u8, _: u32, _: *const u8, _: u32) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn get_private_data_by_range(
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
    ) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn get_private_data_metadata(_: *const u8, _: u32, _: *const u8, _: u32) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn set_private_data_metadata(
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
    ) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn set_event(_: *const u8, _: u32, _: *const u8, _: u32) -> i64 {
        UNSUPPORTED
    }
    pub unsafe fn invoke_chaincode(
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
        _: *const u8,
        _: u32,
    ) -> i64 {
        UNSUPPORTED
    }
}
#[cfg(not(target_arch = "wasm32"))]
pub use native::*;
