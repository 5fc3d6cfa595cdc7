//! The multi-tenancy section of BENCHMARKS.md: idle-channel memory and join times of a Weft
//! and a Go peer side by side, then the spread-load and fairness figures with their ratio.
//! Every figure is the median (min–max) of the runs that produced it, and the tables say how
//! many runs those were; a run that stopped early or failed is named under the table.

use std::fmt::Write;
use std::time::Duration;

use crate::multitenancy::{
    CONCURRENCY, IdleFigures, Inputs, QUIET_INTERVAL, SpreadFigures, TenancyRuns,
};
use crate::report::{column, comparison_row, quoted};
use crate::side_by_side::Implementation;
use crate::stats::{self, Spread};

/// The runs of one implementation, or why it was not run at all.
pub type Side = Result<TenancyRuns, String>;

/// Picks one figure out of a run's spread-load figures.
pub type SpreadFigure = fn(&SpreadFigures) -> f64;

/// The spread-load and fairness rows, in table order.
pub const SPREAD_ROWS: [(&str, SpreadFigure); 7] = [
    ("committed tx/s, one channel", |s| s.one_channel_tps),
    ("committed tx/s, spread over the channels", |s| s.spread_tps),
    ("quiet channel latency p50, alone (ms)", |s| {
        ms(s.quiet_alone_p50)
    }),
    ("quiet channel latency p99, alone (ms)", |s| {
        ms(s.quiet_alone_p99)
    }),
    ("quiet channel latency p50, neighbour saturated (ms)", |s| {
        ms(s.quiet_busy_p50)
    }),
    ("quiet channel latency p99, neighbour saturated (ms)", |s| {
        ms(s.quiet_busy_p99)
    }),
    ("busy channel committed tx/s meanwhile", |s| s.busy_tps),
];

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One row of the idle-channel table: a value per run that reached that many channels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdleRow {
    pub rss_mib: Vec<f64>,
    pub join_p50_ms: Vec<f64>,
    pub join_max_ms: Vec<f64>,
}

/// The row of `channels` idle channels over `runs`; 0 is the started peer before any join,
/// which has memory but no join figures.
pub fn idle_row(runs: &[Result<IdleFigures, String>], channels: usize) -> IdleRow {
    let mut row = IdleRow::default();
    for idle in runs.iter().flatten() {
        if channels == 0 {
            row.rss_mib.push(mib(idle.baseline_rss_bytes));
            continue;
        }
        if let Some(p) = idle.points.iter().find(|p| p.channels == channels) {
            row.rss_mib.push(mib(p.rss_bytes));
            row.join_p50_ms.push(ms(p.join_p50));
            row.join_max_ms.push(ms(p.join_max));
        }
    }
    row
}

/// Resident memory per idle channel (KiB) of each run that reached a count: from the started
/// peer to the largest count that run reached, with that count.
pub fn per_channel_kib(runs: &[Result<IdleFigures, String>]) -> Vec<(f64, usize)> {
    runs.iter()
        .flatten()
        .filter_map(|idle| {
            let last = idle.points.last()?;
            let grown = last.rss_bytes.saturating_sub(idle.baseline_rss_bytes) as f64 / 1024.0;
            Some((grown / last.channels.max(1) as f64, last.channels))
        })
        .collect()
}

/// One spread-load figure of every run that produced figures.
pub fn spread_values(runs: &[Result<SpreadFigures, String>], figure: SpreadFigure) -> Vec<f64> {
    runs.iter().flatten().map(figure).collect()
}

/// How many spread-load runs of a side produced figures.
fn succeeded(side: &Side) -> Result<usize, &String> {
    side.as_ref()
        .map(|r| r.spread.iter().filter(|s| s.is_ok()).count())
}

