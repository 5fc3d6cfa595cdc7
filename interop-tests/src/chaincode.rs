//! Chaincode-as-a-service on an upstream network: Weft's sample contracts
//! (`chaincode/contracts/{basic,crud}`, WASM inside a Weft peer) also exist as
//! Go ccaas servers (`interop-tests/chaincode-go`, installed as
//! `$WEFT_UPSTREAM_DIR/chaincode/bin/weft-ccaas`), so upstream Go peers run
//! the same contract behaviour.
//!
//! [`Network::deploy_ccaas`] follows Fabric's ccaas flow: a package whose
//! `metadata.json` has type `ccaas` and whose `code.tar.gz` holds the server's
//! `connection.json` is installed on every peer (the harness's external
//! builder publishes that `connection.json`), the server is started with the
//! package id, every org approves, one admin commits, and the definition is
//! awaited on every peer. The server process belongs to the [`Network`] and
//! dies with it.
//!
//! ```no_run
//! use weft_interop_tests::{ContractKind, Network, Topology, UpstreamToolchain};
//! let toolchain = UpstreamToolchain::locate("2.5.9")?;
//! let topology = Topology::new("mychannel", &toolchain).peer_org("Org1", 1).peer_org("Org2", 1);
//! let mut network = Network::start(topology, &toolchain)?;
//! network.join_channel()?;
//! let basic = network.deploy_ccaas("basic", ContractKind::Basic)?;
//! network.chaincode_invoke(&basic.name, &["InitLedger"])?;
//! let asset = network.chaincode_query("peer0.org1.example.com", &basic.name, &["ReadAsset", "asset1"])?;
//! # Ok::<(), weft_interop_tests::HarnessError>(())
//! ```

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{HarnessError, Result};
use crate::network::{CHANNEL_TIMEOUT, Network};
use crate::nodes::TlsFiles;
use crate::process::{CommandOutput, NodeProcess, clean_command};
use crate::readiness::{accepts_connections, free_ports, wait_until};

/// Longest a chaincode server may take from spawn to accepting connections.
pub const CHAINCODE_START_TIMEOUT: Duration = Duration::from_secs(30);
/// The definition version every deployment uses.
pub const CCAAS_VERSION: &str = "1.0";
/// How long a peer waits to dial the chaincode server (connection.json `dial_timeout`).
const DIAL_TIMEOUT: &str = "10s";
/// Largest definition sequence tried when a name is deployed again.
const SEQUENCE_MAX: u64 = 1000;

/// Which of Weft's sample contracts a chaincode server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContractKind {
    /// Fabric's asset-transfer-basic (`chaincode/contracts/basic`).
    Basic,
    /// Generic CRUD over JSON records (`chaincode/contracts/crud`).
    Crud,
}

impl ContractKind {
    /// The contract's name, as `weft-ccaas -contract` and `chaincode/contracts/<name>` spell it.
    pub fn contract_name(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Crud => "crud",
        }
    }
}

/// A chaincode deployed with [`Network::deploy_ccaas`] and committed on the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcaasChaincode {
    /// The chaincode name on the channel (what `peer chaincode invoke -n` takes).
    pub name: String,
    pub contract: ContractKind,
    /// The package label, `<name>_<version>`.
    pub label: String,
    /// `<label>:<sha256 of the package>`, as every peer reported it on install.
    pub package_id: String,
    pub version: String,
    pub sequence: u64,
    /// Where the chaincode server listens (plain gRPC) and every peer dials.
    pub address: SocketAddr,
    /// The server's process name in [`Network::node_pids`] / [`Network::stop_node`].
    pub process_name: String,
    /// The server's log file.
    pub log: PathBuf,
}

/// The Go ccaas server binary the installer builds under `upstream_dir`.
pub fn ccaas_server_binary(upstream_dir: &Path) -> PathBuf {
    upstream_dir
        .join("chaincode")
        .join("bin")
        .join("weft-ccaas")
}

