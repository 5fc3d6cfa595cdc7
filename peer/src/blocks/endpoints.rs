//! Orderer endpoints of a channel and the TLS roots that authenticate them, read from the
//! channel config: each orderer organization's `Endpoints` with its MSP's TLS root and
//! intermediate certificates, else the global `OrdererAddresses` with the TLS roots of every
//! orderer organization (Fabric's `orderers.ConnectionSource` update).

use fabric_protos::msp::{FabricMspConfig, MspConfig};
use weft_channelconfig::ChannelBundle;
use weft_channelconfig::keys::{MSP_KEY, ORDERER_GROUP_KEY};

/// Largest number of endpoints taken from one config; more are ignored.
pub const ENDPOINTS_MAX: usize = 256;

/// One orderer endpoint and the PEM certificates its TLS certificate must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdererEndpoint {
    pub address: String,
    pub tls_roots_pem: Vec<Vec<u8>>,
}

/// The endpoints to pull from, in config order.
pub fn orderer_endpoints(bundle: &ChannelBundle) -> Vec<OrdererEndpoint> {
    let Some(orderer) = bundle.orderer() else {
        return Vec::new();
    };
    let mut all_roots = Vec::new();
    let mut endpoints = Vec::new();
    for (name, org) in &orderer.organizations {
        let roots = org_tls_roots(bundle, name);
        all_roots.extend(roots.iter().cloned());
        for address in &org.endpoints {
            endpoints.push(OrdererEndpoint {
                address: address.clone(),
                tls_roots_pem: roots.clone(),
            });
        }
    }
    if endpoints.is_empty() {
        endpoints = bundle
            .channel()
            .orderer_addresses
            .iter()
            .map(|address| OrdererEndpoint {
                address: address.clone(),
                tls_roots_pem: all_roots.clone(),
            })
            .collect();
    }
    endpoints.truncate(ENDPOINTS_MAX);
    endpoints
}

/// The TLS root and intermediate certificates in an orderer organization's MSP config.
fn org_tls_roots(bundle: &ChannelBundle, org_name: &str) -> Vec<Vec<u8>> {
    let msp_value = bundle
        .config()
        .channel_group
        .as_ref()
        .and_then(|root| root.groups.get(ORDERER_GROUP_KEY))
        .and_then(|orderer| orderer.groups.get(org_name))
        .and_then(|org| org.values.get(MSP_KEY));
    let Some(value) = msp_value else {
        return Vec::new();
    };
    let fabric = weft_protoutil::decode::<MspConfig>("MSPConfig", &value.value)
        .ok()
        .and_then(|m| weft_protoutil::decode::<FabricMspConfig>("FabricMSPConfig", &m.config).ok());
    match fabric {
        Some(config) => config
            .tls_root_certs
            .into_iter()
            .chain(config.tls_intermediate_certs)
            .collect(),
        None => Vec::new(),
    }
}

/// `peer.deliveryclient.addressOverrides`: an orderer address from channel configs replaced by
/// another, optionally with the CA certificates (PEM) that authenticate the new address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointOverride {
    pub from: String,
    pub to: String,
    pub tls_roots_pem: Option<Vec<u8>>,
}

/// Applies the overrides to the endpoints of a channel config, as Fabric's orderer connection
/// source does: the address is replaced, and the roots too when the override names a CA file.
pub fn apply_overrides(
    endpoints: Vec<OrdererEndpoint>,
    overrides: &[EndpointOverride],
) -> Vec<OrdererEndpoint> {
    endpoints
        .into_iter()
        .map(
            |endpoint| match overrides.iter().find(|o| o.from == endpoint.address) {
                Some(o) => OrdererEndpoint {
                    address: o.to.clone(),
                    tls_roots_pem: o
                        .tls_roots_pem
                        .clone()
                        .map_or(endpoint.tls_roots_pem, |pem| vec![pem]),
                },
                None => endpoint,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(address: &str, root: &[u8]) -> OrdererEndpoint {
        OrdererEndpoint {
            address: address.into(),
            tls_roots_pem: vec![root.to_vec()],
        }
    }

    #[test]
    fn overrides_replace_address_and_optionally_roots() {
        let overrides = [
            EndpointOverride {
                from: "o0:7050".into(),
                to: "proxy:1".into(),
                tls_roots_pem: None,
            },
            EndpointOverride {
                from: "o1:7050".into(),
                to: "proxy:2".into(),
                tls_roots_pem: Some(b"other-ca".to_vec()),
            },
        ];
        let got = apply_overrides(
            vec![
                endpoint("o0:7050", b"ca"),
                endpoint("o1:7050", b"ca"),
                endpoint("o2:7050", b"ca"),
            ],
            &overrides,
        );
        assert_eq!(
            got,
            vec![
                endpoint("proxy:1", b"ca"),
                endpoint("proxy:2", b"other-ca"),
                endpoint("o2:7050", b"ca"),
            ]
        );
    }
}
