//! Harness that runs upstream Fabric (and, node by node, Weft) as local
//! processes for interop tests: a [`Topology`] goes in, a running [`Network`]
//! with its endpoints, crypto material and CLI helpers comes out.
//!
//! Upstream binaries come from `interop-tests/upstream/install.sh`
//! ([`UpstreamToolchain`]); a missing install is an error that says so.
//!
//! ```no_run
//! use weft_interop_tests::{Network, Topology, UpstreamToolchain};
//! let toolchain = UpstreamToolchain::locate("2.5.9")?;
//! let topology = Topology::new("mychannel", &toolchain).peer_org("Org1", 1).peer_org("Org2", 1);
//! let network = Network::start(topology, &toolchain)?;
//! network.join_channel()?;
//! let height = network.channel_height("peer0.org1.example.com")?;
//! # Ok::<(), weft_interop_tests::HarnessError>(())
//! ```

mod chaincode;
mod error;
pub mod fabric_config;
mod network;
pub mod node_env;
mod nodes;
pub mod process;
pub mod readiness;
mod toolchain;
mod topology;

pub use chaincode::{
    CCAAS_VERSION, CHAINCODE_START_TIMEOUT, CcaasChaincode, CcaasServer, ChaincodeDefinition,
    CommittedChaincode, ContractKind, ccaas_package, ccaas_server_binary, chaincode_error_message,
    invoke_payload,
};
pub use error::{HarnessError, Result};
pub use network::{
    CHANNEL_TIMEOUT, CLI_TIMEOUT, KEEP_WORK_ENV, NODE_START_TIMEOUT, Network, TOOL_TIMEOUT,
};
pub use nodes::{OrdererNode, OrgAdmin, PeerNode, TlsFiles};
pub use process::CommandOutput;
pub use toolchain::{
    REFERENCE_VERSION, UPSTREAM_DIR_ENV, UpstreamToolchain, repo_root, upstream_dir,
};
pub use topology::{Capabilities, NodeCommand, OrdererOrgSpec, PeerOrgSpec, Topology};