impl Network {
    /// Deploys `contract` as chaincode `name` on the channel, served by a new
    /// `weft-ccaas` process on a free loopback port. Installs on every peer,
    /// approves for every peer org, commits, and returns once every peer's
    /// `querycommitted` lists the definition. Deploying a name again starts a
    /// new server and commits the next sequence.
    pub fn deploy_ccaas(&mut self, name: &str, contract: ContractKind) -> Result<CcaasChaincode> {
        let binary = self.ccaas_binary()?;
        let address = free_ports(1)?
            .pop()
            .ok_or_else(|| HarnessError::Ports(std::io::ErrorKind::AddrNotAvailable.into()))?;
        let label = format!("{name}_{CCAAS_VERSION}");
        let package = ccaas_package(&label, address)?;
        let package_dir = self.work_dir().join("chaincode");
        std::fs::create_dir_all(&package_dir)
            .map_err(HarnessError::io("creating", &package_dir))?;
        let package_file = package_dir.join(format!("{label}-{}.tar.gz", address.port()));
        std::fs::write(&package_file, &package)
            .map_err(HarnessError::io("writing", &package_file))?;

        let package_id = self.install_everywhere(&package_file)?;
        let process_name = format!("ccaas-{name}-{}", address.port());
        let log = self
            .work_dir()
            .join("logs")
            .join(format!("{process_name}.log"));
        self.start_ccaas_server(&binary, contract, &package_id, address, &process_name, &log)?;

        let sequence = self.next_sequence(name)?;
        let chaincode = CcaasChaincode {
            name: name.to_owned(),
            contract,
            label,
            package_id,
            version: CCAAS_VERSION.to_owned(),
            sequence,
            address,
            process_name,
            log,
        };
        self.approve_for_every_org(&chaincode)?;
        self.commit_definition(&chaincode)?;
        self.wait_until_committed(&chaincode)?;
        Ok(chaincode)
    }

    /// Submits a transaction (`peer chaincode invoke --waitForEvent`) endorsed
    /// by the first peer of every org, and returns once it committed. The
    /// chaincode's answer is in the CLI's log line `... result: status:200
    /// payload:"..."` on stderr; a chaincode error is a
    /// [`HarnessError::CommandFailed`] ([`chaincode_error_message`] extracts it).
    pub fn chaincode_invoke(&self, chaincode: &str, args: &[&str]) -> Result<CommandOutput> {
        let mut cli: Vec<String> = vec![
            "chaincode".into(),
            "invoke".into(),
            "-C".into(),
            self.channel().to_owned(),
            "-n".into(),
            chaincode.into(),
            "-c".into(),
            invocation_json(args),
            "--waitForEvent".into(),
        ];
        cli.extend(self.orderer_args());
        cli.extend(self.endorsing_peer_args());
        self.peer_cli(&self.first_peer_name()?, &as_strs(&cli))
    }

    /// Evaluates a function on one peer (`peer chaincode query`) and returns
    /// the payload as text.
    pub fn chaincode_query(
        &self,
        peer_name: &str,
        chaincode: &str,
        args: &[&str],
    ) -> Result<String> {
        let json = invocation_json(args);
        let output = self.peer_cli(
            peer_name,
            &[
                "chaincode",
                "query",
                "-C",
                self.channel(),
                "-n",
                chaincode,
                "-c",
                &json,
            ],
        )?;
        Ok(query_payload(&output.stdout).to_owned())
    }

    fn ccaas_binary(&self) -> Result<PathBuf> {
        // The toolchain knows the install dir only through the builder it found there.
        let upstream_dir = self
            .toolchain()
            .ccaas_builder()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(crate::toolchain::upstream_dir);
        let binary = ccaas_server_binary(&upstream_dir);
        if binary.is_file() {
            return Ok(binary);
        }
        Err(HarnessError::ToolchainMissing {
            version: self.toolchain().version().to_owned(),
            missing: binary,
            root: upstream_dir,
        })
    }

    /// Installs the package on every peer; all must report the same package id.
    fn install_everywhere(&self, package_file: &Path) -> Result<String> {
        let file = package_file.display().to_string();
        let mut package_id: Option<String> = None;
        for peer in self.peer_names() {
            let output = self.peer_cli(&peer, &["lifecycle", "chaincode", "install", &file])?;
            let reported = installed_package_id(&output.stderr).ok_or_else(|| {
                HarnessError::UnexpectedOutput {
                    command: format!("peer lifecycle chaincode install on {peer}"),
                    detail: output.stderr.clone(),
                }
            })?;
            match &package_id {
                Some(first) if *first != reported => {
                    return Err(HarnessError::UnexpectedOutput {
                        command: format!("peer lifecycle chaincode install on {peer}"),
                        detail: format!("package id {reported}, but another peer reported {first}"),
                    });
                }
                _ => package_id = Some(reported),
            }
        }
        package_id.ok_or_else(|| HarnessError::Topology("the network has no peers".into()))
    }

