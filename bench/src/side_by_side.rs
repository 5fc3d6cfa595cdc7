//! The side-by-side run: the same network (one Raft orderer, Org1 and Org2 with one peer each,
//! TLS on, the channel's batch settings from the harness, endorsement by both orgs) started once
//! with Weft nodes and once with upstream Fabric, the same contracts (WASM inside Weft peers;
//! the same contracts as chaincode-as-a-service for upstream peers), and the same load through
//! the Gateway service.

use std::path::{Path, PathBuf};
use std::time::Duration;

use weft_devnet::admin::{Endpoint, Signer};
use weft_interop_tests::{
    CcaasChaincode, ContractKind, Network, NodeCommand, TlsFiles, Topology, UpstreamToolchain,
};

use crate::error::{BenchError, Result};
use crate::gateway::Gateway;
use crate::load::{self, RunResult, Target, Workload};
use crate::procstat;
use crate::stats::percentile;

pub const CHANNEL: &str = "benchchannel";
/// Assets created for the read-modify-write and evaluate workloads.
pub const ASSETS: u64 = 200;

/// Which nodes a network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    Weft,
    Upstream,
}

impl Implementation {
    pub fn name(self) -> &'static str {
        match self {
            Implementation::Weft => "Weft",
            Implementation::Upstream => "Fabric 2.5.9",
        }
    }
}

/// What the run needs from the build.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Directory with Weft's `orderer` and `peer` binaries.
    pub weft_bin: PathBuf,
    /// Weft's WASM packages of the contracts (`basic.tar.gz`, `crud.tar.gz`).
    pub packages: PathBuf,
    pub step: Duration,
}

/// Figures of one workload in one run.
#[derive(Debug, Clone, Default)]
pub struct WorkloadFigures {
    pub saturation_tps: f64,
    pub concurrency: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_seconds_per_1000: f64,
    pub generator_cpu_share: f64,
    pub invalid: u64,
    pub failed: u64,
    pub first_error: Option<String>,
}

/// Figures of one run of one implementation.
#[derive(Debug, Clone, Default)]
pub struct RunFigures {
    pub workloads: Vec<(Workload, WorkloadFigures)>,
    /// Peak RSS in bytes per node process.
    pub peak_rss: Vec<(String, u64)>,
}

/// Starts the network for `implementation`, deploys both contracts and measures every workload.
pub async fn run(
    implementation: Implementation,
    inputs: &Inputs,
    run_index: usize,
) -> Result<RunFigures> {
    let toolchain = UpstreamToolchain::locate("2.5.9").map_err(harness)?;
    let mut topology = Topology::new(CHANNEL, &toolchain)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1);
    if implementation == Implementation::Weft {
        topology.orderer_command = NodeCommand::new(inputs.weft_bin.join("orderer"), &[]);
        topology.peer_command = NodeCommand::new(inputs.weft_bin.join("peer"), &["node", "start"]);
    }
    let network = tokio::task::block_in_place(|| -> Result<Network> {
        let mut network = Network::start(topology, &toolchain).map_err(harness)?;
        network.join_channel().map_err(harness)?;
        for (name, kind) in [("basic", ContractKind::Basic), ("crud", ContractKind::Crud)] {
            let package = inputs.packages.join(format!("{name}.tar.gz"));
            let own: Vec<(String, PathBuf)> = match implementation {
                Implementation::Weft => network
                    .peers()
                    .iter()
                    .map(|p| (p.name.clone(), package.clone()))
                    .collect(),
                Implementation::Upstream => Vec::new(),
            };
            let own_refs: Vec<(&str, &Path)> =
                own.iter().map(|(n, p)| (n.as_str(), p.as_path())).collect();
            let deployed = network
                .deploy_ccaas_with(name, kind, &own_refs)
                .map_err(harness)?;
            stop_unused_server(&mut network, implementation, &deployed)?;
        }
        Ok(network)
    })?;
    let gateways = connect_gateways(&network).await?;
    let target = Target {
        gateways,
        channel: CHANNEL.into(),
        crud: "crud".into(),
        basic: "basic".into(),
        assets: ASSETS,
        run_tag: format!("r{run_index}"),
    };
    load::prepare_assets(&target)
        .await
        .map_err(BenchError::Protocol)?;
    let mut figures = RunFigures::default();
    for workload in [
        Workload::CrudCreate,
        Workload::ReadModifyWrite,
        Workload::Evaluate,
    ] {
        figures.workloads.push((
            workload,
            measure(&network, &target, workload, inputs.step).await?,
        ));
    }
    for (name, pid) in network.node_pids() {
        if let Ok(sample) = procstat::sample(pid) {
            figures.peak_rss.push((name, sample.peak_rss_bytes));
        }
    }
    tokio::task::block_in_place(move || drop(network));
    Ok(figures)
}

