//! A grpc-go client, configured as Fabric's comm client, against our server: checks ALPN
//! (enforced by grpc-go since 1.67), Fabric's TLS cipher suites, and client certificates
//! as a Go peer or orderer presents them. Needs `go` on PATH and the Go module proxy (or
//! a warm module cache) the first time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use fabric_protos::protos::ProposalResponse;
use openssl::sha::sha256;
use prost::Message;

use crate::harness::{RunningServer, mutual_tls_server_config, tls_server_config};
use crate::pki::{Leaf, Pki};

fn go_client() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go_client");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("weft-comm-go-client");
        let status = Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&out)
            .arg(".")
            .current_dir(&source)
            .env("GOFLAGS", "-mod=mod")
            .env("GOTOOLCHAIN", "local")
            .status()
            .expect("`go` must be on PATH to build the grpc-go test client");
        assert!(status.success(), "building the grpc-go test client failed");
        out
    })
}

struct GoRun {
    dir: tempfile::TempDir,
}

impl GoRun {
    fn new(pki: &Pki) -> GoRun {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), pki.ca.cert_pem()).unwrap();
        GoRun { dir }
    }

    /// Runs the Go client; Ok(response) or Err(stderr).
    async fn call(
        &self,
        address: String,
        client: Option<&Leaf>,
        payload: &str,
    ) -> Result<ProposalResponse, String> {
        let binary = tokio::task::spawn_blocking(go_client).await.unwrap();
        let mut command = Command::new(binary);
        command
            .arg("-addr")
            .arg(address)
            .arg("-rootca")
            .arg(self.dir.path().join("ca.pem"))
            .arg("-payload")
            .arg(payload);
        if let Some(leaf) = client {
            let cert = self.dir.path().join("client.pem");
            let key = self.dir.path().join("client.key");
            std::fs::write(&cert, &leaf.cert_pem).unwrap();
            std::fs::write(&key, &leaf.key_pem).unwrap();
            command.arg("-cert").arg(cert).arg("-key").arg(key);
        }
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        let text = String::from_utf8(output.stdout).unwrap();
        let bytes = hex::decode(text.trim()).unwrap();
        Ok(ProposalResponse::decode(bytes.as_slice()).unwrap())
    }
}

#[tokio::test]
async fn upstream_grpc_go_client_over_server_tls() {
    let pki = Pki::new();
    let server = RunningServer::start(tls_server_config(&pki)).await;
    let go = GoRun::new(&pki);
    let response = go
        .call(server.addr.to_string(), None, "from-go")
        .await
        .unwrap();
    assert_eq!(response.payload, b"from-go");
    assert_eq!(response.response.unwrap().message, "none");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn upstream_grpc_go_client_with_mutual_tls() {
    let pki = Pki::new();
    let server =
        RunningServer::start(mutual_tls_server_config(&pki, vec![pki.ca.cert_pem()])).await;
    let go = GoRun::new(&pki);
    let address = server.addr.to_string();
    let response = go
        .call(address.clone(), Some(&pki.client), "mtls")
        .await
        .unwrap()
        .response
        .unwrap();
    assert_eq!(response.message, hex::encode(sha256(&pki.client.cert_der)));
    assert_eq!(response.payload, pki.client.cert_der);

    let refused = go.call(address.clone(), None, "anonymous").await;
    assert!(refused.is_err(), "Go client without certificate served");
    let foreign = go.call(address, Some(&pki.other_client), "foreign").await;
    assert!(foreign.is_err(), "Go client of an unknown CA served");
    server.stop().await.unwrap();
}
