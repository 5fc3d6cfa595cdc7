//! The admin client that sets up Weft's local network, checked against upstream Fabric v2.5.9:
//! it joins an upstream orderer (channel participation API) and upstream peers (cscc JoinChain),
//! then approves and commits a chaincode definition through `_lifecycle` on both orgs, and the
//! upstream `peer lifecycle chaincode querycommitted` CLI sees the definition.

use weft_devnet::admin::{Endpoint, OrdererClient, PeerClient, Signer};
use weft_devnet::lifecycle::{self, Definition};
use weft_devnet::osnadmin::{AdminTls, join_channel};
use weft_interop_tests::{Network, TlsFiles, Topology, UpstreamToolchain};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn admin_client_joins_and_deploys_a_definition_on_upstream_fabric() {
    let toolchain = UpstreamToolchain::locate("2.5.9").unwrap();
    let topology = Topology::new("adminchannel", &toolchain)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1);
    let network = Network::start(topology, &toolchain).unwrap();
    let block = std::fs::read(network.genesis_block()).unwrap();

    let orderer = &network.orderers()[0];
    let orderer_admin = network.admin_of(&orderer.msp_id).unwrap();
    let tls = AdminTls {
        ca: &orderer.tls_ca(),
        cert: &orderer_admin.tls_cert(),
        key: &orderer_admin.tls_key(),
    };
    let (status, body) = join_channel(&orderer.admin.to_string(), &tls, &block).unwrap();
    assert_eq!(status, 201, "osnadmin join answered {status}: {body}");

    let rt = runtime();
    rt.block_on(async {
        let orderer_client = OrdererClient::connect(&Endpoint {
            address: orderer.listen.to_string(),
            tls_ca: orderer.tls_ca(),
            client_cert: None,
        })
        .await
        .unwrap();
        let mut peers = Vec::new();
        let mut admins = Vec::new();
        for peer in network.peers() {
            let admin = network.admin_of(&peer.msp_id).unwrap();
            let signer = Signer::load(&admin.msp_dir(), &admin.msp_id).unwrap();
            let client = PeerClient::connect(&Endpoint {
                address: peer.listen.to_string(),
                tls_ca: peer.tls_ca(),
                client_cert: Some((admin.tls_cert(), admin.tls_key())),
            })
            .await
            .unwrap();
            // The orderer needs a moment to become the Raft leader; JoinChain does not wait.
            lifecycle::join_peer(&client, &signer, &block)
                .await
                .unwrap();
            peers.push(client);
            admins.push(signer);
        }
        let definition = Definition {
            name: "devnetcc".into(),
            version: "1.0".into(),
            sequence: 1,
            validation_parameter: Vec::new(),
        };
        let package_id =
            "devnetcc_1.0:0000000000000000000000000000000000000000000000000000000000000000";
        for (peer, admin) in peers.iter().zip(&admins) {
            retry_until_ordering_works(|| {
                lifecycle::approve(
                    "adminchannel",
                    &definition,
                    package_id,
                    admin,
                    peer,
                    &orderer_client,
                )
            })
            .await;
        }
        let endorsers: Vec<&PeerClient> = peers.iter().collect();
        lifecycle::commit(
            "adminchannel",
            &definition,
            &admins[0],
            &endorsers,
            &orderer_client,
        )
        .await
        .unwrap();
        let committed =
            lifecycle::query_committed("adminchannel", "devnetcc", &admins[1], &peers[1])
                .await
                .unwrap();
        assert_eq!(committed.sequence, 1);
        assert_eq!(committed.version, "1.0");
        assert_eq!(committed.endorsement_plugin, "escc");
    });

    // The upstream CLI agrees that the definition is committed on both peers.
    for peer in network.peers() {
        let out = network
            .peer_cli(
                &peer.name,
                &[
                    "lifecycle",
                    "chaincode",
                    "querycommitted",
                    "-C",
                    "adminchannel",
                    "-n",
                    "devnetcc",
                ],
            )
            .unwrap();
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(
            text.contains("Version: 1.0, Sequence: 1"),
            "{}: {text}",
            peer.name
        );
        assert!(
            text.contains("Org1MSP: true") && text.contains("Org2MSP: true"),
            "{}: {text}",
            peer.name
        );
    }
}

/// Retries the first ordered transaction while the new channel elects its Raft leader
/// (Fabric's orderer answers SERVICE_UNAVAILABLE until then); bounded to 30 attempts.
async fn retry_until_ordering_works<F, Fut>(mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = weft_devnet::Result<String>>,
{
    let mut last = None;
    for _ in 0..30 {
        match attempt().await {
            Ok(_) => return,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("ordering never worked: {last:?}");
}
