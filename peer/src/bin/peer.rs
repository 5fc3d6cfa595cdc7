//! `peer`: Weft's drop-in for Fabric's peer node. `peer node start` runs the node (all of the
//! work is in [`weft_peer::node::start`]); `peer version` prints the version.

use std::process::ExitCode;

use weft_peer::node::start::{init_logging, run, runtime};

const USAGE: &str = "usage: peer node start | peer version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["version"] => {
            println!(
                "peer:\n Version: {}\n Implementation: Weft\n OS/Arch: {}/{}",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH
            );
            ExitCode::SUCCESS
        }
        ["node", "start"] => start(),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn start() -> ExitCode {
    let log_spec = init_logging();
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("peer: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(log_spec)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer: {e}");
            ExitCode::FAILURE
        }
    }
}
