//! The `_lifecycle` steps of a deployment as `peer lifecycle chaincode`
//! commands, each usable on its own: a deployment that mixes packages (a
//! WASM package on Weft peers, a ccaas package on Go peers) composes them
//! itself, approving each org with the package id its own peers installed.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{HarnessError, Result};
use crate::network::{CHANNEL_TIMEOUT, Network};
use crate::nodes::TlsFiles;
use crate::readiness::wait_until;

/// Largest definition sequence [`Network::next_chaincode_sequence`] hands out.
const SEQUENCE_MAX: u64 = 1000;

/// The parts of a chaincode definition the harness sets; everything else
/// (endorsement and validation policy, init, collections) keeps Fabric's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodeDefinition {
    pub name: String,
    pub version: String,
    pub sequence: u64,
}

/// What `peer lifecycle chaincode querycommitted --name` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedChaincode {
    pub sequence: u64,
    pub version: String,
    /// Approval of the committed definition by MSP ID.
    pub approvals: BTreeMap<String, bool>,
}

impl Network {
    /// `peer lifecycle chaincode install <package_file>` on one peer; returns
    /// the package id the peer reported. A package the peer already has is
    /// not an error here: its id is returned, so deployments can be repeated.
    pub fn install_chaincode_package(&self, peer: &str, package_file: &Path) -> Result<String> {
        let file = package_file.display().to_string();
        let output = match self.peer_cli(peer, &["lifecycle", "chaincode", "install", &file]) {
            Ok(output) => output,
            Err(error) => {
                if let HarnessError::CommandFailed { stderr, .. } = &error
                    && let Some(package_id) = already_installed_package_id(stderr)
                {
                    return Ok(package_id);
                }
                return Err(error);
            }
        };
        installed_package_id(&output.stderr).ok_or_else(|| HarnessError::UnexpectedOutput {
            command: format!("peer lifecycle chaincode install on {peer}"),
            detail: output.stderr,
        })
    }

    /// `approveformyorg` as the admin of `peer`'s org, waiting until `peer` committed it.
    pub fn approve_chaincode(
        &self,
        peer: &str,
        definition: &ChaincodeDefinition,
        package_id: &str,
    ) -> Result<()> {
        let mut args = vec![
            "lifecycle".into(),
            "chaincode".into(),
            "approveformyorg".into(),
        ];
        args.extend(self.definition_args(definition));
        args.extend(["--package-id".into(), package_id.to_owned()]);
        self.peer_cli(peer, &as_strs(&args))?;
        Ok(())
    }

    /// `commit`, endorsed by the first peer of every org, waiting until they committed it.
    pub fn commit_chaincode(&self, definition: &ChaincodeDefinition) -> Result<()> {
        let mut args = vec!["lifecycle".into(), "chaincode".into(), "commit".into()];
        args.extend(self.definition_args(definition));
        args.extend(self.endorsing_peer_args()?);
        self.peer_cli(&self.first_peer_name()?, &as_strs(&args))?;
        Ok(())
    }

    /// Waits up to [`CHANNEL_TIMEOUT`] until every peer's `querycommitted`
    /// shows `definition` approved by every org.
    pub fn wait_for_committed_chaincode(&self, definition: &ChaincodeDefinition) -> Result<()> {
        for peer in self.peers() {
            let mut last = String::from("nothing committed");
            let committed = wait_until(
                CHANNEL_TIMEOUT,
                || match self.committed_chaincode(&peer.name, &definition.name) {
                    Ok(Some(found)) => {
                        last = format!("{found:?}");
                        found.sequence == definition.sequence
                            && found.version == definition.version
                            && found.approvals.values().all(|approved| *approved)
                    }
                    Ok(None) => false,
                    Err(e) => {
                        last = e.to_string();
                        false
                    }
                },
                || Ok(()),
            )?;
            if !committed {
                return Err(HarnessError::NotReady {
                    what: format!(
                        "{} did not show {definition:?} as committed (last: {last})",
                        peer.name
                    ),
                    limit: CHANNEL_TIMEOUT,
                    log: peer.log.clone(),
                });
            }
        }
        Ok(())
    }

