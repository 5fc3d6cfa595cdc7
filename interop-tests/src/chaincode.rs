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

mod lifecycle;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{HarnessError, Result};
use crate::network::Network;
use crate::process::{CommandOutput, NodeProcess, clean_command};
use crate::readiness::{accepts_connections, free_ports, wait_until};

/// Longest a chaincode server may take from spawn to accepting connections.
pub const CHAINCODE_START_TIMEOUT: Duration = Duration::from_secs(30);
/// The definition version every deployment uses.
pub const CCAAS_VERSION: &str = "1.0";
/// How long a peer waits to dial the chaincode server (connection.json `dial_timeout`).
const DIAL_TIMEOUT: &str = "10s";

use lifecycle::as_strs;
pub use lifecycle::{ChaincodeDefinition, CommittedChaincode};

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
    /// The ccaas package's id, `<label>:<sha256 of the package>`, as its peers
    /// reported it on install (the server's `CHAINCODE_ID`).
    pub package_id: String,
    /// The package id each org approved, by MSP ID (differs from
    /// `package_id` for orgs given another package by `deploy_ccaas_with`).
    pub package_ids: BTreeMap<String, String>,
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

/// A running `weft-ccaas` process, owned by the [`Network`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcaasServer {
    pub contract: ContractKind,
    /// The package id the server registers with (`CHAINCODE_ID`).
    pub package_id: String,
    /// Where it listens (`CHAINCODE_SERVER_ADDRESS`, plain gRPC).
    pub address: SocketAddr,
    /// Its name in [`Network::node_pids`] / [`Network::stop_node`].
    pub process_name: String,
    pub log: PathBuf,
}

impl Network {
    /// Deploys `contract` as chaincode `name` on the channel: see
    /// [`Network::deploy_ccaas_with`]; every peer gets the ccaas package.
    pub fn deploy_ccaas(&mut self, name: &str, contract: ContractKind) -> Result<CcaasChaincode> {
        self.deploy_ccaas_with(name, contract, &[])
    }

    /// Deploys `contract` as chaincode `name`, served by a new `weft-ccaas`
    /// process on a free loopback port: installs the ccaas package on every
    /// peer except those listed in `other_packages` (peer name, package file),
    /// which install their own package instead (a Weft peer's WASM package of
    /// the same contract); every org approves the package id its peers
    /// reported (all peers of an org must agree); one admin commits; returns
    /// once every peer's `querycommitted` shows the definition. Deploying a
    /// name again commits the next sequence with a new server.
    pub fn deploy_ccaas_with(
        &mut self,
        name: &str,
        contract: ContractKind,
        other_packages: &[(&str, &Path)],
    ) -> Result<CcaasChaincode> {
        let address = free_ports(1)?
            .pop()
            .ok_or_else(|| HarnessError::Ports(std::io::ErrorKind::AddrNotAvailable.into()))?;
        if let Some((unknown, _)) = other_packages
            .iter()
            .find(|(peer, _)| self.peer(peer).is_err())
        {
            return Err(HarnessError::UnknownNode((*unknown).to_owned()));
        }
        let label = format!("{name}_{CCAAS_VERSION}");
        let package_file = self.write_ccaas_package(&label, address)?;
        let mut installed = Vec::new();
        for peer in self.peers().to_vec() {
            let file = other_packages
                .iter()
                .find(|(other, _)| *other == peer.name)
                .map_or(package_file.as_path(), |(_, file)| *file);
            let package_id = self.install_chaincode_package(&peer.name, file)?;
            installed.push((
                peer.msp_id.clone(),
                peer.name.clone(),
                package_id,
                file == package_file,
            ));
        }
        let package_ids = package_id_per_org(&installed)?;
        let ccaas_package_id = installed
            .iter()
            .find(|(_, _, _, ccaas)| *ccaas)
            .map(|(_, _, id, _)| id.clone())
            .unwrap_or_else(|| ccaas_package_id_of(&label));
        let server = self.start_ccaas_server(contract, &ccaas_package_id, address)?;

        let definition = ChaincodeDefinition {
            name: name.to_owned(),
            version: CCAAS_VERSION.to_owned(),
            sequence: self.next_chaincode_sequence(name)?,
        };
        for peer in self.first_peer_of_each_org() {
            let msp_id = &self.peer(&peer)?.msp_id;
            let package_id = package_ids.get(msp_id).cloned().unwrap_or_default();
            self.approve_chaincode(&peer, &definition, &package_id)?;
        }
        self.commit_chaincode(&definition)?;
        self.wait_for_committed_chaincode(&definition)?;
        Ok(CcaasChaincode {
            name: definition.name,
            contract,
            label,
            package_id: server.package_id,
            package_ids,
            version: definition.version,
            sequence: definition.sequence,
            address: server.address,
            process_name: server.process_name,
            log: server.log,
        })
    }

