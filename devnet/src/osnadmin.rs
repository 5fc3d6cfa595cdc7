//! The orderer's channel participation API (what upstream `osnadmin channel join` calls): a
//! multipart POST of the channel's config block to `/participation/v1/channels` over mutual TLS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};

use crate::error::{DevnetError, Result};

/// Largest answer read from the admin endpoint (answers are small JSON documents).
pub const ADMIN_RESPONSE_BYTES_MAX: u64 = 1024 * 1024;
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
const BOUNDARY: &str = "weft-network-config-block";

/// TLS material for the admin endpoint: the CA that signed its certificate and the client
/// certificate and key it requires.
pub struct AdminTls<'a> {
    pub ca: &'a Path,
    pub cert: &'a Path,
    pub key: &'a Path,
}

/// Joins the orderer at `address` (`host:port`) to the channel of `config_block`. Returns the
/// HTTP status and body; 201 means joined.
pub fn join_channel(
    address: &str,
    tls: &AdminTls<'_>,
    config_block: &[u8],
) -> Result<(u16, String)> {
    let mut body = Vec::with_capacity(config_block.len() + 256);
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"config-block\"; filename=\"config.block\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(config_block);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let head = format!(
        "POST /participation/v1/channels HTTP/1.1\r\nHost: {address}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    request(address, tls, head.as_bytes(), &body)
}

fn request(address: &str, tls: &AdminTls<'_>, head: &[u8], body: &[u8]) -> Result<(u16, String)> {
    let fail = |detail: String| DevnetError::Connect {
        address: address.to_owned(),
        detail,
    };
    let mut builder =
        SslConnector::builder(SslMethod::tls_client()).map_err(|e| fail(e.to_string()))?;
    builder
        .set_ca_file(tls.ca)
        .map_err(|e| fail(format!("CA {}: {e}", tls.ca.display())))?;
    builder
        .set_certificate_chain_file(tls.cert)
        .map_err(|e| fail(format!("certificate {}: {e}", tls.cert.display())))?;
    builder
        .set_private_key_file(tls.key, SslFiletype::PEM)
        .map_err(|e| fail(format!("key {}: {e}", tls.key.display())))?;
    builder.set_verify(SslVerifyMode::PEER);
    let connector = builder.build();
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    let tcp = TcpStream::connect(address).map_err(|e| fail(e.to_string()))?;
    tcp.set_read_timeout(Some(ADMIN_TIMEOUT))
        .map_err(|e| fail(e.to_string()))?;
    tcp.set_write_timeout(Some(ADMIN_TIMEOUT))
        .map_err(|e| fail(e.to_string()))?;
    let mut stream = connector
        .connect(host, tcp)
        .map_err(|e| fail(format!("TLS handshake: {e}")))?;
    stream
        .write_all(head)
        .and_then(|()| stream.write_all(body))
        .map_err(|e| fail(e.to_string()))?;
    let mut answer = Vec::new();
    stream
        .take(ADMIN_RESPONSE_BYTES_MAX)
        .read_to_end(&mut answer)
        .map_err(|e| fail(e.to_string()))?;
    parse_response(&answer)
        .ok_or_else(|| fail("the admin endpoint sent a malformed HTTP answer".into()))
}

/// Status code and body of an HTTP/1.1 answer (chunked bodies are returned as sent).
fn parse_response(answer: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let (status, body) = parse_response(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n{\"name\":\"mychannel\"}").unwrap();
        assert_eq!(status, 201);
        assert_eq!(body, "{\"name\":\"mychannel\"}");
        assert!(parse_response(b"garbage").is_none());
    }
}
