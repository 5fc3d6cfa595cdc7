//! A generic CRUD chaincode for JSON records, for users who want to put data on a chain without
//! writing chaincode.
//!
//! Functions (arguments are strings; the first is the function name):
//! - `Create(key, json)`, `Update(key, json)`: store a JSON document; `Create` fails if the record
//!   exists, `Update` if it does not.
//! - `Read(key)`: the stored document. `Exists(key)`: `true` or `false`. `Delete(key)`.
//! - `List(startKey, endKey, pageSize, bookmark)`: records in `[startKey, endKey)` (empty bounds
//!   are open), one page at a time.
//! - `ListByPrefix(prefix, pageSize, bookmark)`: records whose key starts with `prefix`.
//! - `History(key)`: every committed change of a key, oldest first.
//!
//! Listing answers `{"records":[{"key":..,"value":<document>}],"fetchedRecordsCount":n,
//! "bookmark":".."}`; pass the bookmark back for the next page, an empty bookmark means the end.
//!
//! Every successful write sets the transaction's chaincode event: `Created`, `Updated` or
//! `Deleted`, its payload the record key, so clients can follow changes with
//! `getChaincodeEvents` instead of polling.

use weft_chaincode_sdk::json::{write_string, Json};
use weft_chaincode_sdk::{chaincode, KeyValue, Response, Stub, MAX_UNICODE_RUNE};

/// The largest page a listing returns; bounds the work and response size of one call.
pub const MAX_PAGE_SIZE: u32 = 1000;

type TxResult = Result<Vec<u8>, String>;

fn handle(stub: &mut Stub) -> Response {
    let (function, params) = stub.function_and_parameters();
    let arity = match function.as_str() {
        "Read" | "Exists" | "Delete" | "History" => 1,
        "Create" | "Update" => 2,
        "ListByPrefix" => 3,
        "List" => 4,
        "" => return Response::error("no function name given; expected one of Create, Read, Update, Delete, Exists, List, ListByPrefix, History"),
        other => {
            return Response::error(format!(
                "unknown function {}; expected one of Create, Read, Update, Delete, Exists, List, ListByPrefix, History",
                other
            ))
        }
    };
    if params.len() != arity {
        return Response::error(format!(
            "{} takes {} arguments, got {}",
            function,
            arity,
            params.len()
        ));
    }
    let p = &params;
    let result = match function.as_str() {
        "Create" => write(stub, &p[0], &p[1], false),
        "Update" => write(stub, &p[0], &p[1], true),
        "Read" => read(stub, &p[0]),
        "Exists" => exists(stub, &p[0]).map(|e| e.to_string().into_bytes()),
        "Delete" => delete(stub, &p[0]),
        "List" => page_size(&p[2]).and_then(|n| list(stub, &p[0], &p[1], n, &p[3])),
        "ListByPrefix" => page_size(&p[1]).and_then(|n| list_by_prefix(stub, &p[0], n, &p[2])),
        _ => history(stub, &p[0]),
    };
    Response::from(result)
}

chaincode!(handle);

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("the record key must not be empty".into());
    }
    if key.starts_with('\u{0}') {
        return Err(format!(
            "the record key {:?} must not start with U+0000",
            key
        ));
    }
    Ok(())
}

fn exists(stub: &mut Stub, key: &str) -> Result<bool, String> {
    check_key(key)?;
    let value = stub
        .get_state(key)
        .map_err(|e| format!("failed to read the record {}: {}", key, e))?;
    Ok(value.map_or(false, |v| !v.is_empty()))
}

fn write(stub: &mut Stub, key: &str, value: &str, must_exist: bool) -> TxResult {
    Json::parse(value.as_bytes())
        .map_err(|e| format!("the value of record {} is not valid JSON: {}", key, e))?;
    let found = exists(stub, key)?;
    if found && !must_exist {
        return Err(format!("the record {} already exists", key));
    }
    if !found && must_exist {
        return Err(format!("the record {} does not exist", key));
    }
    stub.put_state(key, value.as_bytes())
        .map_err(|e| format!("failed to write the record {}: {}", key, e))?;
    announce(stub, if must_exist { "Updated" } else { "Created" }, key)?;
    Ok(Vec::new())
}

