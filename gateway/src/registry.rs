//! The gateway's view of the network: which peers can endorse for a chaincode, clients
//! for them and for the orderers, and the plans built from them (Fabric
//! `internal/pkg/gateway/registry.go`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use fabric_protos::protos::ChaincodeInterest;

use crate::api::{Connector, Endorser, Orderer, PeerInfo, PeerSupport};
use crate::channel::{OrdererEndpoint, config_result, orderer_endpoints, tls_root_certs};
use crate::descriptor::descriptor;
use crate::plan::{Plan, Target};

/// Most remote clients cached; beyond it the cache is cleared (clients are cheap to
/// re-create and connect lazily).
pub const CLIENT_CACHE_MAX: usize = 1024;

/// This peer, as the gateway runs in it.
#[derive(Clone)]
pub struct LocalPeer {
    pub msp_id: String,
    /// The external endpoint other peers know this peer by.
    pub endpoint: String,
    /// The peer's marshalled `msp.SerializedIdentity`.
    pub identity: Vec<u8>,
    pub endorser: Arc<dyn Endorser>,
}

pub struct Registry {
    local: Arc<Target>,
    local_identity: Vec<u8>,
    support: Arc<dyn PeerSupport>,
    connector: Arc<dyn Connector>,
    endorsers: Mutex<HashMap<String, Arc<Target>>>,
    orderers: Mutex<HashMap<String, Arc<dyn Orderer>>>,
}

pub struct OrdererTarget {
    pub endpoint: OrdererEndpoint,
    pub client: Arc<dyn Orderer>,
}

struct Ranked {
    target: Arc<Target>,
    height: u64,
}

impl Registry {
    pub fn new(
        local: LocalPeer,
        support: Arc<dyn PeerSupport>,
        connector: Arc<dyn Connector>,
    ) -> Self {
        Registry {
            local: Arc::new(Target {
                address: local.endpoint,
                msp_id: local.msp_id,
                endorser: local.endorser,
            }),
            local_identity: local.identity,
            support,
            connector,
            endorsers: Mutex::new(HashMap::new()),
            orderers: Mutex::new(HashMap::new()),
        }
    }

    pub fn local_msp_id(&self) -> &str {
        &self.local.msp_id
    }

    fn is_local(&self, peer: &PeerInfo) -> bool {
        peer.identity == self.local_identity || peer.endpoint == self.local.address
    }

    /// The channel's peers, with this peer's height read from its own ledger.
    fn channel_peers(&self, channel: &str) -> Vec<PeerInfo> {
        let mut peers = self.support.channel_peers(channel);
        let local_height = self.support.ledger(channel).and_then(|l| l.height().ok());
        for p in &mut peers {
            if self.is_local(p)
                && let Some(h) = local_height
            {
                p.ledger_height = h;
            }
        }
        peers
    }

