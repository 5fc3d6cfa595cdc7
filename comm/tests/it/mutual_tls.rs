//! Client certificates: required and verified, or requested and passed through.

use openssl::sha::sha256;

use fabric_protos::common::Status as CommonStatus;

use crate::harness::{
    RunningServer, call, deliver_binding, mutual_tls_server_config, tls_client_config,
    tls_server_config,
};
use crate::pki::Pki;

#[tokio::test]
async fn required_client_auth_accepts_a_known_ca_and_exposes_the_cert() {
    let pki = Pki::new();
    let server =
        RunningServer::start(mutual_tls_server_config(&pki, vec![pki.ca.cert_pem()])).await;
    let client = tls_client_config(pki.ca.cert_pem(), Some(&pki.client));
    let response = call(&server.addr.to_string(), &client, Vec::new())
        .await
        .unwrap()
        .response
        .unwrap();
    assert_eq!(response.payload, pki.client.cert_der);
    assert_eq!(response.message, hex::encode(sha256(&pki.client.cert_der)));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn required_client_auth_rejects_a_client_without_cert() {
    let pki = Pki::new();
    let server =
        RunningServer::start(mutual_tls_server_config(&pki, vec![pki.ca.cert_pem()])).await;
    let client = tls_client_config(pki.ca.cert_pem(), None);
    let result = call(&server.addr.to_string(), &client, Vec::new()).await;
    assert!(result.is_err(), "client without certificate served");
    // Control: the same server serves a client of the configured CA.
    let good = tls_client_config(pki.ca.cert_pem(), Some(&pki.client));
    call(&server.addr.to_string(), &good, Vec::new())
        .await
        .unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn required_client_auth_rejects_a_cert_from_an_unknown_ca() {
    let pki = Pki::new();
    let server =
        RunningServer::start(mutual_tls_server_config(&pki, vec![pki.ca.cert_pem()])).await;
    let client = tls_client_config(pki.ca.cert_pem(), Some(&pki.other_client));
    let result = call(&server.addr.to_string(), &client, Vec::new()).await;
    assert!(result.is_err(), "client of an unknown CA served");
    // Control: the same server serves a client of the configured CA.
    let good = tls_client_config(pki.ca.cert_pem(), Some(&pki.client));
    call(&server.addr.to_string(), &good, Vec::new())
        .await
        .unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn replacing_client_roots_at_runtime_changes_who_gets_in() {
    // Fabric updates the server's client root CAs when a channel config adds or removes
    // an organization, without restarting the server.
    let pki = Pki::new();
    let server =
        RunningServer::start(mutual_tls_server_config(&pki, vec![pki.ca.cert_pem()])).await;
    let address = server.addr.to_string();
    let org1 = tls_client_config(pki.ca.cert_pem(), Some(&pki.client));
    let org2 = tls_client_config(pki.ca.cert_pem(), Some(&pki.other_client));
    let roots = server.roots.clone().unwrap();

    assert!(call(&address, &org2, Vec::new()).await.is_err());

    roots
        .replace(&[pki.ca.cert_pem(), pki.other_ca.cert_pem()])
        .unwrap();
    let response = call(&address, &org2, Vec::new()).await.unwrap();
    assert_eq!(
        response.response.unwrap().payload,
        pki.other_client.cert_der
    );
    call(&address, &org1, Vec::new()).await.unwrap();

    // Removing org1's CA shuts org1 out of new connections.
    roots.replace(&[pki.other_ca.cert_pem()]).unwrap();
    assert!(call(&address, &org1, Vec::new()).await.is_err());
    call(&address, &org2, Vec::new()).await.unwrap();

    // A bad bundle is refused and the previous set stays in force.
    assert!(roots.replace(&[b"not pem".to_vec()]).is_err());
    call(&address, &org2, Vec::new()).await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn optional_client_auth_still_requests_and_passes_any_cert() {
    // Go's comm server uses tls.RequestClientCert when clientAuthRequired is false: the
    // certificate is asked for and handed over unverified, so Deliver and discovery can
    // bind messages to it by hash.
    let pki = Pki::new();
    let server = RunningServer::start(tls_server_config(&pki)).await;
    let address = server.addr.to_string();
    for leaf in [&pki.client, &pki.other_client] {
        let client = tls_client_config(pki.ca.cert_pem(), Some(leaf));
        let response = call(&address, &client, Vec::new())
            .await
            .unwrap()
            .response
            .unwrap();
        assert_eq!(response.payload, leaf.cert_der);
        assert_eq!(response.message, hex::encode(sha256(&leaf.cert_der)));
        assert_eq!(
            weft_comm::tls_cert_hash(&response.payload),
            sha256(&leaf.cert_der)
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn streaming_handlers_see_the_client_cert_for_tls_binding() {
    // Fabric's Deliver compares the envelope's tls_cert_hash with sha256 of the caller's
    // TLS certificate (common/deliver/binding.go); the handler of a bidi stream needs it.
    let pki = Pki::new();
    let server = RunningServer::start(tls_server_config(&pki)).await;
    let address = server.addr.to_string();
    let client = tls_client_config(pki.ca.cert_pem(), Some(&pki.client));
    let bound = sha256(&pki.client.cert_der).to_vec();
    let success = CommonStatus::Success as i32;
    let forbidden = CommonStatus::Forbidden as i32;
    assert_eq!(
        deliver_binding(&address, &client, bound.clone()).await,
        success
    );
    let foreign = sha256(&pki.other_client.cert_der).to_vec();
    assert_eq!(deliver_binding(&address, &client, foreign).await, forbidden);
    let anonymous = tls_client_config(pki.ca.cert_pem(), None);
    assert_eq!(
        deliver_binding(&address, &anonymous, bound).await,
        forbidden
    );
    server.stop().await.unwrap();
}
