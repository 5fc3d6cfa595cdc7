//! The admin endpoint (osnadmin's channel participation API, Fabric's
//! `orderer/common/channelparticipation/restapi.go`); the operations endpoint is in `operations`.

use std::sync::Arc;

use fabric_protos::common::Block;
use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::X509;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyFlags;
use tokio::net::TcpListener;

use super::http::{HttpRequest, HttpResponse, multipart_part, serve_connection, serve_listener};
use super::registrar::{ChannelInfo, Registrar, RegistrarError};

pub const CHANNELS_PATH: &str = "/participation/v1/channels";
const CONFIG_BLOCK_PART: &str = "config-block";

/// TLS settings of the admin endpoint (`Admin.TLS`).
pub struct AdminTls {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    pub client_auth_required: bool,
    pub client_root_cas: Vec<std::path::PathBuf>,
}

pub fn build_acceptor(tls: &AdminTls) -> Result<SslAcceptor, String> {
    let describe = |what: &str, e: openssl::error::ErrorStack| format!("Admin.TLS: {what}: {e}");
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
        .map_err(|e| describe("TLS setup", e))?;
    builder
        .set_certificate_chain_file(&tls.cert)
        .map_err(|e| describe(&format!("certificate {}", tls.cert.display()), e))?;
    builder
        .set_private_key_file(&tls.key, SslFiletype::PEM)
        .map_err(|e| describe(&format!("private key {}", tls.key.display()), e))?;
    if tls.client_auth_required {
        let mut store = X509StoreBuilder::new().map_err(|e| describe("CA store", e))?;
        for file in &tls.client_root_cas {
            let pem = std::fs::read(file)
                .map_err(|e| format!("Admin.TLS.ClientRootCAs: {}: {e}", file.display()))?;
            let certs = X509::stack_from_pem(&pem)
                .map_err(|e| describe(&format!("client root CA {}", file.display()), e))?;
            for cert in certs {
                store
                    .add_cert(cert)
                    .map_err(|e| describe("client root CA", e))?;
            }
        }
        store
            .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
            .map_err(|e| describe("CA store", e))?;
        builder
            .set_verify_cert_store(store.build())
            .map_err(|e| describe("CA store", e))?;
        builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    Ok(builder.build())
}

/// Serves the channel participation API until the listener fails.
pub async fn serve_admin(
    listener: TcpListener,
    acceptor: Option<Arc<SslAcceptor>>,
    registrar: Arc<Registrar>,
    max_body: usize,
) {
    serve_listener(listener, move |tcp| {
        let registrar = registrar.clone();
        let acceptor = acceptor.clone();
        async move {
            let handle = |request| handle_admin(registrar, request);
            match acceptor {
                Some(acceptor) => {
                    let Ok(ssl) = openssl::ssl::Ssl::new(acceptor.context()) else {
                        return;
                    };
                    let Ok(mut stream) = tokio_openssl::SslStream::new(ssl, tcp) else {
                        return;
                    };
                    let handshake = tokio::time::timeout(
                        super::http::REQUEST_TIMEOUT,
                        std::pin::Pin::new(&mut stream).accept(),
                    )
                    .await;
                    if matches!(handshake, Ok(Ok(()))) {
                        serve_connection(stream, max_body, handle).await;
                    }
                }
                None => serve_connection(tcp, max_body, handle).await,
            }
        }
    })
    .await;
}

fn channel_url(name: &str) -> String {
    format!("{CHANNELS_PATH}/{name}")
}

fn info_json(info: &ChannelInfo) -> serde_json::Value {
    serde_json::json!({
        "name": info.name,
        "url": channel_url(&info.name),
        "consensusRelation": info.consensus_relation,
        "status": info.status,
        "height": info.height,
    })
}

fn not_allowed(message: String, allow: &str) -> HttpResponse {
    HttpResponse::error(405, message).with_header("Allow", allow.into())
}

async fn handle_admin(registrar: Arc<Registrar>, request: HttpRequest) -> HttpResponse {
    if let Some(accept) = request.header("Accept")
        && !["application/json", "application/*", "*/*"]
            .iter()
            .any(|t| accept.contains(t))
    {
        return HttpResponse::error(406, "response Content-Type is application/json only");
    }
    let path = request.path.trim_end_matches('/');
    if path == CHANNELS_PATH {
        return match request.method.as_str() {
            "GET" => {
                let channels: Vec<_> = registrar
                    .channel_ids()
                    .into_iter()
                    .map(|name| serde_json::json!({ "name": name, "url": channel_url(&name) }))
                    .collect();
                HttpResponse::json(
                    200,
                    &serde_json::json!({ "systemChannel": null, "channels": channels }),
                )
            }
            "POST" => join(registrar, &request).await,
            method => not_allowed(format!("invalid request method: {method}"), "GET, POST"),
        };
    }
    let Some(channel) = path
        .strip_prefix(CHANNELS_PATH)
        .and_then(|p| p.strip_prefix('/'))
    else {
        return HttpResponse::error(404, "not found");
    };
    if let Err(e) = check_channel_id(channel) {
        return HttpResponse::error(400, format!("invalid channel ID: {e}"));
    }
    let channel = channel.to_string();
    match request.method.as_str() {
        "GET" => match registrar.info(&channel) {
            Ok(info) => HttpResponse::json(200, &info_json(&info)),
            Err(e) => HttpResponse::error(404, e),
        },
        "DELETE" => {
            let result = tokio::task::spawn_blocking(move || registrar.remove(&channel)).await;
            match result {
                Ok(Ok(())) => HttpResponse::empty(204),
                Ok(Err(RegistrarError::ChannelNotExist)) => HttpResponse::error(
                    404,
                    format!("cannot remove: {}", RegistrarError::ChannelNotExist),
                ),
                Ok(Err(e)) => HttpResponse::error(500, format!("cannot remove: {e}")),
                Err(e) => HttpResponse::error(500, format!("cannot remove: {e}")),
            }
        }
        method => not_allowed(format!("invalid request method: {method}"), "GET, DELETE"),
    }
}

async fn join(registrar: Arc<Registrar>, request: &HttpRequest) -> HttpResponse {
    let content_type = request.header("Content-Type").unwrap_or_default();
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return HttpResponse::error(400, format!("unsupported Content-Type: [{content_type}]"));
    }
    let (bytes, parts) = match multipart_part(content_type, &request.body, CONFIG_BLOCK_PART) {
        Ok(found) => found,
        Err(e) => {
            return HttpResponse::error(400, format!("cannot read form from request body: {e}"));
        }
    };
    if parts > 1 {
        return HttpResponse::error(400, "form contains too many parts");
    }
    let block = match weft_protoutil::decode::<Block>("Block", &bytes) {
        Ok(block) => block,
        Err(e) => {
            return HttpResponse::error(
                400,
                format!("cannot unmarshal file part {CONFIG_BLOCK_PART} into a block: {e}"),
            );
        }
    };
    let result = tokio::task::spawn_blocking(move || registrar.join(&block)).await;
    match result {
        Ok(Ok(info)) => HttpResponse::json(201, &info_json(&info))
            .with_header("Location", channel_url(&info.name)),
        Ok(Err(RegistrarError::ChannelAlreadyExists)) => not_allowed(
            format!("cannot join: {}", RegistrarError::ChannelAlreadyExists),
            "GET, DELETE",
        ),
        Ok(Err(RegistrarError::BadJoinBlock(e))) => HttpResponse::error(400, e),
        Ok(Err(RegistrarError::Internal(e))) => {
            HttpResponse::error(500, format!("cannot join: {e}"))
        }
        Ok(Err(e)) => HttpResponse::error(400, format!("cannot join: {e}")),
        Err(e) => HttpResponse::error(500, format!("cannot join: {e}")),
    }
}

/// Fabric's channel name rule: lowercase letters, digits, `.` and `-`, starting with a letter,
/// shorter than 250 characters.
fn check_channel_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("channel ID illegal, cannot be empty".into());
    }
    if id.len() > 249 {
        return Err("channel ID illegal, cannot be longer than 249".into());
    }
    let first_ok = id.starts_with(|c: char| c.is_ascii_lowercase());
    let rest_ok = id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    if !first_ok || !rest_ok {
        return Err(format!(
            "'{id}' contains illegal characters; allowed: lowercase letters, digits, '.', '-', starting with a letter"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_follow_fabric_rules() {
        assert!(check_channel_id("mychannel").is_ok());
        assert!(check_channel_id("my-channel.2").is_ok());
        assert!(check_channel_id("MyChannel").is_err());
        assert!(check_channel_id("1abc").is_err());
        assert!(check_channel_id("").is_err());
        assert!(check_channel_id(&"a".repeat(250)).is_err());
    }
}