async fn measure(
    network: &Network,
    target: &Target,
    workload: Workload,
    step: Duration,
) -> Result<WorkloadFigures> {
    let cpu_before = nodes_cpu(network);
    let (concurrency, saturated) = load::saturation(target, workload, step).await;
    let cpu_after = nodes_cpu(network);
    let half_rate = saturated.throughput() / 2.0;
    let paced: RunResult = load::open_loop(target, workload, half_rate.max(1.0), step).await;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let completed = saturated.committed + saturated.invalid;
    Ok(WorkloadFigures {
        saturation_tps: saturated.throughput(),
        concurrency,
        p50_ms: ms(percentile(&paced.latencies, 50.0)),
        p99_ms: ms(percentile(&paced.latencies, 99.0)),
        cpu_seconds_per_1000: (cpu_after - cpu_before) / (completed.max(1) as f64) * 1000.0,
        generator_cpu_share: saturated.generator_cpu_seconds
            / saturated.elapsed.as_secs_f64().max(1e-9),
        invalid: saturated.invalid + paced.invalid,
        failed: saturated.failed + paced.failed,
        first_error: saturated.first_error.or(paced.first_error),
    })
}

/// CPU seconds used so far by every node and chaincode process of the network.
fn nodes_cpu(network: &Network) -> f64 {
    network
        .node_pids()
        .iter()
        .filter_map(|(_, pid)| procstat::sample(*pid).ok())
        .map(|s| s.cpu_seconds)
        .sum()
}

async fn connect_gateways(network: &Network) -> Result<Vec<Gateway>> {
    let mut gateways = Vec::new();
    for peer in network.peers() {
        let org_dir = peer
            .crypto_dir
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| BenchError::Protocol("unexpected crypto layout".into()))?;
        let domain = org_dir
            .file_name()
            .and_then(|d| d.to_str())
            .unwrap_or_default()
            .to_owned();
        let user = org_dir
            .join("users")
            .join(format!("User1@{domain}"))
            .join("msp");
        let signer = Signer::load(&user, &peer.msp_id)?;
        let endpoint = Endpoint {
            address: peer.listen.to_string(),
            tls_ca: peer.tls_ca(),
            client_cert: None,
        };
        gateways.push(Gateway::connect(&endpoint, signer).await?);
    }
    Ok(gateways)
}

/// The harness starts a chaincode-as-a-service server with every deployment, but a Weft peer
/// runs its own WASM package of the contract in-process and never calls it: the server is
/// stopped so that it counts in neither the network's CPU nor its memory.
pub fn stop_unused_server(
    network: &mut Network,
    implementation: Implementation,
    deployed: &CcaasChaincode,
) -> Result<()> {
    if implementation == Implementation::Weft {
        network.stop_node(&deployed.process_name).map_err(harness)?;
    }
    Ok(())
}

fn harness(e: weft_interop_tests::HarnessError) -> BenchError {
    BenchError::Protocol(format!("network harness: {e}"))
}