    fn start_ccaas_server(
        &mut self,
        binary: &Path,
        contract: ContractKind,
        package_id: &str,
        address: SocketAddr,
        process_name: &str,
        log: &Path,
    ) -> Result<()> {
        let mut command = clean_command(binary);
        command
            .args(["-contract", contract.contract_name()])
            .env("CHAINCODE_ID", package_id)
            .env("CHAINCODE_SERVER_ADDRESS", address.to_string())
            .current_dir(self.work_dir());
        let mut process = NodeProcess::spawn(process_name, command, log)?;
        let mut exited = None;
        let ready = wait_until(
            CHAINCODE_START_TIMEOUT,
            || accepts_connections(address),
            || {
                exited = process.exit_status();
                match exited {
                    Some(status) => Err(HarnessError::NodeExited {
                        node: process_name.to_owned(),
                        status,
                        log: log.to_path_buf(),
                    }),
                    None => Ok(()),
                }
            },
        );
        self.adopt_process(process);
        if ready? {
            return Ok(());
        }
        Err(HarnessError::NotReady {
            what: format!("chaincode server {process_name} did not listen on {address}"),
            limit: CHAINCODE_START_TIMEOUT,
            log: log.to_path_buf(),
        })
    }

    /// 1 for a new name, else one past the committed sequence.
    fn next_sequence(&self, name: &str) -> Result<u64> {
        let peer = self.first_peer_name()?;
        match self.committed_definition(&peer, name) {
            Ok(Some((sequence, _))) if sequence < SEQUENCE_MAX => Ok(sequence + 1),
            Ok(Some((sequence, _))) => Err(HarnessError::Topology(format!(
                "chaincode {name} is at sequence {sequence}; the harness stops at {SEQUENCE_MAX}"
            ))),
            _ => Ok(1),
        }
    }

    fn definition_args(&self, chaincode: &CcaasChaincode) -> Vec<String> {
        let mut args: Vec<String> = [
            "--channelID",
            self.channel(),
            "--name",
            &chaincode.name,
            "--version",
            &chaincode.version,
            "--sequence",
            &chaincode.sequence.to_string(),
        ]
        .map(String::from)
        .to_vec();
        args.extend(self.orderer_args());
        args
    }

    fn approve_for_every_org(&self, chaincode: &CcaasChaincode) -> Result<()> {
        for peer in self.first_peer_of_each_org() {
            let mut args: Vec<String> = ["lifecycle", "chaincode", "approveformyorg"]
                .map(String::from)
                .to_vec();
            args.extend(self.definition_args(chaincode));
            args.extend(["--package-id".into(), chaincode.package_id.clone()]);
            self.peer_cli(&peer, &as_strs(&args))?;
        }
        Ok(())
    }

    fn commit_definition(&self, chaincode: &CcaasChaincode) -> Result<()> {
        let mut args: Vec<String> = ["lifecycle", "chaincode", "commit"]
            .map(String::from)
            .to_vec();
        args.extend(self.definition_args(chaincode));
        args.extend(self.endorsing_peer_args());
        self.peer_cli(&self.first_peer_name()?, &as_strs(&args))?;
        Ok(())
    }

