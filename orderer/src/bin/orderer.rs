//! `orderer`: Weft's drop-in for Fabric's ordering service node (channels joined through the
//! channel participation API; no system channel). All of the work is in
//! [`weft_orderer::node::start`].

use std::process::ExitCode;

use weft_orderer::node::start::{init_logging, run};

fn main() -> ExitCode {
    let log_spec = init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orderer: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(log_spec)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orderer: {e}");
            ExitCode::FAILURE
        }
    }
}
