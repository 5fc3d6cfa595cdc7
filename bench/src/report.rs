//! Turning runs into the tables of BENCHMARKS.md: every figure is the median of the runs with
//! its minimum and maximum, for Weft, for upstream Fabric, and as a ratio of the medians.

use std::fmt::Write;

use crate::load::Workload;
use crate::side_by_side::{Implementation, RunFigures, WorkloadFigures};
use crate::stats::Spread;

/// Picks one figure out of a workload's figures.
type Figure = fn(&WorkloadFigures) -> f64;

/// The markdown section for the side-by-side figures.
pub fn side_by_side_markdown(weft: &[RunFigures], upstream: &[RunFigures]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | figure | {} | {} | Weft / Fabric |",
        Implementation::Weft.name(),
        Implementation::Upstream.name()
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    let figures: [(&str, Figure); 5] = [
        ("committed tx/s at saturation", |f| f.saturation_tps),
        ("latency p50 at 50% load (ms)", |f| f.p50_ms),
        ("latency p99 at 50% load (ms)", |f| f.p99_ms),
        ("CPU seconds per 1000 tx (all nodes)", |f| {
            f.cpu_seconds_per_1000
        }),
        ("load generator CPU share (cores)", |f| {
            f.generator_cpu_share
        }),
    ];
    for workload in [
        Workload::CrudCreate,
        Workload::ReadModifyWrite,
        Workload::Evaluate,
    ] {
        for (label, figure) in figures {
            let w = spread(weft, workload, figure);
            let u = spread(upstream, workload, figure);
            let _ = writeln!(
                out,
                "| {} | {label} | {w} | {u} | {:.2} |",
                workload.name(),
                w.median / u.median
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Peak RSS per process (MiB, median of runs):");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| process | {} | {} |",
        Implementation::Weft.name(),
        Implementation::Upstream.name()
    );
    let _ = writeln!(out, "|---|---|---|");
    for name in process_names(weft, upstream) {
        let _ = writeln!(
            out,
            "| {name} | {} | {} |",
            rss(weft, &name),
            rss(upstream, &name)
        );
    }
    out
}

/// Lines worth reading next to the tables: failed or invalid requests and their first error.
pub fn problems(implementation: Implementation, runs: &[RunFigures]) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        for (workload, f) in &run.workloads {
            if f.failed > 0 || f.invalid > 0 {
                lines.push(format!(
                    "{} run {}: {}: {} failed, {} invalid{}",
                    implementation.name(),
                    i + 1,
                    workload.name(),
                    f.failed,
                    f.invalid,
                    f.first_error
                        .as_ref()
                        .map(|e| format!(" (first error: {e})"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    lines
}

fn spread(runs: &[RunFigures], workload: Workload, figure: Figure) -> Spread {
    let values: Vec<f64> = runs
        .iter()
        .filter_map(|r| {
            r.workloads
                .iter()
                .find(|(w, _)| *w == workload)
                .map(|(_, f)| figure(f))
        })
        .collect();
    Spread::of(&values)
}

fn process_names(a: &[RunFigures], b: &[RunFigures]) -> Vec<String> {
    let mut names: Vec<String> = a
        .iter()
        .chain(b)
        .flat_map(|r| r.peak_rss.iter().map(|(n, _)| n.clone()))
        .collect();
    // Chaincode server names carry a port; keep the kind only.
    names.iter_mut().for_each(|n| *n = process_kind(n));
    names.sort();
    names.dedup();
    names
}

fn process_kind(name: &str) -> String {
    match name.rsplit_once('-') {
        Some((kind, port))
            if name.starts_with("ccaas-") && port.chars().all(|c| c.is_ascii_digit()) =>
        {
            kind.to_owned()
        }
        _ => name.to_owned(),
    }
}

fn rss(runs: &[RunFigures], name: &str) -> String {
    let values: Vec<f64> = runs
        .iter()
        .filter_map(|r| {
            r.peak_rss
                .iter()
                .find(|(n, _)| process_kind(n) == name)
                .map(|(_, b)| *b as f64 / (1024.0 * 1024.0))
        })
        .collect();
    if values.is_empty() {
        "–".into()
    } else {
        Spread::of(&values).to_string()
    }
}
