//! Server-authenticated TLS, plain text, server name override, shutdown.

use weft_comm::{ClientConfig, ClientTlsConfig, ServerConfig, ServerTlsConfig};

use crate::harness::{CallError, RunningServer, call, tls_client_config, tls_server_config};
use crate::pki::Pki;

#[tokio::test]
async fn tls_handshake_with_the_right_root_succeeds() {
    let pki = Pki::new();
    let server = RunningServer::start(tls_server_config(&pki)).await;
    let client = tls_client_config(pki.ca.cert_pem(), None);
    let response = call(&server.addr.to_string(), &client, b"hello".to_vec())
        .await
        .unwrap();
    assert_eq!(response.payload, b"hello");
    // No client certificate presented: the handler sees none.
    assert_eq!(response.response.unwrap().message, "none");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn tls_handshake_with_a_wrong_root_fails() {
    let pki = Pki::new();
    let server = RunningServer::start(tls_server_config(&pki)).await;
    let client = tls_client_config(pki.other_ca.cert_pem(), None);
    let result = call(&server.addr.to_string(), &client, b"hello".to_vec()).await;
    assert!(
        matches!(result, Err(CallError::Dial(_))),
        "untrusted server certificate accepted: {result:?}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn host_name_is_verified_and_can_be_overridden() {
    // Fabric's ssl-target-name-override: dial one address, check the certificate for
    // another name.
    let pki = Pki::new();
    let named_only = pki
        .ca
        .issue("orderer.example.com", &["orderer.example.com"], &[]);
    let mut config = tls_server_config(&pki);
    if let Some(tls) = &mut config.tls {
        tls.cert_pem = named_only.cert_pem.clone();
        tls.key_pem = named_only.key_pem.clone();
    }
    let server = RunningServer::start(config).await;
    let address = server.addr.to_string();

    let plain = tls_client_config(pki.ca.cert_pem(), None);
    let result = call(&address, &plain, Vec::new()).await;
    assert!(
        matches!(result, Err(CallError::Dial(_))),
        "certificate without 127.0.0.1 accepted for 127.0.0.1: {result:?}"
    );

    let mut overridden = plain.clone();
    if let Some(tls) = &mut overridden.tls {
        tls.server_name_override = Some("orderer.example.com".into());
    }
    call(&address, &overridden, Vec::new()).await.unwrap();

    let mut wrong = plain;
    if let Some(tls) = &mut wrong.tls {
        tls.server_name_override = Some("peer0.org1.example.com".into());
    }
    assert!(call(&address, &wrong, Vec::new()).await.is_err());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn plain_text_mode_works_and_has_no_certificate() {
    let server = RunningServer::start(ServerConfig::default()).await;
    let response = call(
        &server.addr.to_string(),
        &ClientConfig::default(),
        b"clear".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(response.payload, b"clear");
    assert_eq!(response.response.unwrap().message, "none");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn tls_client_against_plain_server_fails() {
    let pki = Pki::new();
    let server = RunningServer::start(ServerConfig::default()).await;
    let client = tls_client_config(pki.ca.cert_pem(), None);
    assert!(
        call(&server.addr.to_string(), &client, Vec::new())
            .await
            .is_err()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_stops_serving() {
    let pki = Pki::new();
    let server = RunningServer::start(tls_server_config(&pki)).await;
    let address = server.addr.to_string();
    let client = tls_client_config(pki.ca.cert_pem(), None);
    call(&address, &client, Vec::new()).await.unwrap();
    server.stop().await.unwrap();
    let after = call(&address, &client, Vec::new()).await;
    assert!(
        matches!(after, Err(CallError::Dial(_))),
        "stopped server still answers: {after:?}"
    );
}

#[tokio::test]
async fn tls_material_loads_from_pem_files() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let cert = write("server.crt", &pki.server.cert_pem);
    let key = write("server.key", &pki.server.key_pem);
    let ca = write("ca.crt", &pki.ca.cert_pem());
    let client_cert = write("client.crt", &pki.client.cert_pem);
    let client_key = write("client.key", &pki.client.key_pem);

    let tls = ServerTlsConfig::from_files(&cert, &key)
        .unwrap()
        .require_client_auth(&[&ca])
        .unwrap();
    let server = RunningServer::start(ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    })
    .await;
    let client = ClientConfig {
        tls: Some(
            ClientTlsConfig::from_root_ca_file(&ca)
                .unwrap()
                .with_client_cert_files(&client_cert, &client_key)
                .unwrap(),
        ),
        ..ClientConfig::default()
    };
    let response = call(&server.addr.to_string(), &client, Vec::new())
        .await
        .unwrap();
    assert_eq!(response.response.unwrap().payload, pki.client.cert_der);
    server.stop().await.unwrap();

    let missing = ServerTlsConfig::from_files(&dir.path().join("absent.crt"), &key);
    assert!(matches!(
        missing,
        Err(weft_comm::CommError::ReadFile { .. })
    ));
}

#[tokio::test]
async fn bad_addresses_and_half_identities_are_refused() {
    let pki = Pki::new();
    for address in [
        "",
        "localhost",
        "grpcs://localhost:7050",
        "localhost:7050/x",
    ] {
        let result = weft_comm::connect(address, &ClientConfig::default()).await;
        assert!(
            matches!(result, Err(weft_comm::CommError::InvalidAddress { .. })),
            "{address:?} accepted: {result:?}"
        );
    }
    let mut half = tls_client_config(pki.ca.cert_pem(), Some(&pki.client));
    if let Some(tls) = &mut half.tls {
        tls.client_key_pem = None;
    }
    let result = weft_comm::connect("127.0.0.1:1", &half).await;
    assert!(matches!(
        result,
        Err(weft_comm::CommError::IncompleteClientIdentity)
    ));
}