/// The multi-tenancy section of BENCHMARKS.md. A side that was not run, or has no run that
/// reached a figure, shows "–" there; the reasons are quoted under the tables.
pub fn markdown(weft: &Side, upstream: &Side, inputs: &Inputs) -> String {
    let mut out = String::new();
    let no_runs = TenancyRuns::default();
    let sides = [
        (
            Implementation::Weft,
            weft,
            weft.as_ref().unwrap_or(&no_runs),
        ),
        (
            Implementation::Upstream,
            upstream,
            upstream.as_ref().unwrap_or(&no_runs),
        ),
    ];
    let _ = writeln!(
        out,
        "One peer (one org, one Raft orderer); every run starts a new network, {} run(s) per peer. \
         Idle channels: resident memory of the peer process after joining that many channels, and \
         the median and slowest `cscc JoinChain` among the joins that led there. Each cell is the \
         median (min–max) over the runs that reached that count, and \"runs\" says how many did: a \
         run stops joining once its joins have taken {} s. The Go peer stops at {} channels to \
         bound the run time.\n",
        inputs.runs,
        inputs.idle_budget.as_secs(),
        inputs.upstream_idle_max
    );
    let mut heading = String::from("| idle channels |");
    let mut rule = String::from("|---|");
    for (implementation, _, _) in &sides {
        let name = implementation.name();
        let _ = write!(
            heading,
            " {name} RSS (MiB) | {name} join p50 (ms) | {name} join max (ms) | {name} runs |"
        );
        rule.push_str("---|---|---|---|");
    }
    let _ = writeln!(out, "{heading}\n{rule}");
    for count in std::iter::once(0).chain(inputs.idle_counts.iter().copied()) {
        let _ = write!(out, "| {count} |");
        for (_, _, runs) in &sides {
            let row = idle_row(&runs.idle, count);
            let _ = write!(
                out,
                " {} | {} | {} | {} |",
                stats::cell(&row.rss_mib),
                stats::cell(&row.join_p50_ms),
                stats::cell(&row.join_max_ms),
                row.rss_mib.len()
            );
        }
        let _ = writeln!(out);
    }
    for (implementation, side, runs) in &sides {
        let name = implementation.name();
        if let Err(reason) = side {
            let _ = writeln!(out, "\n> **{name} not measured:** {}", quoted(reason));
            continue;
        }
        let slopes = per_channel_kib(&runs.idle);
        if !slopes.is_empty() {
            let kib: Vec<f64> = slopes.iter().map(|(k, _)| *k).collect();
            let reached: Vec<String> = slopes.iter().map(|(_, c)| c.to_string()).collect();
            let _ = writeln!(
                out,
                "\n{name}: {} KiB of resident memory per idle channel, {} run(s) (from the \
                 started peer to {} channels).",
                Spread::of(&kib),
                slopes.len(),
                reached.join(", ")
            );
        }
        for (i, run) in runs.idle.iter().enumerate() {
            match run {
                Ok(IdleFigures {
                    stopped: Some(reason),
                    ..
                }) => {
                    let _ = writeln!(
                        out,
                        "\n> {name} run {} stopped early: {}",
                        i + 1,
                        quoted(reason)
                    );
                }
                Ok(_) => {}
                Err(reason) => {
                    let _ = writeln!(
                        out,
                        "\n> **{name} run {} of the idle channels failed:** {}",
                        i + 1,
                        quoted(reason)
                    );
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\nLoad over many channels: CRUD creates with {CONCURRENCY} requests in flight for {} s, on one \
         channel and spread over {} channels; fairness: one transaction every {} ms on a quiet channel, \
         alone and while another channel takes the closed-loop load. Median (min–max) of the runs.\n",
        inputs.step.as_secs(),
        inputs.spread_channels.max(2),
        QUIET_INTERVAL.as_millis()
    );
    let _ = writeln!(
        out,
        "| figure | {} | {} | Weft / Fabric |",
        column(Implementation::Weft, succeeded(weft)),
        column(Implementation::Upstream, succeeded(upstream))
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for (label, figure) in SPREAD_ROWS {
        out.push_str(&comparison_row(
            label,
            &spread_values(&sides[0].2.spread, figure),
            &spread_values(&sides[1].2.spread, figure),
        ));
    }
    for (implementation, _, runs) in &sides {
        for (i, run) in runs.spread.iter().enumerate() {
            if let Err(reason) = run {
                let _ = writeln!(
                    out,
                    "\n> **{} run {} of the load over many channels failed:** {}",
                    implementation.name(),
                    i + 1,
                    quoted(reason)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::multitenancy::IdlePoint;

    fn inputs() -> Inputs {
        Inputs {
            weft_bin: PathBuf::new(),
            packages: PathBuf::new(),
            idle_counts: vec![1, 100, 1000],
            upstream_idle_max: 100,
            spread_channels: 10,
            step: Duration::from_secs(5),
            idle_budget: Duration::from_secs(600),
            runs: 3,
        }
    }

    fn point(channels: usize, rss_mib: u64, join_ms: u64) -> IdlePoint {
        IdlePoint {
            channels,
            rss_bytes: rss_mib << 20,
            join_p50: Duration::from_millis(join_ms),
            join_max: Duration::from_millis(join_ms * 2),
        }
    }

    fn idle(baseline_mib: u64, points: Vec<IdlePoint>) -> Result<IdleFigures, String> {
        Ok(IdleFigures {
            baseline_rss_bytes: baseline_mib << 20,
            points,
            stopped: None,
        })
    }

    fn spread(one: f64, quiet_busy_p99_ms: u64) -> Result<SpreadFigures, String> {
        Ok(SpreadFigures {
            channels: 10,
            one_channel_tps: one,
            spread_tps: one * 1.5,
            quiet_busy_p99: Duration::from_millis(quiet_busy_p99_ms),
            ..Default::default()
        })
    }

    /// Three Weft runs, the last stopped by its budget after 100 channels.
    fn weft_runs() -> TenancyRuns {
        let mut stopped = idle(22, vec![point(1, 23, 5), point(100, 60, 9)]);
        if let Ok(f) = stopped.as_mut() {
            f.stopped = Some("the joins' time budget of 600 s was used up at 704 channels".into());
        }
        TenancyRuns {
            idle: vec![
                idle(
                    20,
                    vec![point(1, 21, 5), point(100, 50, 6), point(1000, 320, 8)],
                ),
                idle(
                    21,
                    vec![point(1, 22, 3), point(100, 40, 7), point(1000, 300, 12)],
                ),
                stopped,
            ],
            spread: vec![
                spread(100.0, 900),
                Err("Endorse failed: Unimplemented".into()),
                spread(120.0, 700),
            ],
        }
    }

    #[test]
    fn idle_rows_take_every_run_that_reached_the_count() {
        let runs = weft_runs().idle;
        let baseline = idle_row(&runs, 0);
        assert_eq!(baseline.rss_mib, vec![20.0, 21.0, 22.0]);
        assert!(baseline.join_p50_ms.is_empty());
        let hundred = idle_row(&runs, 100);
        assert_eq!(hundred.rss_mib, vec![50.0, 40.0, 60.0]);
        assert_eq!(hundred.join_max_ms, vec![12.0, 14.0, 18.0]);
        // The stopped run never reached 1000 channels.
        assert_eq!(idle_row(&runs, 1000).rss_mib, vec![320.0, 300.0]);
        assert_eq!(idle_row(&runs, 10_000), IdleRow::default());
        // Failed runs count nowhere.
        let failed = vec![Err("peer did not start".to_owned()), runs[0].clone()];
        assert_eq!(idle_row(&failed, 1).rss_mib, vec![21.0]);
    }

    #[test]
    fn per_channel_memory_is_taken_to_each_runs_largest_count() {
        let slopes = per_channel_kib(&weft_runs().idle);
        // (320 - 20) MiB / 1000, (300 - 21) MiB / 1000, (60 - 22) MiB / 100.
        assert_eq!(slopes, vec![(307.2, 1000), (285.696, 1000), (389.12, 100)]);
    }

    #[test]
    fn markdown_gives_median_min_max_and_runs_of_every_figure() {
        let upstream = TenancyRuns {
            idle: vec![
                idle(60, vec![point(1, 62, 40), point(100, 160, 90)]),
                idle(58, vec![point(1, 61, 30), point(100, 150, 80)]),
                Err("osnadmin failed".into()),
            ],
            spread: vec![spread(90.0, 300), spread(80.0, 200), spread(70.0, 250)],
        };
        let md = markdown(&Ok(weft_runs()), &Ok(upstream), &inputs());
        assert!(
            md.contains("| 0 | 21.0 (20.0–22.0) | – | – | 3 | 59.0 (58.0–60.0) | – | – | 2 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| 100 | 50.0 (40.0–60.0) | 7.0 (6.0–9.0) | 14.0 (12.0–18.0) | 3 | \
                 155.0 (150.0–160.0) | 85.0 (80.0–90.0) | 170.0 (160.0–180.0) | 2 |"
            ),
            "{md}"
        );
        // Two Weft runs reached 1000 channels; the Go peer was bounded at 100.
        assert!(
            md.contains("| 1000 | 310.0 (300.0–320.0) | 10.0 (8.0–12.0) | 20.0 (16.0–24.0) | 2 | – | – | – | 0 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "Weft: 307.2 (285.7–389.1) KiB of resident memory per idle channel, 3 run(s) \
                 (from the started peer to 1000, 1000, 100 channels)."
            ),
            "{md}"
        );
        assert!(
            md.contains("> Weft run 3 stopped early: the joins' time budget of 600 s"),
            "{md}"
        );
        assert!(
            md.contains("> **Fabric 2.5.9 run 3 of the idle channels failed:** osnadmin failed"),
            "{md}"
        );
        // Spread figures: Weft from its two good runs, Fabric from three.
        assert!(
            md.contains("| figure | Weft (2 runs) | Fabric 2.5.9 (3 runs) | Weft / Fabric |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| committed tx/s, one channel | 110.0 (100.0–120.0) | 80.0 (70.0–90.0) | 1.38 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| quiet channel latency p99, neighbour saturated (ms) | 800.0 (700.0–900.0) | 250.0 (200.0–300.0) | 3.20 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "> **Weft run 2 of the load over many channels failed:** Endorse failed: Unimplemented"
            ),
            "{md}"
        );
    }

    #[test]
    fn a_side_not_run_has_no_figures_and_says_why() {
        let md = markdown(
            &Err("not run: the release build failed".into()),
            &Ok(TenancyRuns {
                idle: vec![idle(60, vec![point(1, 62, 40)])],
                spread: vec![spread(90.0, 300)],
            }),
            &inputs(),
        );
        assert!(
            md.contains(
                "| 1 | – | – | – | 0 | 62.0 (62.0–62.0) | 40.0 (40.0–40.0) | 80.0 (80.0–80.0) | 1 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("> **Weft not measured:** not run: the release build failed"),
            "{md}"
        );
        assert!(
            md.contains("| committed tx/s, one channel | – | 90.0 (90.0–90.0) | – |"),
            "{md}"
        );
        assert!(
            md.contains("| figure | Weft | Fabric 2.5.9 (1 run) |"),
            "{md}"
        );
    }
}