    fn lookup(&self, channel: &str, peer: &PeerInfo) -> Option<Arc<Target>> {
        if self.is_local(peer) {
            return Some(self.local.clone());
        }
        if peer.endpoint.is_empty() {
            return None;
        }
        let mut cache = self.endorsers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = cache.get(&peer.endpoint) {
            return Some(t.clone());
        }
        let roots = self
            .support
            .channel_config(channel)
            .and_then(|c| config_result(c.config()).ok())
            .map(|r| tls_root_certs(&r, &peer.msp_id))
            .unwrap_or_default();
        let endorser = match self.connector.endorser(&peer.endpoint, &roots) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(endpoint = %peer.endpoint, error = %e, "failed to connect to endorser");
                return None;
            }
        };
        if cache.len() >= CLIENT_CACHE_MAX {
            cache.clear();
        }
        let target = Arc::new(Target {
            address: peer.endpoint.clone(),
            msp_id: peer.msp_id.clone(),
            endorser,
        });
        cache.insert(peer.endpoint.clone(), target.clone());
        Some(target)
    }

    /// Forgets a remote peer's client after a connection failure.
    pub fn remove(&self, target: &Target) {
        if target.address == self.local.address {
            return;
        }
        self.endorsers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&target.address);
    }

    fn has_chaincode(&self, peer: &PeerInfo, chaincode: &str) -> bool {
        peer.chaincodes.iter().any(|c| c.name == chaincode)
            || self.support.is_system_chaincode(chaincode)
    }

    /// Highest ledger first; on a tie this peer first.
    fn sort(&self, ranked: &mut [Ranked], prefer_local: bool) {
        let local = &self.local.address;
        ranked.sort_by(|a, b| {
            b.height.cmp(&a.height).then_with(|| {
                let a_local = prefer_local && a.target.address == *local;
                let b_local = prefer_local && b.target.address == *local;
                b_local.cmp(&a_local)
            })
        });
    }

    fn endorsers_by_org(&self, channel: &str, chaincode: &str) -> BTreeMap<String, Vec<Ranked>> {
        let mut by_org: BTreeMap<String, Vec<Ranked>> = BTreeMap::new();
        for peer in self.channel_peers(channel) {
            if !self.has_chaincode(&peer, chaincode) {
                continue;
            }
            if let Some(target) = self.lookup(channel, &peer) {
                by_org
                    .entry(target.msp_id.clone())
                    .or_default()
                    .push(Ranked {
                        target,
                        height: peer.ledger_height,
                    });
            }
        }
        for ranked in by_org.values_mut() {
            self.sort(ranked, true);
        }
        by_org
    }

    /// A single-group plan for evaluation: this org's peers first, then the others by
    /// ledger height.
    pub fn evaluator(
        &self,
        channel: &str,
        chaincode: &str,
        target_orgs: &[String],
    ) -> Result<Plan, String> {
        let mut by_org = self.endorsers_by_org(channel, chaincode);
        let orgs: Vec<String> = if target_orgs.is_empty() {
            by_org.keys().cloned().collect()
        } else {
            target_orgs.to_vec()
        };
        let mut local = Vec::new();
        let mut others = Vec::new();
        for org in orgs {
            if let Some(ranked) = by_org.remove(&org) {
                if org == self.local.msp_id {
                    local = ranked;
                } else {
                    others.extend(ranked);
                }
            }
        }
        self.sort(&mut others, false);
        let all: Vec<Arc<Target>> = local.into_iter().chain(others).map(|r| r.target).collect();
        if all.is_empty() {
            return Err(format!(
                "no peers available to evaluate chaincode {chaincode} in channel {channel}"
            ));
        }
        let group = "g1".to_owned();
        Ok(Plan::new(
            vec![BTreeMap::from([(group.clone(), 1)])],
            BTreeMap::from([(group, all)]),
        ))
    }

    /// One endorsement from each of the given orgs.
    pub fn plan_for_orgs(
        &self,
        channel: &str,
        chaincode: &str,
        orgs: &[String],
    ) -> Result<Plan, String> {
        let mut by_org = self.endorsers_by_org(channel, chaincode);
        let mut required = BTreeMap::new();
        let mut groups = BTreeMap::new();
        let mut missing = Vec::new();
        for org in orgs {
            match by_org.remove(org) {
                Some(ranked) => {
                    required.insert(org.clone(), 1);
                    groups.insert(org.clone(), ranked.into_iter().map(|r| r.target).collect());
                }
                None if groups.contains_key(org) => {}
                None => missing.push(org.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "failed to find any endorsing peers for org(s): {}",
                missing.join(", ")
            ));
        }
        Ok(Plan::new(vec![required], groups))
    }

    /// A plan from the endorsement descriptor of `interest`; layouts including
    /// `preferred`'s group come first.
    pub fn endorsement_plan(
        &self,
        channel: &str,
        interest: &ChaincodeInterest,
        preferred: Option<&Target>,
    ) -> Result<Plan, String> {
        let descriptor = descriptor(self.support.as_ref(), channel, interest).map_err(|e| {
            format!(
                "no combination of peers can be derived which satisfy the endorsement policy: {e}"
            )
        })?;
        let heights: HashMap<String, u64> = self
            .channel_peers(channel)
            .into_iter()
            .map(|p| (p.endpoint, p.ledger_height))
            .collect();
        let mut groups = BTreeMap::new();
        let mut preferred_group = None;
        let mut unavailable = Vec::new();
        for (group, peers) in &descriptor.groups {
            let mut ranked = Vec::new();
            for peer in peers {
                let Some(target) = self.lookup(channel, peer) else {
                    unavailable.push(peer.endpoint.clone());
                    continue;
                };
                if preferred.is_some_and(|p| p.address == target.address) {
                    preferred_group = Some(group.clone());
                }
                let height = heights
                    .get(&peer.endpoint)
                    .copied()
                    .unwrap_or(peer.ledger_height);
                ranked.push(Ranked { target, height });
            }
            self.sort(&mut ranked, true);
            if !ranked.is_empty() {
                groups.insert(
                    group.clone(),
                    ranked.into_iter().map(|r| r.target).collect::<Vec<_>>(),
                );
            }
        }
        let mut first = Vec::new();
        let mut rest = Vec::new();
        for layout in &descriptor.layouts {
            let usable = layout
                .iter()
                .all(|(g, qty)| groups.get(g).map_or(0, Vec::len) >= *qty as usize);
            if !usable || layout.is_empty() {
                continue;
            }
            let required: BTreeMap<String, usize> = layout
                .iter()
                .map(|(g, q)| (g.clone(), *q as usize))
                .collect();
            if preferred_group
                .as_ref()
                .is_some_and(|g| required.contains_key(g))
            {
                first.push(required);
            } else {
                rest.push(required);
            }
        }
        first.extend(rest);
        if first.is_empty() {
            return Err(format!(
                "failed to select a set of endorsers that satisfy the endorsement policy due to unavailability of peers: [{}]",
                unavailable.join(" ")
            ));
        }
        Ok(Plan::new(first, groups))
    }

    /// Clients for the channel's orderers.
    pub fn orderers(&self, channel: &str) -> Result<Vec<OrdererTarget>, String> {
        let config = self.support.channel_config(channel).ok_or_else(|| {
            format!("failed to get config for channel [{channel}]: channel not found")
        })?;
        let endpoints = orderer_endpoints(config.config())
            .map_err(|e| format!("failed to get config for channel [{channel}]: {e}"))?;
        let mut cache = self.orderers.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for endpoint in endpoints {
            let client = match cache.get(&endpoint.address) {
                Some(c) => c.clone(),
                None => match self
                    .connector
                    .orderer(&endpoint.address, &endpoint.tls_root_certs)
                {
                    Ok(c) => {
                        if cache.len() >= CLIENT_CACHE_MAX {
                            cache.clear();
                        }
                        cache.insert(endpoint.address.clone(), c.clone());
                        c
                    }
                    Err(e) => {
                        tracing::warn!(address = %endpoint.address, error = %e, "failed to connect to orderer");
                        continue;
                    }
                },
            };
            out.push(OrdererTarget { endpoint, client });
        }
        Ok(out)
    }
}
