//! `weft-network up|down|clean`: Weft's local network (see `scripts/network`, which builds the
//! binaries and chaincode packages first and then calls this).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weft_devnet::layout::Layout;
use weft_devnet::network::{self, Inputs};

#[derive(Parser)]
#[command(about = "Weft's local network: one Raft orderer, Org1 and Org2 peers, channel mychannel")]
struct Cli {
    /// Where the network keeps crypto material, configs, ledgers and logs.
    #[arg(long, default_value = ".weft-network")]
    home: PathBuf,
    #[command(subcommand)]
    command: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Start the nodes, create mychannel and deploy the chaincode packages.
    Up {
        /// Directory holding the `orderer` and `peer` binaries.
        #[arg(long, default_value = "target/release")]
        bin_dir: PathBuf,
        /// Chaincode packages to deploy, as NAME=PACKAGE.tar.gz.
        #[arg(long = "chaincode", value_parser = parse_package)]
        chaincodes: Vec<(String, PathBuf)>,
    },
    /// Stop the nodes, keeping their data.
    Down,
    /// Stop the nodes and remove all data.
    Clean,
}

fn parse_package(text: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = text.split_once('=').ok_or("expected NAME=PACKAGE.tar.gz")?;
    Ok((name.to_owned(), PathBuf::from(path)))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let layout = Layout::new(cli.home);
    let result = match cli.command {
        Action::Up {
            bin_dir,
            chaincodes,
        } => {
            let inputs = Inputs {
                orderer_bin: bin_dir.join("orderer"),
                peer_bin: bin_dir.join("peer"),
                packages: chaincodes,
            };
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| {
                    weft_devnet::DevnetError::Setup(format!("starting the async runtime: {e}"))
                })
                .and_then(|rt| rt.block_on(network::up(&layout, &inputs)))
                .map(|info| print!("{info}"))
        }
        Action::Down => {
            network::down(&layout).map(|stopped| println!("stopped: {}", stopped.join(", ")))
        }
        Action::Clean => {
            network::clean(&layout).map(|()| println!("removed {}", layout.root.display()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weft-network: {e}");
            ExitCode::FAILURE
        }
    }
}