    /// Starts `weft-ccaas -contract <contract>` for `package_id` on `address`
    /// and waits until it accepts connections. The network owns the process.
    pub fn start_ccaas_server(
        &mut self,
        contract: ContractKind,
        package_id: &str,
        address: SocketAddr,
    ) -> Result<CcaasServer> {
        let binary = self.ccaas_binary()?;
        let process_name = format!("ccaas-{}-{}", contract.contract_name(), address.port());
        let log = self
            .work_dir()
            .join("logs")
            .join(format!("{process_name}.log"));
        let mut command = clean_command(&binary);
        command
            .args(["-contract", contract.contract_name()])
            .env("CHAINCODE_ID", package_id)
            .env("CHAINCODE_SERVER_ADDRESS", address.to_string())
            .current_dir(self.work_dir());
        let mut process = NodeProcess::spawn(&process_name, command, &log)?;
        let ready = wait_until(
            CHAINCODE_START_TIMEOUT,
            || accepts_connections(address),
            || match process.exit_status() {
                Some(status) => Err(HarnessError::NodeExited {
                    node: process_name.clone(),
                    status,
                    log: log.clone(),
                }),
                None => Ok(()),
            },
        );
        self.adopt_process(process);
        if !ready? {
            return Err(HarnessError::NotReady {
                what: format!("chaincode server {process_name} did not listen on {address}"),
                limit: CHAINCODE_START_TIMEOUT,
                log,
            });
        }
        Ok(CcaasServer {
            contract,
            package_id: package_id.to_owned(),
            address,
            process_name,
            log,
        })
    }

    /// Writes the ccaas package for a server at `address` into the work dir.
    pub fn write_ccaas_package(&self, label: &str, address: SocketAddr) -> Result<PathBuf> {
        let package_dir = self.work_dir().join("chaincode");
        std::fs::create_dir_all(&package_dir)
            .map_err(HarnessError::io("creating", &package_dir))?;
        let file = package_dir.join(format!("{label}-{}.tar.gz", address.port()));
        let package = ccaas_package(label, address)?;
        std::fs::write(&file, package).map_err(HarnessError::io("writing", &file))?;
        Ok(file)
    }

    /// Submits a transaction (`peer chaincode invoke --waitForEvent`) endorsed
    /// by the first peer of every org, and returns once it committed. The
    /// chaincode's answer: [`invoke_payload`]; a chaincode error is a
    /// [`HarnessError::CommandFailed`] ([`chaincode_error_message`] extracts it).
    pub fn chaincode_invoke(&self, chaincode: &str, args: &[&str]) -> Result<CommandOutput> {
        let endorsers = self.first_peer_of_each_org();
        self.chaincode_invoke_on(&as_strs(&endorsers), chaincode, args)
    }

