//! Applying message size limits to tonic's generated services and clients.
//!
//! tonic keeps size limits per generated service or client, not per server or channel,
//! so each one must be configured; [`MessageLimits`] does it for every Fabric service.

use fabric_protos::{discovery, gateway, gossip, orderer, protos};
use tonic::transport::Channel;

use crate::config::MessageSizeLimits;

/// A generated gRPC server or client whose message size limits can be set.
pub trait MessageLimits: Sized {
    /// Applies `limits` to both directions.
    fn with_message_limits(self, limits: MessageSizeLimits) -> Self;

    /// Applies Fabric's defaults (100 MiB each way).
    fn with_fabric_message_limits(self) -> Self {
        self.with_message_limits(MessageSizeLimits::default())
    }
}

macro_rules! message_limits_for_servers {
    ($($server:ty),* $(,)?) => {$(
        impl<T> MessageLimits for $server {
            fn with_message_limits(self, limits: MessageSizeLimits) -> Self {
                self.max_decoding_message_size(limits.max_recv_msg_size_bytes)
                    .max_encoding_message_size(limits.max_send_msg_size_bytes)
            }
        }
    )*};
}

macro_rules! message_limits_for_clients {
    ($($client:ty),* $(,)?) => {$(
        impl MessageLimits for $client {
            fn with_message_limits(self, limits: MessageSizeLimits) -> Self {
                self.max_decoding_message_size(limits.max_recv_msg_size_bytes)
                    .max_encoding_message_size(limits.max_send_msg_size_bytes)
            }
        }
    )*};
}

message_limits_for_servers!(
    orderer::atomic_broadcast_server::AtomicBroadcastServer<T>,
    orderer::cluster_server::ClusterServer<T>,
    orderer::cluster_node_service_server::ClusterNodeServiceServer<T>,
    protos::deliver_server::DeliverServer<T>,
    protos::endorser_server::EndorserServer<T>,
    protos::snapshot_server::SnapshotServer<T>,
    protos::chaincode_support_server::ChaincodeSupportServer<T>,
    protos::chaincode_server::ChaincodeServer<T>,
    gateway::gateway_server::GatewayServer<T>,
    discovery::discovery_server::DiscoveryServer<T>,
    gossip::gossip_server::GossipServer<T>,
);

message_limits_for_clients!(
    orderer::atomic_broadcast_client::AtomicBroadcastClient<Channel>,
    orderer::cluster_client::ClusterClient<Channel>,
    orderer::cluster_node_service_client::ClusterNodeServiceClient<Channel>,
    protos::deliver_client::DeliverClient<Channel>,
    protos::endorser_client::EndorserClient<Channel>,
    protos::snapshot_client::SnapshotClient<Channel>,
    protos::chaincode_support_client::ChaincodeSupportClient<Channel>,
    protos::chaincode_client::ChaincodeClient<Channel>,
    gateway::gateway_client::GatewayClient<Channel>,
    discovery::discovery_client::DiscoveryClient<Channel>,
    gossip::gossip_client::GossipClient<Channel>,
);
