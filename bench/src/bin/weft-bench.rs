//! `weft-bench side-by-side`: the same two-org network with Weft nodes and with upstream Fabric,
//! the same Gateway load, printed as a markdown table (and written into BENCHMARKS.md by
//! `scripts/bench`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use weft_bench::report;
use weft_bench::side_by_side::{self, Implementation, Inputs};

#[derive(Parser)]
#[command(about = "Weft benchmarks side by side with upstream Fabric")]
struct Cli {
    #[command(subcommand)]
    command: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Run every workload against Weft and upstream Fabric `--runs` times and print the figures.
    SideBySide {
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seconds per load step (each saturation step and the 50% latency run).
        #[arg(long, default_value_t = 10)]
        step_seconds: u64,
        #[arg(long, default_value = "target/release")]
        weft_bin: PathBuf,
        #[arg(long, default_value = "target/chaincode")]
        packages: PathBuf,
        /// Only this implementation (weft or upstream); both by default.
        #[arg(long)]
        only: Option<String>,
    },
}

fn main() -> ExitCode {
    let Action::SideBySide {
        runs,
        step_seconds,
        weft_bin,
        packages,
        only,
    } = Cli::parse().command;
    let inputs = Inputs {
        weft_bin,
        packages,
        step: Duration::from_secs(step_seconds),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("weft-bench: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut results = Vec::new();
    for implementation in [Implementation::Weft, Implementation::Upstream] {
        let wanted = match only.as_deref() {
            None => true,
            Some("weft") => implementation == Implementation::Weft,
            Some(_) => implementation == Implementation::Upstream,
        };
        if !wanted {
            results.push(Vec::new());
            continue;
        }
        let mut runs_of = Vec::new();
        for run in 0..runs {
            eprintln!(
                "weft-bench: {} run {} of {runs}",
                implementation.name(),
                run + 1
            );
            match runtime.block_on(side_by_side::run(implementation, &inputs, run)) {
                Ok(figures) => runs_of.push(figures),
                Err(e) => {
                    eprintln!(
                        "weft-bench: {} run {} failed: {e}",
                        implementation.name(),
                        run + 1
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
        results.push(runs_of);
    }
    print!(
        "{}",
        report::side_by_side_markdown(&results[0], &results[1])
    );
    for (implementation, runs) in [Implementation::Weft, Implementation::Upstream]
        .into_iter()
        .zip(&results)
    {
        for line in report::problems(implementation, runs) {
            println!("\n> {line}");
        }
    }
    ExitCode::SUCCESS
}
