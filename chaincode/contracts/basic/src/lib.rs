//! Fabric's asset-transfer "basic" chaincode (fabric-samples asset-transfer-basic/chaincode-go)
//! as Weft WASM chaincode: the same function names, argument order, JSON field names and order,
//! return values and error messages, so the tutorial client applications run unchanged.
//!
//! The Go version is a contract-API chaincode, so its dispatch rules are reproduced too: an
//! optional `SmartContract:` prefix, a lower-case first letter is accepted, surplus arguments are
//! ignored, and integer parameters are converted with the contract API's error texts.

use weft_chaincode_sdk::json::Json;
use weft_chaincode_sdk::{chaincode, Response, Stub};

const CONTRACT_NAME: &str = "SmartContract";

/// An asset; fields are written in this (alphabetical) order, as the Go struct declares them.
struct Asset {
    appraised_value: i64,
    color: String,
    id: String,
    owner: String,
    size: i64,
}

impl Asset {
    fn to_json(&self) -> Json {
        Json::Object(vec![
            ("AppraisedValue".into(), Json::int(self.appraised_value)),
            ("Color".into(), Json::str(&self.color)),
            ("ID".into(), Json::str(&self.id)),
            ("Owner".into(), Json::str(&self.owner)),
            ("Size".into(), Json::int(self.size)),
        ])
    }