    /// The definition of `name` committed on the channel as `peer` sees it; None if none is.
    pub fn committed_chaincode(
        &self,
        peer: &str,
        name: &str,
    ) -> Result<Option<CommittedChaincode>> {
        let channel = self.channel();
        let args = [
            "lifecycle",
            "chaincode",
            "querycommitted",
            "--channelID",
            channel,
            "--name",
            name,
            "--output",
            "json",
        ];
        match self.peer_cli(peer, &args) {
            Ok(output) => parse_committed(&output.stdout).map(Some).ok_or_else(|| {
                HarnessError::UnexpectedOutput {
                    command: format!("peer lifecycle chaincode querycommitted on {peer}"),
                    detail: output.stdout,
                }
            }),
            // Fabric answers a name without a definition with "namespace <name> is not defined".
            Err(HarnessError::CommandFailed { stderr, .. })
                if stderr.contains("is not defined") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// 1 for a name with no committed definition, else one past the committed sequence.
    pub fn next_chaincode_sequence(&self, name: &str) -> Result<u64> {
        match self.committed_chaincode(&self.first_peer_name()?, name)? {
            None => Ok(1),
            Some(found) if found.sequence < SEQUENCE_MAX => Ok(found.sequence + 1),
            Some(found) => Err(HarnessError::Topology(format!(
                "chaincode {name} is at sequence {}; the harness stops at {SEQUENCE_MAX}",
                found.sequence
            ))),
        }
    }

    /// The first peer of every org, in topology order: one endorser per org,
    /// which the channel's `MAJORITY Endorsement` policies need.
    pub fn first_peer_of_each_org(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut orgs: Vec<&str> = Vec::new();
        for peer in self.peers() {
            if !orgs.contains(&peer.msp_id.as_str()) {
                orgs.push(&peer.msp_id);
                names.push(peer.name.clone());
            }
        }
        names
    }

    /// `--peerAddresses A --tlsRootCertFiles CA` for [`Network::first_peer_of_each_org`].
    pub(crate) fn endorsing_peer_args(&self) -> Result<Vec<String>> {
        let mut args = Vec::new();
        for name in self.first_peer_of_each_org() {
            args.extend(self.peer_address_args(&name)?);
        }
        Ok(args)
    }

    /// `--peerAddresses A --tlsRootCertFiles CA` for one peer.
    pub(crate) fn peer_address_args(&self, name: &str) -> Result<[String; 4]> {
        let peer = self.peer(name)?;
        Ok([
            "--peerAddresses".into(),
            peer.listen.to_string(),
            "--tlsRootCertFiles".into(),
            peer.tls_ca().display().to_string(),
        ])
    }

    pub(crate) fn first_peer_name(&self) -> Result<String> {
        self.peers()
            .first()
            .map(|p| p.name.clone())
            .ok_or_else(|| HarnessError::Topology("the network has no peers".into()))
    }

    fn definition_args(&self, definition: &ChaincodeDefinition) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--channelID".into(),
            self.channel().to_owned(),
            "--name".into(),
            definition.name.clone(),
            "--version".into(),
            definition.version.clone(),
            "--sequence".into(),
            definition.sequence.to_string(),
        ];
        args.extend(self.orderer_args());
        args
    }
}

pub(crate) fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The install command logs `Chaincode code package identifier: <id>`.
fn installed_package_id(stderr: &str) -> Option<String> {
    let marker = "Chaincode code package identifier: ";
    let line = stderr.lines().find(|l| l.contains(marker))?;
    let id = line[line.find(marker)? + marker.len()..].trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// Fabric refuses a second install of a package with
/// `chaincode already successfully installed (package ID '<id>')`.
fn already_installed_package_id(stderr: &str) -> Option<String> {
    let marker = "chaincode already successfully installed (package ID '";
    let rest = &stderr[stderr.find(marker)? + marker.len()..];
    let id = &rest[..rest.find('\'')?];
    (!id.is_empty()).then(|| id.to_owned())
}

/// `querycommitted --name N --output json`:
/// `{"sequence":1,"version":"1.0",...,"approvals":{"Org1MSP":true,...}}`.
fn parse_committed(stdout: &str) -> Option<CommittedChaincode> {
    let info: serde_json::Value = serde_json::from_str(stdout.trim()).ok()?;
    let approvals = info["approvals"]
        .as_object()?
        .iter()
        .map(|(org, approved)| Some((org.clone(), approved.as_bool()?)))
        .collect::<Option<_>>()?;
    Some(CommittedChaincode {
        sequence: info["sequence"].as_u64()?,
        version: info["version"].as_str()?.to_owned(),
        approvals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_output_names_the_package_id() {
        let install = "2024-01-01 INFO [cli.lifecycle.chaincode] submitInstallProposal -> Chaincode code package identifier: basic_1.0:ab12\n";
        assert_eq!(
            installed_package_id(install).as_deref(),
            Some("basic_1.0:ab12")
        );
        assert_eq!(installed_package_id("Error: failed"), None);

        let again = "Error: chaincode install failed with status: 500 - chaincode already successfully installed (package ID 'crud_1.0:cd34')\n";
        assert_eq!(
            already_installed_package_id(again).as_deref(),
            Some("crud_1.0:cd34")
        );
        assert_eq!(already_installed_package_id("Error: failed"), None);
    }

    #[test]
    fn querycommitted_json_is_parsed() {
        let committed = parse_committed(
            r#"{"sequence":2,"version":"1.0","endorsement_plugin":"escc","approvals":{"Org1MSP":true,"Org2MSP":false}}"#,
        )
        .unwrap();
        assert_eq!(committed.sequence, 2);
        assert_eq!(committed.version, "1.0");
        assert!(committed.approvals["Org1MSP"]);
        assert!(!committed.approvals["Org2MSP"]);
        assert_eq!(parse_committed(r#"{"sequence":1,"version":"1"}"#), None);
        assert_eq!(parse_committed("Error"), None);
    }
}