    /// Waits until every peer's `querycommitted` shows this definition with
    /// the package approved by every org.
    fn wait_until_committed(&self, chaincode: &CcaasChaincode) -> Result<()> {
        for peer in self.peer_names() {
            let mut last = String::new();
            let committed = wait_until(
                CHANNEL_TIMEOUT,
                || match self.committed_definition(&peer, &chaincode.name) {
                    Ok(Some((sequence, approved))) => {
                        last = format!("sequence {sequence}, approved by all: {approved}");
                        sequence == chaincode.sequence && approved
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
                        "{peer} did not show {} sequence {} as committed (last: {last})",
                        chaincode.name, chaincode.sequence
                    ),
                    limit: CHANNEL_TIMEOUT,
                    log: self.peer(&peer)?.log.clone(),
                });
            }
        }
        Ok(())
    }

    /// The committed sequence of `name` and whether every org approved it,
    /// from `peer lifecycle chaincode querycommitted`; None if not committed.
    fn committed_definition(&self, peer: &str, name: &str) -> Result<Option<(u64, bool)>> {
        let args = [
            "lifecycle",
            "chaincode",
            "querycommitted",
            "--channelID",
            self.channel(),
            "--name",
            name,
            "--output",
            "json",
        ];
        match self.peer_cli(peer, &args) {
            Ok(output) => Ok(parse_committed_definition(&output.stdout)),
            // An uncommitted name is an error answer: "namespace <name> is not defined".
            Err(HarnessError::CommandFailed { stderr, .. }) if stderr.contains("not defined") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// `--peerAddresses A --tlsRootCertFiles CA` for the first peer of every org:
    /// the endorsers the channel's MAJORITY Endorsement policies need.
    fn endorsing_peer_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for name in self.first_peer_of_each_org() {
            if let Ok(peer) = self.peer(&name) {
                args.extend([
                    "--peerAddresses".into(),
                    peer.listen.to_string(),
                    "--tlsRootCertFiles".into(),
                    peer.tls_ca().display().to_string(),
                ]);
            }
        }
        args
    }

    fn first_peer_of_each_org(&self) -> Vec<String> {
        let mut seen: Vec<&str> = Vec::new();
        let mut names = Vec::new();
        for peer in self.peers() {
            if !seen.contains(&peer.msp_id.as_str()) {
                seen.push(&peer.msp_id);
                names.push(peer.name.clone());
            }
        }
        names
    }

    fn peer_names(&self) -> Vec<String> {
        self.peers().iter().map(|p| p.name.clone()).collect()
    }

    fn first_peer_name(&self) -> Result<String> {
        self.peers()
            .first()
            .map(|p| p.name.clone())
            .ok_or_else(|| HarnessError::Topology("the network has no peers".into()))
    }
}

/// The chaincode's error message in a failed `peer chaincode invoke/query`:
/// the CLI prints the proposal response as `... status:500 message:"<text>"`.
pub fn chaincode_error_message(error: &HarnessError) -> Option<String> {
    let HarnessError::CommandFailed { stderr, .. } = error else {
        return None;
    };
    let quoted = &stderr[stderr.find("message:\"")? + "message:\"".len()..];
    let mut message = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(message),
            '\\' => match chars.next()? {
                'n' => message.push('\n'),
                't' => message.push('\t'),
                other => message.push(other),
            },
            c => message.push(c),
        }
    }
    None
}

