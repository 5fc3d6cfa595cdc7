//! A deliberately small HTTP/1.1 server for the admin and operations endpoints: one request
//! per connection (`Connection: close`), `Content-Length` bodies only, every size and wait
//! bounded.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Largest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Time a client has to send its whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once per endpoint.
pub const MAX_CONNECTIONS: usize = 64;
/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
pub const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Accepts connections until the listener is dropped, serving each with `serve` on its own
/// task, at most [`MAX_CONNECTIONS`] at once.
pub async fn serve_listener<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                tracing::warn!(error = %e, "accepting an HTTP connection failed");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let connection = serve(tcp);
        tokio::spawn(async move {
            connection.await;
            drop(permit);
        });
    }
}

#[derive(Debug)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        let mut body = value.to_string().into_bytes();
        body.push(b'\n');
        Self {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body,
        }
    }

    pub fn error(status: u16, message: impl std::fmt::Display) -> Self {
        Self::json(status, &serde_json::json!({ "error": message.to_string() }))
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A request that cannot be read; answered with `status` before closing.
#[derive(Debug)]
pub struct BadRequest {
    pub status: u16,
    pub reason: String,
}

fn bad(status: u16, reason: impl Into<String>) -> BadRequest {
    BadRequest {
        status,
        reason: reason.into(),
    }
}

/// Reads one request whose body may be at most `max_body` bytes.
pub async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_body: usize,
) -> Result<HttpRequest, BadRequest> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(bad(431, "request headers are too large"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| bad(400, format!("cannot read request: {e}")))?;
        if n == 0 {
            return Err(bad(
                400,
                "connection closed before the request was complete",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| bad(400, "request head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad(505, "only HTTP/1.x is supported"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(400, "malformed header line"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = HttpRequest {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or_default().to_string(),
        headers,
        body: Vec::new(),
    };
    if request
        .header("Transfer-Encoding")
        .is_some_and(|v| !v.eq_ignore_ascii_case("identity"))
    {
        return Err(bad(
            411,
            "chunked request bodies are not supported; send Content-Length",
        ));
    }
    let length = match request.header("Content-Length") {
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| bad(400, "invalid Content-Length"))?,
        None => 0,
    };
    if length > max_body {
        return Err(bad(
            413,
            format!("request body of {length} bytes exceeds the limit of {max_body} bytes"),
        ));
    }
    let mut body = buf.split_off(head_end + 4);
    if body.len() > length {
        body.truncate(length);
    }
    if body.len() < length {
        let mut rest = vec![0u8; length - body.len()];
        stream
            .read_exact(&mut rest)
            .await
            .map_err(|e| bad(400, format!("cannot read request body: {e}")))?;
        body.extend_from_slice(&rest);
    }
    request.body = body;
    Ok(request)
}

pub async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    response: &HttpResponse,
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        reason_phrase(response.status),
        response.body.len()
    );
    for (name, value) in &response.headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.flush().await?;
    stream.shutdown().await
}

/// Reads a request, answers it with `handle` and closes the connection.
pub async fn serve_connection<S, F, Fut>(mut stream: S, max_body: usize, handle: F)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(HttpRequest) -> Fut,
    Fut: std::future::Future<Output = HttpResponse>,
{
    let request = tokio::time::timeout(REQUEST_TIMEOUT, read_request(&mut stream, max_body)).await;
    let response = match request {
        Ok(Ok(request)) => handle(request).await,
        Ok(Err(e)) => HttpResponse::error(e.status, e.reason),
        Err(_) => HttpResponse::error(408, "timed out reading the request"),
    };
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, write_response(&mut stream, &response)).await;
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The content of the multipart/form-data part named `name`, and how many parts there are.
pub fn multipart_part(
    content_type: &str,
    body: &[u8],
    name: &str,
) -> Result<(Vec<u8>, usize), String> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or("multipart form has no boundary")?;
    let delimiter = format!("--{boundary}");
    let mut rest = body;
    let start = find(rest, delimiter.as_bytes()).ok_or("multipart form has no parts")?;
    rest = &rest[start + delimiter.len()..];
    let mut found = None;
    let mut parts = 0;
    let next_delimiter = format!("\r\n--{boundary}");
    while !rest.starts_with(b"--") {
        let rest_after_crlf = rest
            .strip_prefix(b"\r\n")
            .ok_or("malformed multipart form")?;
        let end = find(rest_after_crlf, next_delimiter.as_bytes())
            .ok_or("multipart form is not terminated")?;
        let part = &rest_after_crlf[..end];
        rest = &rest_after_crlf[end + next_delimiter.len()..];
        parts += 1;
        let head_end = find(part, b"\r\n\r\n").ok_or("malformed multipart part")?;
        let head = String::from_utf8_lossy(&part[..head_end]);
        let named = head.split("\r\n").any(|line| {
            line.to_ascii_lowercase()
                .starts_with("content-disposition:")
                && line.contains(&format!("name=\"{name}\""))
        });
        if named && found.is_none() {
            found = Some(part[head_end + 4..].to_vec());
        }
    }
    let content = found.ok_or_else(|| format!("form does not contains part key: {name}"))?;
    Ok((content, parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_a_request_with_a_body_and_bounds_it() {
        let raw = b"POST /x?y=1 HTTP/1.1\r\nContent-Length: 5\r\nHost: a\r\n\r\nhello";
        let request = read_request(&mut &raw[..], 10).await.unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/x");
        assert_eq!(request.header("host"), Some("a"));
        assert_eq!(request.body, b"hello");
        let too_big = read_request(&mut &raw[..], 4).await.unwrap_err();
        assert_eq!(too_big.status, 413);
        let truncated = b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nhello";
        assert_eq!(
            read_request(&mut &truncated[..], 10)
                .await
                .unwrap_err()
                .status,
            400
        );
        let garbage = vec![b'a'; MAX_HEAD_BYTES + 10];
        assert_eq!(
            read_request(&mut &garbage[..], 10)
                .await
                .unwrap_err()
                .status,
            431
        );
    }

    #[test]
    fn extracts_a_multipart_part_as_go_writes_it() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"config-block\"; filename=\"b.block\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n\x02\r\n--XyZ--\r\n";
        let (content, parts) =
            multipart_part("multipart/form-data; boundary=XyZ", body, "config-block").unwrap();
        assert_eq!(content, b"\x00\x01\r\n\x02");
        assert_eq!(parts, 1);
        let err = multipart_part("multipart/form-data; boundary=XyZ", body, "other").unwrap_err();
        assert!(err.contains("does not contains part key"), "{err}");
        assert!(multipart_part("multipart/form-data", body, "config-block").is_err());
        assert!(multipart_part("multipart/form-data; boundary=XyZ", b"--XyZ\r\nabc", "x").is_err());
    }
}