    /// Reads an asset as Go's `json.Unmarshal` would: member names match case-insensitively and
    /// missing members keep their zero value.
    fn from_json(bytes: &[u8]) -> Result<Asset, String> {
        let doc = Json::parse(bytes)?;
        let members = match &doc {
            Json::Object(m) => m,
            _ => {
                return Err(
                    "json: cannot unmarshal non-object into Go value of type chaincode.Asset"
                        .into(),
                )
            }
        };
        let field = |name: &str| {
            members
                .iter()
                .find(|(k, _)| k == name)
                .or_else(|| members.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .map(|(_, v)| v)
        };
        let text = |name: &str| -> Result<String, String> {
            match field(name) {
                None | Some(Json::Null) => Ok(String::new()),
                Some(Json::String(s)) => Ok(s.clone()),
                Some(_) => Err(format!(
                    "json: cannot unmarshal into Go struct field Asset.{} of type string",
                    name
                )),
            }
        };
        let int = |name: &str| -> Result<i64, String> {
            match field(name) {
                None | Some(Json::Null) => Ok(0),
                Some(v) => v.as_i64().ok_or_else(|| {
                    format!(
                        "json: cannot unmarshal into Go struct field Asset.{} of type int",
                        name
                    )
                }),
            }
        };
        Ok(Asset {
            appraised_value: int("AppraisedValue")?,
            color: text("Color")?,
            id: text("ID")?,
            owner: text("Owner")?,
            size: int("Size")?,
        })
    }
}

type TxResult = Result<Vec<u8>, String>;

fn handle(stub: &mut Stub) -> Response {
    let (qualified, params) = stub.function_and_parameters();
    let (namespace, function) = match qualified.rfind(':') {
        Some(i) => (&qualified[..i], &qualified[i + 1..]),
        None => (CONTRACT_NAME, qualified.as_str()),
    };
    if namespace != CONTRACT_NAME {
        return Response::error(format!("Contract not found with name {}", namespace));
    }
    if function.is_empty() {
        return Response::error("Blank function name passed");
    }
    let mut name = function.to_string();
    if let Some(first) = name.get(0..1) {
        let upper = first.to_ascii_uppercase();
        name.replace_range(0..1, &upper);
    }
    let arity = match name.as_str() {
        "InitLedger" | "GetAllAssets" => 0,
        "ReadAsset" | "DeleteAsset" | "AssetExists" => 1,
        "TransferAsset" => 2,
        "CreateAsset" | "UpdateAsset" => 5,
        _ => {
            return Response::error(format!(
                "Function {} not found in contract {}",
                function, CONTRACT_NAME
            ))
        }
    };
    if params.len() < arity {
        return Response::error(format!(
            "incorrect number of params. Expected {}, received {}",
            arity,
            params.len()
        ));
    }
    let result = match name.as_str() {
        "InitLedger" => init_ledger(stub),
        "CreateAsset" => asset_from_params(&params).and_then(|a| create_asset(stub, a)),
        "ReadAsset" => read_asset(stub, &params[0]).map(|a| a.to_json().to_string().into_bytes()),
        "UpdateAsset" => asset_from_params(&params).and_then(|a| update_asset(stub, a)),
        "DeleteAsset" => delete_asset(stub, &params[0]),
        "AssetExists" => asset_exists(stub, &params[0]).map(|e| e.to_string().into_bytes()),
        "TransferAsset" => transfer_asset(stub, &params[0], &params[1]),
        _ => get_all_assets(stub),
    };
    Response::from(result)
}

chaincode!(handle);

/// Converts an `int` parameter with the contract API's error text.
fn int_param(params: &[String], index: usize) -> Result<i64, String> {
    params[index].parse::<i64>().map_err(|_| {
        format!(
            "error managing parameter param{}. conversion error. cannot convert passed value {} to int",
            index, params[index]
        )
    })
}

fn asset_from_params(params: &[String]) -> Result<Asset, String> {
    Ok(Asset {
        id: params[0].clone(),
        color: params[1].clone(),
        size: int_param(params, 2)?,
        owner: params[3].clone(),
        appraised_value: int_param(params, 4)?,
    })
}

fn init_ledger(stub: &mut Stub) -> TxResult {
    let seed: [(&str, &str, i64, &str, i64); 6] = [
        ("asset1", "blue", 5, "Tomoko", 300),
        ("asset2", "red", 5, "Brad", 400),
        ("asset3", "green", 10, "Jin Soo", 500),
        ("asset4", "yellow", 10, "Max", 600),
        ("asset5", "black", 15, "Adriana", 700),
        ("asset6", "white", 15, "Michel", 800),
    ];
    for (id, color, size, owner, appraised_value) in seed {
        let asset = Asset {
            id: id.into(),
            color: color.into(),
            size,
            owner: owner.into(),
            appraised_value,
        };
        stub.put_state(id, asset.to_json().to_string().as_bytes())
            .map_err(|e| format!("failed to put to world state. {}", e))?;
    }
    Ok(Vec::new())
}

fn asset_exists(stub: &mut Stub, id: &str) -> Result<bool, String> {
    let value = stub
        .get_state(id)
        .map_err(|e| format!("failed to read from world state: {}", e))?;
    // Fabric treats an empty value as absent (a nil slice in Go).
    Ok(value.map_or(false, |v| !v.is_empty()))
}

fn create_asset(stub: &mut Stub, asset: Asset) -> TxResult {
    if asset_exists(stub, &asset.id)? {
        return Err(format!("the asset {} already exists", asset.id));
    }
    stub.put_state(&asset.id, asset.to_json().to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(Vec::new())
}

fn read_asset(stub: &mut Stub, id: &str) -> Result<Asset, String> {
    let value = stub
        .get_state(id)
        .map_err(|e| format!("failed to read from world state: {}", e))?;
    match value {
        Some(bytes) if !bytes.is_empty() => Asset::from_json(&bytes),
        _ => Err(format!("the asset {} does not exist", id)),
    }
}

fn update_asset(stub: &mut Stub, asset: Asset) -> TxResult {
    if !asset_exists(stub, &asset.id)? {
        return Err(format!("the asset {} does not exist", asset.id));
    }
    stub.put_state(&asset.id, asset.to_json().to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(Vec::new())
}

fn delete_asset(stub: &mut Stub, id: &str) -> TxResult {
    if !asset_exists(stub, id)? {
        return Err(format!("the asset {} does not exist", id));
    }
    stub.del_state(id).map_err(|e| e.to_string())?;
    Ok(Vec::new())
}

/// Returns the previous owner, as the Go chaincode does.
fn transfer_asset(stub: &mut Stub, id: &str, new_owner: &str) -> TxResult {
    let mut asset = read_asset(stub, id)?;
    let old_owner = std::mem::replace(&mut asset.owner, new_owner.to_string());
    stub.put_state(id, asset.to_json().to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(old_owner.into_bytes())
}

/// All assets in key order. With none, the Go contract API returns an empty payload (a nil
/// slice serializes to nothing), not `[]`.
fn get_all_assets(stub: &mut Stub) -> TxResult {
    let records = stub.get_state_by_range("", "").map_err(|e| e.to_string())?;
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let mut assets = Vec::with_capacity(records.len());
    for record in records {
        assets.push(Asset::from_json(&record.value)?.to_json());
    }
    Ok(Json::Array(assets).to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // fabric-samples: json.Marshal(Asset{...}) field order is AppraisedValue, Color, ID, Owner, Size.
    #[test]
    fn asset_json_matches_go_marshalling() {
        let a = Asset {
            id: "asset1".into(),
            color: "blue".into(),
            size: 5,
            owner: "Tomoko".into(),
            appraised_value: 300,
        };
        let text = a.to_json().to_string();
        assert_eq!(
            text,
            r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#
        );
        let back = Asset::from_json(br#"{"id":"x","size":3}"#).unwrap();
        assert_eq!(
            (back.id.as_str(), back.size, back.color.as_str()),
            ("x", 3, "")
        );
    }
}