/// The `{"Args":[...]}` constructor message the `peer chaincode` commands take.
fn invocation_json(args: &[&str]) -> String {
    serde_json::json!({ "Args": args }).to_string()
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `peer chaincode query` prints the payload and one newline.
fn query_payload(stdout: &str) -> &str {
    stdout.strip_suffix('\n').unwrap_or(stdout)
}

/// `peer lifecycle chaincode install` logs `Chaincode code package identifier: <id>`.
fn installed_package_id(stderr: &str) -> Option<String> {
    let marker = "Chaincode code package identifier: ";
    let line = stderr.lines().find(|l| l.contains(marker))?;
    let id = line[line.find(marker)? + marker.len()..].trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// `querycommitted --name N --output json` answers
/// `{"sequence":1,"version":"1.0",...,"approvals":{"Org1MSP":true,...}}`.
fn parse_committed_definition(stdout: &str) -> Option<(u64, bool)> {
    let info: serde_json::Value = serde_json::from_str(stdout.trim()).ok()?;
    let sequence = info["sequence"].as_u64()?;
    let approved = info["approvals"]
        .as_object()
        .is_some_and(|orgs| !orgs.is_empty() && orgs.values().all(|v| v == true));
    Some((sequence, approved))
}

/// A ccaas chaincode package as Fabric's lifecycle reads it: a gzipped tar
/// with `metadata.json` (`{"path":"","type":"ccaas","label":...}`) and
/// `code.tar.gz`, itself a gzipped tar holding `connection.json`.
pub fn ccaas_package(label: &str, address: SocketAddr) -> Result<Vec<u8>> {
    let connection = serde_json::json!({
        "address": address.to_string(),
        "dial_timeout": DIAL_TIMEOUT,
        "tls_required": false,
    });
    let code = tar_gz(&[("connection.json", connection.to_string().as_bytes())])?;
    let metadata = serde_json::json!({ "path": "", "type": "ccaas", "label": label });
    tar_gz(&[
        ("metadata.json", metadata.to_string().as_bytes()),
        ("code.tar.gz", &code),
    ])
}

fn tar_gz(files: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let to_error = |source: std::io::Error| HarnessError::Serialise {
        what: "a chaincode package",
        detail: source.to_string(),
    };
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut archive = tar::Builder::new(encoder);
    for (name, contents) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        archive
            .append_data(&mut header, name, *contents)
            .map_err(to_error)?;
    }
    let mut encoder = archive.into_inner().map_err(to_error)?;
    encoder.flush().map_err(to_error)?;
    encoder.finish().map_err(to_error)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn untar_gz(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                assert_eq!(entry.header().entry_type(), tar::EntryType::Regular);
                let name = entry.path().unwrap().display().to_string();
                let mut contents = Vec::new();
                entry.read_to_end(&mut contents).unwrap();
                (name, contents)
            })
            .collect()
    }

    // Fabric's persistence.ParseChaincodePackage wants regular files named
    // metadata.json and code.tar.gz; the ccaas builder reads connection.json
    // from the code archive.
    #[test]
    fn ccaas_package_has_fabrics_layout() {
        let address: SocketAddr = "127.0.0.1:7777".parse().unwrap();
        let package = ccaas_package("basic_1.0", address).unwrap();
        let entries = untar_gz(&package);
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["metadata.json", "code.tar.gz"]);
        let metadata: serde_json::Value = serde_json::from_slice(&entries[0].1).unwrap();
        assert_eq!(
            metadata,
            serde_json::json!({"path": "", "type": "ccaas", "label": "basic_1.0"})
        );
        let code = untar_gz(&entries[1].1);
        assert_eq!(code.len(), 1);
        assert_eq!(code[0].0, "connection.json");
        let connection: serde_json::Value = serde_json::from_slice(&code[0].1).unwrap();
        assert_eq!(connection["address"], "127.0.0.1:7777");
        assert_eq!(connection["dial_timeout"], DIAL_TIMEOUT);
        assert_eq!(connection["tls_required"], false);
    }

    #[test]
    fn cli_output_is_parsed() {
        let install = "2024-01-01 INFO [cli.lifecycle.chaincode] submitInstallProposal -> Chaincode code package identifier: basic_1.0:ab12\n";
        assert_eq!(
            installed_package_id(install).as_deref(),
            Some("basic_1.0:ab12")
        );
        assert_eq!(installed_package_id("Error: failed"), None);

        let committed =
            r#"{"sequence":2,"version":"1.0","approvals":{"Org1MSP":true,"Org2MSP":false}}"#;
        assert_eq!(parse_committed_definition(committed), Some((2, false)));
        let committed = r#"{"sequence":1,"approvals":{"Org1MSP":true,"Org2MSP":true}}"#;
        assert_eq!(parse_committed_definition(committed), Some((1, true)));
        assert_eq!(parse_committed_definition("Error"), None);

        assert_eq!(query_payload("{\"a\":1}\n"), "{\"a\":1}");
        assert_eq!(query_payload(""), "");
        assert_eq!(
            invocation_json(&["CreateAsset", "a\"1"]),
            r#"{"Args":["CreateAsset","a\"1"]}"#
        );
    }

    #[test]
    fn chaincode_error_message_is_read_from_the_cli_output() {
        let failed = |stderr: &str| HarnessError::CommandFailed {
            command: "peer chaincode invoke".into(),
            status: std::process::ExitStatus::default(),
            stdout: String::new(),
            stderr: stderr.into(),
        };
        let error = failed(
            "Error: endorsement failure during invoke. response: status:500 message:\"the asset x does not exist\"\n",
        );
        assert_eq!(
            chaincode_error_message(&error).as_deref(),
            Some("the asset x does not exist")
        );
        let error = failed(r#"Error: ... message:"got \"0\"\n" "#);
        assert_eq!(
            chaincode_error_message(&error).as_deref(),
            Some("got \"0\"\n")
        );
        assert_eq!(chaincode_error_message(&failed("Error: timeout")), None);
        assert_eq!(
            chaincode_error_message(&HarnessError::Topology("x".into())),
            None
        );
    }
}
