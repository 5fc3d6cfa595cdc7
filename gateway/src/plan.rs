//! An endorsement plan: layouts to try in order, the peers of each group, and the
//! endorsements collected so far (Fabric `internal/pkg/gateway/endorsement.go`).
//!
//! Peers are handed out group by group for the current layout; a failed peer is replaced
//! by the next one of its group, and when a group runs dry every layout needing it is
//! dropped. Every response payload must equal the first one.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use fabric_protos::gateway::ErrorDetail;
use fabric_protos::protos::{Endorsement, ProposalResponse};

use crate::api::Endorser;
use crate::error::detail;

/// A peer the gateway can send proposals to.
pub struct Target {
    pub address: String,
    pub msp_id: String,
    pub endorser: Arc<dyn Endorser>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.address, self.msp_id)
    }
}

#[derive(Debug)]
struct Layout {
    required: BTreeMap<String, usize>,
    endorsements: Vec<Endorsement>,
}

#[derive(Debug)]
struct State {
    layouts: Vec<Option<Layout>>,
    group_endorsers: BTreeMap<String, VecDeque<Arc<Target>>>,
    group_of: HashMap<String, String>,
    next_layout: usize,
    response_payload: Option<Vec<u8>>,
    completed: Option<Vec<Endorsement>>,
    errors: Vec<ErrorDetail>,
}

#[derive(Debug)]
pub struct Plan {
    state: Mutex<State>,
}

impl Plan {
    pub fn new(
        layouts: Vec<BTreeMap<String, usize>>,
        group_endorsers: BTreeMap<String, Vec<Arc<Target>>>,
    ) -> Self {
        let mut group_of = HashMap::new();
        for (group, targets) in &group_endorsers {
            for t in targets {
                group_of.insert(t.address.clone(), group.clone());
            }
        }
        Plan {
            state: Mutex::new(State {
                layouts: layouts
                    .into_iter()
                    .map(|required| {
                        Some(Layout {
                            required,
                            endorsements: Vec::new(),
                        })
                    })
                    .collect(),
                group_endorsers: group_endorsers
                    .into_iter()
                    .map(|(g, t)| (g, t.into()))
                    .collect(),
                group_of,
                next_layout: 0,
                response_payload: None,
                completed: None,
                errors: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The peers to ask next for the current layout (one per required endorsement), or
    /// `None` when no layout can still be satisfied.
    pub fn endorsers(&self) -> Option<Vec<Arc<Target>>> {
        let mut s = self.lock();
        loop {
            let index = s.next_layout;
            let required = match s.layouts.get(index) {
                None => return None,
                Some(None) => {
                    s.next_layout += 1;
                    continue;
                }
                Some(Some(layout)) => layout.required.clone(),
            };
            let enough = required
                .iter()
                .all(|(g, qty)| s.group_endorsers.get(g).map_or(0, VecDeque::len) >= *qty);
            if !enough {
                s.layouts[index] = None;
                s.next_layout += 1;
                continue;
            }
            let mut chosen = Vec::new();
            for (g, qty) in required {
                if let Some(peers) = s.group_endorsers.get_mut(&g) {
                    chosen.extend(peers.drain(..qty));
                }
            }
            if !chosen.is_empty() {
                return Some(chosen);
            }
            s.layouts[index] = None;
            s.next_layout += 1;
        }
    }

    /// The first peer of the plan, for a single-endorsement call (evaluate).
    pub fn first(&self) -> Option<Arc<Target>> {
        self.endorsers()?.into_iter().next()
    }

    /// Records a successful endorsement; false if its payload differs from the first.
    pub fn process_endorsement(&self, target: &Target, response: &ProposalResponse) -> bool {
        let mut s = self.lock();
        let group = s.group_of.get(&target.address).cloned().unwrap_or_default();
        if let Some(peers) = s.group_endorsers.get_mut(&group) {
            peers.retain(|t| t.address != target.address);
        }
        match &s.response_payload {
            None => s.response_payload = Some(response.payload.clone()),
            Some(first) if *first != response.payload => {
                s.errors.push(detail(
                    &target.address,
                    &target.msp_id,
                    "ProposalResponsePayloads do not match",
                ));
                return false;
            }
            Some(_) => {}
        }
        let start = s.next_layout;
        for index in start..s.layouts.len() {
            let Some(layout) = s.layouts[index].as_mut() else {
                continue;
            };
            let Some(qty) = layout.required.get_mut(&group) else {
                continue;
            };
            *qty = qty.saturating_sub(1);
            if let Some(e) = &response.endorsement {
                layout.endorsements.push(e.clone());
            }
            if *qty == 0 {
                layout.required.remove(&group);
                if layout.required.is_empty() {
                    let endorsements = std::mem::take(&mut layout.endorsements);
                    s.completed = Some(endorsements);
                    return true;
                }
            }
        }
        true
    }

    /// The next untried peer of `target`'s group; when there is none, every remaining
    /// layout that needs the group is abandoned.
    pub fn next_peer_in_group(&self, target: &Target) -> Option<Arc<Target>> {
        let mut s = self.lock();
        let group = s.group_of.get(&target.address).cloned().unwrap_or_default();
        if let Some(next) = s
            .group_endorsers
            .get_mut(&group)
            .and_then(VecDeque::pop_front)
        {
            return Some(next);
        }
        let start = s.next_layout;
        for layout in s.layouts.iter_mut().skip(start) {
            if layout
                .as_ref()
                .is_some_and(|l| l.required.contains_key(&group))
            {
                *layout = None;
            }
        }
        s.next_layout += 1;
        None
    }

    pub fn add_error(&self, error: ErrorDetail) {
        self.lock().errors.push(error);
    }

    pub fn errors(&self) -> Vec<ErrorDetail> {
        self.lock().errors.clone()
    }

    /// The agreed response payload and distinct endorsements, once a layout is complete.
    pub fn completed(&self) -> Option<(Vec<u8>, Vec<Endorsement>)> {
        let s = self.lock();
        let endorsements = s.completed.as_ref()?;
        let mut unique: Vec<Endorsement> = Vec::new();
        for e in endorsements {
            if !unique.iter().any(|u| u.endorser == e.endorser) {
                unique.push(e.clone());
            }
        }
        Some((s.response_payload.clone().unwrap_or_default(), unique))
    }
}
