//! `weft-bench`: the benchmark runs behind BENCHMARKS.md (`scripts/bench` calls every subcommand).
//!
//! - `side-by-side`: the same two-org network with Weft nodes and with upstream Fabric, the same
//!   Gateway load, printed as a markdown table;
//! - `multitenancy`: one peer with many idle channels, load over many channels, fairness;
//! - `ecdsa`: this machine's ECDSA P-256 verify rate as figure lines;
//! - `document`: BENCHMARKS.md from the results directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use weft_bench::components::{self, figure_line};
use weft_bench::document::{self, Machine};
use weft_bench::multitenancy;
use weft_bench::report;
use weft_bench::side_by_side::{self, Implementation, Inputs};
use weft_bench::tenancy_report;

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
        /// Do not run Weft nodes; the report shows this reason in their place.
        #[arg(long)]
        weft_unavailable: Option<String>,
    },
    /// Multi-tenancy of one peer: idle channels, load over many channels, fairness.
    Multitenancy {
        #[arg(long, default_value = "target/release")]
        weft_bin: PathBuf,
        #[arg(long, default_value = "target/chaincode")]
        packages: PathBuf,
        /// Idle channel counts at which memory and join time are read.
        #[arg(long, default_value = "1,100,1000,10000", value_delimiter = ',')]
        idle_channels: Vec<usize>,
        /// The Go peer joins at most this many idle channels.
        #[arg(long, default_value_t = 1000)]
        upstream_idle_max: usize,
        /// Channels the spread-load and fairness runs use.
        #[arg(long, default_value_t = 100)]
        spread_channels: usize,
        #[arg(long, default_value_t = 10)]
        step_seconds: u64,
        /// Joins of idle channels stop after this many seconds in one run.
        #[arg(long, default_value_t = 360)]
        idle_budget_seconds: u64,
        /// Runs of each part per implementation (every figure is their median).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Only this implementation (weft or upstream); both by default.
        #[arg(long)]
        only: Option<String>,
        /// Do not run Weft nodes; the report shows this reason in their place.
        #[arg(long)]
        weft_unavailable: Option<String>,
    },
    /// Print this machine's ECDSA P-256 verify rate as figure lines (1 thread and every core).
    Ecdsa {
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
    /// Write BENCHMARKS.md from a results directory that scripts/bench filled.
    Document {
        #[arg(long)]
        results: PathBuf,
        /// The command that produced the results, quoted in the document.
        #[arg(long, default_value = "scripts/bench")]
        command: String,
        /// When the results were made (shown as is).
        #[arg(long)]
        date: String,
        /// The cargo profile the Weft programs were built with.
        #[arg(long, default_value = "release")]
        profile: String,
        /// The Weft source the programs were built from, shown as is (e.g. "commit 0123abc").
        #[arg(long)]
        source: Option<String>,
        /// How long the whole run took.
        #[arg(long)]
        elapsed_minutes: Option<u64>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Action::SideBySide {
            runs,
            step_seconds,
            weft_bin,
            packages,
            only,
            weft_unavailable,
        } => {
            let inputs = Inputs {
                weft_bin: absolute(weft_bin),
                packages: absolute(packages),
                step: Duration::from_secs(step_seconds),
            };
            side_by_side_command(&inputs, runs, only.as_deref(), weft_unavailable)
        }
        Action::Multitenancy {
            weft_bin,
            packages,
            mut idle_channels,
            upstream_idle_max,
            spread_channels,
            step_seconds,
            idle_budget_seconds,
            runs,
            only,
            weft_unavailable,
        } => {
            idle_channels.sort_unstable();
            idle_channels.dedup();
            let inputs = multitenancy::Inputs {
                weft_bin: absolute(weft_bin),
                packages: absolute(packages),
                idle_counts: idle_channels,
                upstream_idle_max,
                spread_channels,
                step: Duration::from_secs(step_seconds),
                idle_budget: Duration::from_secs(idle_budget_seconds),
                runs,
            };
            multitenancy_command(&inputs, only.as_deref(), weft_unavailable)
        }
        Action::Ecdsa { seconds } => ecdsa_command(Duration::from_secs(seconds)),
        Action::Document {
            results,
            command,
            date,
            profile,
            source,
            elapsed_minutes,
        } => {
            let run = document::RunDescription {
                command: &command,
                date: &date,
                profile: &profile,
                source: source.as_deref(),
                elapsed_minutes,
            };
            document_command(&results, &run)
        }
    }
}

