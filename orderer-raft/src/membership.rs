//! Consenter ids and membership changes, as Fabric's etcdraft assigns them.
//!
//! Fabric numbers the consenters of a channel's genesis config 1..=n and records the mapping in
//! the `BlockMetadata` of every block (`consenter_ids` parallel to the config's consenter list,
//! plus `next_consenter_id`). A config update may add, remove or rotate (replace the TLS cert of)
//! exactly one consenter; identity is the client TLS certificate.

use std::collections::BTreeMap;

use fabric_protos::etcdraft::{BlockMetadata, Consenter};
use raft::eraftpb::{ConfChange, ConfChangeType};

use crate::RaftError;

/// Block metadata for a channel's genesis block: consenters get ids 1..=n in config order.
pub fn genesis_block_metadata(consenter_count: usize) -> BlockMetadata {
    let ids: Vec<u64> = (1..=consenter_count as u64).collect();
    BlockMetadata {
        next_consenter_id: consenter_count as u64 + 1,
        consenter_ids: ids,
        raft_index: 0,
    }
}

/// Consenters by raft id (Fabric: `CreateConsentersMap`); `None` when the lists differ in length.
pub fn consenters_by_id(
    metadata: &BlockMetadata,
    consenters: &[Consenter],
) -> Option<BTreeMap<u64, Consenter>> {
    if metadata.consenter_ids.len() != consenters.len() {
        return None;
    }
    Some(
        metadata
            .consenter_ids
            .iter()
            .copied()
            .zip(consenters.iter().cloned())
            .collect(),
    )
}

/// The outcome of comparing the current consenter set with the one in a config update.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipChange {
    pub new_metadata: BlockMetadata,
    /// The raft membership change to propose, if the voter set changes (not for a rotation).
    pub conf_change: Option<ConfChange>,
    /// Id whose TLS certificate was replaced, if this is a rotation.
    pub rotated: Option<u64>,
}

/// Fabric's `ComputeMembershipChanges`: at most one consenter added, removed or rotated.
pub fn compute_membership_change(
    old: &BlockMetadata,
    old_consenters: &BTreeMap<u64, Consenter>,
    new_consenters: &[Consenter],
) -> Result<MembershipChange, RaftError> {
    let id_by_cert: BTreeMap<&[u8], u64> = old_consenters
        .iter()
        .map(|(id, c)| (c.client_tls_cert.as_slice(), *id))
        .collect();
    let mut new_metadata = old.clone();
    new_metadata.consenter_ids = vec![0; new_consenters.len()];
    let mut added = Vec::new();
    for (i, c) in new_consenters.iter().enumerate() {
        match id_by_cert.get(c.client_tls_cert.as_slice()) {
            Some(id) => new_metadata.consenter_ids[i] = *id,
            None => added.push(i),
        }
    }
    let removed: Vec<u64> = old_consenters
        .iter()
        .filter(|(_, c)| {
            !new_consenters
                .iter()
                .any(|n| n.client_tls_cert == c.client_tls_cert)
        })
        .map(|(id, _)| *id)
        .collect();
    let change = |id, kind| {
        let mut cc = ConfChange::default();
        cc.set_node_id(id);
        cc.set_change_type(kind);
        cc
    };
    let (conf_change, rotated) = match (added.as_slice(), removed.as_slice()) {
        ([], []) => (None, None),
        ([slot], [id]) => {
            new_metadata.consenter_ids[*slot] = *id;
            (None, Some(*id))
        }
        ([slot], []) => {
            let id = new_metadata.next_consenter_id;
            new_metadata.consenter_ids[*slot] = id;
            new_metadata.next_consenter_id += 1;
            (Some(change(id, ConfChangeType::AddNode)), None)
        }
        ([], [id]) => (Some(change(*id, ConfChangeType::RemoveNode)), None),
        _ => {
            return Err(RaftError::Membership(format!(
                "{} consenters added and {} removed; change one consenter per config update",
                added.len(),
                removed.len()
            )));
        }
    };
    Ok(MembershipChange {
        new_metadata,
        conf_change,
        rotated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consenter(cert: &str) -> Consenter {
        Consenter {
            host: cert.into(),
            port: 7050,
            client_tls_cert: cert.into(),
            server_tls_cert: cert.into(),
        }
    }

    fn cluster(certs: &[&str]) -> (BlockMetadata, BTreeMap<u64, Consenter>) {
        let md = genesis_block_metadata(certs.len());
        let list: Vec<Consenter> = certs.iter().map(|c| consenter(c)).collect();
        let map = consenters_by_id(&md, &list).unwrap();
        (md, map)
    }

    // Mirrors Fabric's ComputeMembershipChanges: add takes next_consenter_id, remove keeps the
    // counter, rotation keeps the id, two changes at once are refused.
    #[test]
    fn one_change_at_a_time_with_fabric_ids() {
        let (md, map) = cluster(&["a", "b", "c"]);
        assert_eq!(md.consenter_ids, vec![1, 2, 3]);
        assert_eq!(md.next_consenter_id, 4);

        let add = compute_membership_change(
            &md,
            &map,
            &[
                consenter("a"),
                consenter("b"),
                consenter("c"),
                consenter("d"),
            ],
        )
        .unwrap();
        assert_eq!(add.new_metadata.consenter_ids, vec![1, 2, 3, 4]);
        assert_eq!(add.new_metadata.next_consenter_id, 5);
        let cc = add.conf_change.unwrap();
        assert_eq!(
            (cc.node_id, cc.get_change_type()),
            (4, ConfChangeType::AddNode)
        );

        let remove =
            compute_membership_change(&md, &map, &[consenter("a"), consenter("c")]).unwrap();
        assert_eq!(remove.new_metadata.consenter_ids, vec![1, 3]);
        assert_eq!(remove.new_metadata.next_consenter_id, 4);
        let cc = remove.conf_change.unwrap();
        assert_eq!(
            (cc.node_id, cc.get_change_type()),
            (2, ConfChangeType::RemoveNode)
        );

        let rotate =
            compute_membership_change(&md, &map, &[consenter("a"), consenter("x"), consenter("c")])
                .unwrap();
        assert_eq!(rotate.rotated, Some(2));
        assert_eq!(rotate.conf_change, None);
        assert_eq!(rotate.new_metadata.consenter_ids, vec![1, 2, 3]);

        assert!(
            compute_membership_change(&md, &map, &[consenter("a"), consenter("x"), consenter("y")])
                .is_err()
        );
        assert!(compute_membership_change(&md, &map, &[consenter("a")]).is_err());
    }
}