    /// [`Network::chaincode_invoke`] with the endorsing peers chosen by name;
    /// the CLI runs as the admin of the first one's org.
    pub fn chaincode_invoke_on(
        &self,
        endorsers: &[&str],
        chaincode: &str,
        args: &[&str],
    ) -> Result<CommandOutput> {
        let first = endorsers.first().ok_or_else(|| {
            HarnessError::Topology("an invoke needs at least one endorser".into())
        })?;
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
        for name in endorsers {
            cli.extend(self.peer_address_args(name)?);
        }
        self.peer_cli(first, &as_strs(&cli))
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
}

/// The package id each org approves: the one its peers reported on install
/// (msp id, peer, package id, is the ccaas package). Fabric runs, on a peer,
/// the package its org approved, so an org whose peers hold different
/// packages cannot be served.
fn package_id_per_org(
    installed: &[(String, String, String, bool)],
) -> Result<BTreeMap<String, String>> {
    let mut per_org: BTreeMap<String, String> = BTreeMap::new();
    for (msp_id, peer, package_id, _) in installed {
        match per_org.get(msp_id) {
            Some(agreed) if agreed != package_id => {
                return Err(HarnessError::Topology(format!(
                    "{peer} of {msp_id} installed {package_id}, another peer of {msp_id} {agreed}: \
                     give every peer of an org the same package"
                )));
            }
            _ => {
                per_org.insert(msp_id.clone(), package_id.clone());
            }
        }
    }
    Ok(per_org)
}

/// When no peer installed the ccaas package the server still needs an id;
/// Fabric's is `<label>:<hash>`, and nothing dials this server then.
fn ccaas_package_id_of(label: &str) -> String {
    format!("{label}:unused")
}

/// The chaincode's error message in a failed `peer chaincode invoke/query`:
/// the CLI prints the proposal response as `... status:500 message:"<text>"`.
pub fn chaincode_error_message(error: &HarnessError) -> Option<String> {
    let HarnessError::CommandFailed { stderr, .. } = error else {
        return None;
    };
    let quoted = &stderr[stderr.find("message:\"")? + "message:".len()..];
    let message = unquote_text_format(quoted)?;
    Some(String::from_utf8_lossy(&message).into_owned())
}

/// The payload of a successful [`Network::chaincode_invoke`], from the CLI's
/// `Chaincode invoke successful. result: status:200 payload:"..."` line (no
/// `payload` field there means an empty payload).
pub fn invoke_payload(output: &CommandOutput) -> Option<Vec<u8>> {
    let marker = "Chaincode invoke successful. result: ";
    let line = output.stderr.lines().find(|l| l.contains(marker))?;
    let result = &line[line.find(marker)? + marker.len()..];
    match result.find("payload:\"") {
        Some(at) => unquote_text_format(&result[at + "payload:".len()..]),
        None => Some(Vec::new()),
    }
}

/// Reads the quoted string at the start of `text` as protobuf's text format
/// writes it (Go's `%v` of a message): `\"` `\\` `\n` `\r` `\t`, `\xHH`
/// for a raw byte, `\uHHHH` / `\UHHHHHHHH` for a character.
fn unquote_text_format(text: &str) -> Option<Vec<u8>> {
    let mut rest = text.strip_prefix('"')?;
    let mut out = Vec::new();
    loop {
        let c = rest.chars().next()?;
        rest = &rest[c.len_utf8()..];
        match c {
            '"' => return Some(out),
            '\\' => {
                let escape = rest.chars().next()?;
                rest = &rest[escape.len_utf8()..];
                let simple = match escape {
                    'n' => Some(b'\n'),
                    'r' => Some(b'\r'),
                    't' => Some(b'\t'),
                    '"' | '\\' | '\'' => Some(escape as u8),
                    _ => None,
                };
                if let Some(byte) = simple {
                    out.push(byte);
                    continue;
                }
                let digits = match escape {
                    'x' => 2,
                    'u' => 4,
                    'U' => 8,
                    _ => return None,
                };
                let value = u32::from_str_radix(rest.get(..digits)?, 16).ok()?;
                rest = &rest[digits..];
                if escape == 'x' {
                    out.push(u8::try_from(value).ok()?);
                } else {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(char::from_u32(value)?.encode_utf8(&mut buf).as_bytes());
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// The `{"Args":[...]}` constructor message the `peer chaincode` commands take.
fn invocation_json(args: &[&str]) -> String {
    serde_json::json!({ "Args": args }).to_string()
}

/// `peer chaincode query` prints the payload and one newline.
fn query_payload(stdout: &str) -> &str {
    stdout.strip_suffix('\n').unwrap_or(stdout)
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
        assert_eq!(query_payload("{\"a\":1}\n"), "{\"a\":1}");
        assert_eq!(query_payload(""), "");
        assert_eq!(
            invocation_json(&["CreateAsset", "a\"1"]),
            r#"{"Args":["CreateAsset","a\"1"]}"#
        );
    }

    #[test]
    fn invoke_payload_is_read_from_the_cli_log() {
        let output = |stderr: &str| CommandOutput {
            stdout: String::new(),
            stderr: stderr.into(),
        };
        let ok = "2024 INFO [chaincodeCmd] chaincodeInvokeOrQuery -> Chaincode invoke successful. result: status:200 payload:\"Ana\\n\\x01\"\n";
        assert_eq!(invoke_payload(&output(ok)).unwrap(), b"Ana\n\x01");
        let empty = "INFO Chaincode invoke successful. result: status:200\n";
        assert_eq!(invoke_payload(&output(empty)).unwrap(), b"");
        assert_eq!(invoke_payload(&output("Error: failed")), None);
    }

    #[test]
    fn every_org_approves_the_package_its_peers_installed() {
        let row = |msp: &str, peer: &str, id: &str| (msp.into(), peer.into(), id.into(), true);
        let ids = package_id_per_org(&[
            row("Org1MSP", "p0.org1", "basic_1.0:aa"),
            row("Org1MSP", "p1.org1", "basic_1.0:aa"),
            row("Org2MSP", "p0.org2", "basic_1.0:bb"),
        ])
        .unwrap();
        assert_eq!(ids["Org1MSP"], "basic_1.0:aa");
        assert_eq!(ids["Org2MSP"], "basic_1.0:bb");
        let split = package_id_per_org(&[
            row("Org1MSP", "p0.org1", "basic_1.0:aa"),
            row("Org1MSP", "p1.org1", "basic_1.0:cc"),
        ]);
        assert!(matches!(split, Err(HarnessError::Topology(m)) if m.contains("p1.org1")));
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
        let error = failed(r#"Error: ... message:"got \"0\"\n\u00e9\xff" "#);
        assert_eq!(
            chaincode_error_message(&error).as_deref(),
            Some("got \"0\"\né\u{fffd}")
        );
        assert_eq!(chaincode_error_message(&failed("Error: timeout")), None);
        assert_eq!(
            chaincode_error_message(&HarnessError::Topology("x".into())),
            None
        );
    }
}
