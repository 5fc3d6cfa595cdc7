//! Turning runs into the tables of BENCHMARKS.md: every figure is the median of the runs with
//! its minimum and maximum, for Weft, for upstream Fabric, and as a ratio of the medians.

use std::fmt::Write;

use crate::load::Workload;
use crate::side_by_side::{Implementation, RunFigures, WorkloadFigures};
use crate::stats::{self, Spread};

/// Picks one figure out of a workload's figures.
type Figure = fn(&WorkloadFigures) -> f64;

/// The runs of one implementation, or why they could not be made.
pub type Runs = Result<Vec<RunFigures>, String>;

/// The markdown section for the side-by-side figures. An implementation whose runs failed shows
/// "failed" in its column and the reason below the tables; no ratio is made up for it.
pub fn side_by_side_markdown(weft: &Runs, upstream: &Runs) -> String {
    let no_runs = Vec::new();
    let weft_runs = weft.as_ref().unwrap_or(&no_runs);
    let upstream_runs = upstream.as_ref().unwrap_or(&no_runs);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | figure | {} | {} | Weft / Fabric |",
        column(Implementation::Weft, weft.as_ref().map(Vec::len)),
        column(Implementation::Upstream, upstream.as_ref().map(Vec::len)),
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
            let w = spread(weft_runs, workload, figure);
            let u = spread(upstream_runs, workload, figure);
            let _ = writeln!(
                out,
                "| {} | {label} | {} | {} | {} |",
                workload.name(),
                cell(weft, w),
                cell(upstream, u),
                stats::ratio(&w, &u),
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Peak RSS per process (MiB, median of runs). Weft runs the WASM chaincode inside the peer \
         process, so its network has no chaincode servers (\"–\"); Fabric's peers call the \
         contracts' chaincode-as-a-service processes. The total is the sum of every process's peak \
         in a run: the memory the network needs.\n"
    );
    let _ = writeln!(
        out,
        "| process | {} | {} | Weft / Fabric |",
        column(Implementation::Weft, weft.as_ref().map(Vec::len)),
        column(Implementation::Upstream, upstream.as_ref().map(Vec::len)),
    );
    let _ = writeln!(out, "|---|---|---|---|");
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    for name in process_names(weft_runs, upstream_runs) {
        let of = |runs: &[RunFigures]| -> Vec<f64> {
            runs.iter()
                .filter_map(|r| {
                    r.peak_rss
                        .iter()
                        .find(|(n, _)| process_kind(n) == name)
                        .map(|(_, b)| mib(*b))
                })
                .collect()
        };
        out.push_str(&comparison_row(&name, &of(weft_runs), &of(upstream_runs)));
    }
    let total = |runs: &[RunFigures]| -> Vec<f64> {
        runs.iter()
            .map(|r| mib(r.peak_rss.iter().map(|(_, b)| b).sum()))
            .collect()
    };
    out.push_str(&comparison_row(
        "**total of the network**",
        &total(weft_runs),
        &total(upstream_runs),
    ));
    for (implementation, runs) in [
        (Implementation::Weft, weft),
        (Implementation::Upstream, upstream),
    ] {
        match runs {
            Err(reason) => {
                let _ = writeln!(
                    out,
                    "\n> **{} failed:** {}",
                    implementation.name(),
                    quoted(reason)
                );
            }
            Ok(runs) => {
                for line in problems(implementation, runs) {
                    let _ = writeln!(out, "\n> {line}");
                }
            }
        }
    }
    out
}

/// A reason that may span lines, continued inside a markdown quote (blank lines dropped).
pub fn quoted(reason: &str) -> String {
    reason
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n> ")
}

/// A table row comparing one figure: Weft's and upstream's values over their runs as median
/// (min–max), and the ratio of the medians.
pub fn comparison_row(label: &str, weft: &[f64], upstream: &[f64]) -> String {
    format!(
        "| {label} | {} | {} | {} |\n",
        stats::cell(weft),
        stats::cell(upstream),
        stats::ratio(&Spread::of(weft), &Spread::of(upstream))
    )
}

/// A column heading: the implementation and, when it ran, how many runs its figures come from.
pub fn column<E>(implementation: Implementation, runs: Result<usize, E>) -> String {
    match runs {
        Ok(1) => format!("{} (1 run)", implementation.name()),
        Ok(n) => format!("{} ({n} runs)", implementation.name()),
        Err(_) => implementation.name().to_owned(),
    }
}

fn cell(runs: &Runs, spread: Spread) -> String {
    match runs {
        Err(_) => "failed".to_owned(),
        Ok(_) if !spread.median.is_finite() => "–".to_owned(),
        Ok(_) => spread.to_string(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(crud_tps: f64, peer_rss_mib: u64) -> RunFigures {
        let figures = |tps| WorkloadFigures {
            saturation_tps: tps,
            p50_ms: 10.0,
            p99_ms: 40.0,
            ..Default::default()
        };
        RunFigures {
            workloads: vec![
                (Workload::CrudCreate, figures(crud_tps)),
                (Workload::ReadModifyWrite, figures(crud_tps / 2.0)),
                (Workload::Evaluate, figures(crud_tps * 4.0)),
            ],
            peak_rss: vec![
                ("peer0.org1.example.com".into(), peer_rss_mib << 20),
                ("ccaas-basic-7051".into(), 30 << 20),
            ],
        }
    }

    #[test]
    fn medians_of_both_sides_and_their_ratio() {
        let weft = Ok(vec![run(300.0, 40), run(100.0, 60), run(200.0, 50)]);
        let upstream = Ok(vec![run(100.0, 200), run(100.0, 220), run(100.0, 210)]);
        let table = side_by_side_markdown(&weft, &upstream);
        assert!(
            table.contains("| crud create (write-only) | committed tx/s at saturation | 200.0 (100.0–300.0) | 100.0 (100.0–100.0) | 2.00 |"),
            "{table}"
        );
        assert!(
            table.contains("| peer0.org1.example.com | 50.0 (40.0–60.0) | 210.0 (200.0–220.0) |"),
            "{table}"
        );
        // Chaincode servers are named by kind, without their port.
        assert!(table.contains("| ccaas-basic | "), "{table}");
        assert!(!table.contains("failed"), "{table}");
        assert!(
            table.contains("| workload | figure | Weft (3 runs) | Fabric 2.5.9 (3 runs) |"),
            "{table}"
        );
    }

    #[test]
    fn weft_has_no_chaincode_servers_and_totals_compare_whole_networks() {
        let weft_run = |peer_mib: u64, orderer_mib: u64| {
            let mut r = run(100.0, peer_mib);
            r.peak_rss = vec![
                ("peer0.org1.example.com".into(), peer_mib << 20),
                ("orderer0.example.com".into(), orderer_mib << 20),
            ];
            r
        };
        let weft = Ok(vec![weft_run(40, 10), weft_run(60, 30), weft_run(50, 20)]);
        // Fabric: peer, and a chaincode server per run (30 MiB).
        let upstream = Ok(vec![run(100.0, 90), run(100.0, 110)]);
        let table = side_by_side_markdown(&weft, &upstream);
        assert!(
            table.contains("| ccaas-basic | – | 30.0 (30.0–30.0) | – |"),
            "{table}"
        );
        // Totals are per-run sums: Weft 50, 90, 70; Fabric 120, 140.
        assert!(
            table.contains(
                "| **total of the network** | 70.0 (50.0–90.0) | 130.0 (120.0–140.0) | 0.54 |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| workload | figure | Weft (3 runs) | Fabric 2.5.9 (2 runs) |"),
            "{table}"
        );
        assert!(
            table.contains("| process | Weft (3 runs) | Fabric 2.5.9 (2 runs) | Weft / Fabric |"),
            "{table}"
        );
    }

    #[test]
    fn a_failed_side_shows_its_reason_and_no_ratio() {
        let weft = Err("the Weft peer did not answer Endorse".to_owned());
        let upstream = Ok(vec![run(100.0, 200)]);
        let table = side_by_side_markdown(&weft, &upstream);
        assert!(
            table.contains("| crud create (write-only) | committed tx/s at saturation | failed | 100.0 (100.0–100.0) | – |"),
            "{table}"
        );
        assert!(
            table.contains("> **Weft failed:** the Weft peer did not answer Endorse"),
            "{table}"
        );
    }

    #[test]
    fn multi_line_reasons_stay_inside_the_quote() {
        let table = side_by_side_markdown(
            &Err("peer CLI failed\n--- stderr ---\n\nError: no lifecycle\n".into()),
            &Err("not run".into()),
        );
        assert!(
            table.contains(
                "> **Weft failed:** peer CLI failed\n> --- stderr ---\n> Error: no lifecycle\n"
            ),
            "{table}"
        );
    }

    #[test]
    fn failed_and_invalid_requests_are_listed() {
        let mut r = run(100.0, 200);
        r.workloads[1].1.invalid = 3;
        r.workloads[1].1.first_error = Some("MVCC_READ_CONFLICT".into());
        let lines = problems(Implementation::Upstream, &[r]);
        assert_eq!(
            lines,
            vec![
                "Fabric 2.5.9 run 1: read-modify-write (TransferAsset): 0 failed, 3 invalid (first error: MVCC_READ_CONFLICT)"
            ]
        );
    }
}