/// Nodes run in their own work directories: paths given relative to here must not be.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("weft-bench: starting the async runtime: {e}");
            ExitCode::FAILURE
        })
}

/// Runs both implementations (or the one asked for). One side failing does not stop the other:
/// the table shows the failure and its reason; the exit status is failure only if nothing ran.
fn side_by_side_command(
    inputs: &Inputs,
    runs: usize,
    only: Option<&str>,
    weft_unavailable: Option<String>,
) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut results: Vec<report::Runs> = Vec::new();
    for implementation in [Implementation::Weft, Implementation::Upstream] {
        let wanted = match only {
            None => true,
            Some("weft") => implementation == Implementation::Weft,
            Some(_) => implementation == Implementation::Upstream,
        };
        if !wanted {
            results.push(Err("not run (--only)".into()));
            continue;
        }
        if let (Implementation::Weft, Some(reason)) = (implementation, &weft_unavailable) {
            results.push(Err(format!("not run: {reason}")));
            continue;
        }
        results.push(runs_of(&runtime, implementation, inputs, runs));
    }
    print!(
        "{}",
        report::side_by_side_markdown(&results[0], &results[1])
    );
    if results.iter().all(|r| r.is_err()) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn runs_of(
    runtime: &tokio::runtime::Runtime,
    implementation: Implementation,
    inputs: &Inputs,
    runs: usize,
) -> report::Runs {
    let mut figures = Vec::new();
    for run in 0..runs {
        eprintln!(
            "weft-bench: {} run {} of {runs}",
            implementation.name(),
            run + 1
        );
        match runtime.block_on(side_by_side::run(implementation, inputs, run)) {
            Ok(f) => figures.push(f),
            Err(e) => {
                let reason = format!("run {} of {runs}: {e}", run + 1);
                eprintln!("weft-bench: {}: {reason}", implementation.name());
                return Err(reason);
            }
        }
    }
    Ok(figures)
}

fn multitenancy_command(
    inputs: &multitenancy::Inputs,
    only: Option<&str>,
    weft_unavailable: Option<String>,
) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut sides: Vec<tenancy_report::Side> = Vec::new();
    for implementation in [Implementation::Weft, Implementation::Upstream] {
        let wanted = match only {
            None => true,
            Some("weft") => implementation == Implementation::Weft,
            Some(_) => implementation == Implementation::Upstream,
        };
        sides.push(match (implementation, &weft_unavailable) {
            (Implementation::Weft, Some(reason)) => Err(format!("not run: {reason}")),
            _ if !wanted => Err("not run (--only)".to_owned()),
            _ => {
                eprintln!(
                    "weft-bench: multi-tenancy of one {} peer",
                    implementation.name()
                );
                Ok(runtime.block_on(multitenancy::run(implementation, inputs)))
            }
        });
    }
    print!("{}", tenancy_report::markdown(&sides[0], &sides[1], inputs));
    let measured = sides
        .iter()
        .flatten()
        .any(|runs| runs.idle.iter().any(Result::is_ok) || runs.spread.iter().any(Result::is_ok));
    if measured {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn ecdsa_command(duration: Duration) -> ExitCode {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for threads in [1, cores] {
        match components::ecdsa_verifies_per_second(threads, duration) {
            Ok(rate) => {
                let threads_named = match threads {
                    1 => "1 thread".to_owned(),
                    n => format!("{n} threads"),
                };
                println!("ECDSA P-256 verify, {threads_named}: {rate:.0} verifies/s");
                println!(
                    "{}",
                    figure_line(
                        &format!("ECDSA P-256 verify, {threads_named}"),
                        rate.round(),
                        "verifies/s"
                    )
                );
            }
            Err(e) => {
                eprintln!("weft-bench: ecdsa: {e}");
                return ExitCode::FAILURE;
            }
        }
        if cores == 1 {
            break;
        }
    }
    ExitCode::SUCCESS
}

fn document_command(results: &std::path::Path, run: &document::RunDescription<'_>) -> ExitCode {
    let rendered = Machine::this().and_then(|machine| document::render(results, &machine, run));
    match rendered {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("weft-bench: document: {e}");
            ExitCode::FAILURE
        }
    }
}