fn read(stub: &mut Stub, key: &str) -> TxResult {
    check_key(key)?;
    match stub
        .get_state(key)
        .map_err(|e| format!("failed to read the record {}: {}", key, e))?
    {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("the record {} does not exist", key)),
    }
}

fn delete(stub: &mut Stub, key: &str) -> TxResult {
    if !exists(stub, key)? {
        return Err(format!("the record {} does not exist", key));
    }
    stub.del_state(key)
        .map_err(|e| format!("failed to delete the record {}: {}", key, e))?;
    announce(stub, "Deleted", key)?;
    Ok(Vec::new())
}

/// Sets the chaincode event naming a write; its payload is the record key.
fn announce(stub: &mut Stub, name: &str, key: &str) -> Result<(), String> {
    stub.set_event(name, key.as_bytes())
        .map_err(|e| format!("failed to set the {} event of record {}: {}", name, key, e))
}

fn page_size(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        _ => Err(format!(
            "pageSize must be a number from 1 to {}, got {:?}",
            MAX_PAGE_SIZE, text
        )),
    }
}

fn list(stub: &mut Stub, start: &str, end: &str, page_size: u32, bookmark: &str) -> TxResult {
    let page = stub
        .get_state_by_range_with_pagination(start, end, page_size, bookmark)
        .map_err(|e| format!("failed to list records: {}", e))?;
    Ok(render_page(&page.items, page.fetched_records_count, &page.bookmark).into_bytes())
}

fn list_by_prefix(stub: &mut Stub, prefix: &str, page_size: u32, bookmark: &str) -> TxResult {
    let end = if prefix.is_empty() {
        String::new()
    } else {
        format!("{}{}", prefix, MAX_UNICODE_RUNE)
    };
    list(stub, prefix, &end, page_size, bookmark)
}

/// Values were checked to be JSON when written, so they are embedded as they are.
fn render_page(items: &[KeyValue], fetched: u32, bookmark: &str) -> String {
    let mut out = String::from("{\"records\":[");
    for (i, kv) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        write_string(&kv.key, &mut out);
        out.push_str(",\"value\":");
        push_document(&kv.value, &mut out);
        out.push('}');
    }
    out.push_str("],\"fetchedRecordsCount\":");
    out.push_str(&fetched.to_string());
    out.push_str(",\"bookmark\":");
    write_string(bookmark, &mut out);
    out.push('}');
    out
}

/// Embeds a stored document; a value written by something else than this contract (not JSON)
/// is embedded as a JSON string so the answer stays valid JSON.
fn push_document(value: &[u8], out: &mut String) {
    match std::str::from_utf8(value) {
        Ok(text) if Json::parse(value).is_ok() => out.push_str(text),
        _ => write_string(&String::from_utf8_lossy(value), out),
    }
}

fn history(stub: &mut Stub, key: &str) -> TxResult {
    check_key(key)?;
    let changes = stub
        .get_history_for_key(key)
        .map_err(|e| format!("failed to read the history of record {}: {}", key, e))?;
    let mut out = String::from("[");
    for (i, change) in changes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"txId\":");
        write_string(&change.tx_id, &mut out);
        out.push_str(&format!(
            ",\"timestamp\":{{\"seconds\":{},\"nanos\":{}}},\"isDelete\":{},\"value\":",
            change.timestamp_seconds, change.timestamp_nanos, change.is_delete
        ));
        if change.is_delete || change.value.is_empty() {
            out.push_str("null");
        } else {
            push_document(&change.value, &mut out);
        }
        out.push('}');
    }
    out.push(']');
    Ok(out.into_bytes())
}
