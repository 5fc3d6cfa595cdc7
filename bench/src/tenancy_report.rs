//! The multi-tenancy section of BENCHMARKS.md: idle-channel memory and join times of a Weft
//! and a Go peer side by side, then the spread-load and fairness figures with their ratio.

use std::fmt::Write;
use std::time::Duration;

use crate::multitenancy::{CONCURRENCY, Inputs, QUIET_INTERVAL, SpreadFigures, TenancyFigures};
use crate::report::quoted;
use crate::side_by_side::Implementation;

/// The multi-tenancy section of BENCHMARKS.md. A side that failed or stopped early shows "–"
/// where it has no figure, and the reason under the table.
pub fn markdown(weft: &TenancyFigures, upstream: &TenancyFigures, inputs: &Inputs) -> String {
    let mut out = String::new();
    let sides = [
        (Implementation::Weft, weft),
        (Implementation::Upstream, upstream),
    ];
    let _ = writeln!(
        out,
        "One peer (one org, one Raft orderer), one run. Idle channels: resident memory of the peer \
         process after joining that many channels, and the median and slowest `cscc JoinChain` \
         among the joins that led there. The Go peer stops at {} channels to bound the run time.\n",
        inputs.upstream_idle_max
    );
    let _ = writeln!(
        out,
        "| idle channels | Weft RSS (MiB) | Weft join p50 / max (ms) | Fabric 2.5.9 RSS (MiB) | Fabric 2.5.9 join p50 / max (ms) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    let mib = |b: u64| format!("{:.1}", b as f64 / (1024.0 * 1024.0));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let baseline = |f: &TenancyFigures| match &f.idle {
        Ok(i) => mib(i.baseline_rss_bytes),
        Err(_) => "–".into(),
    };
    let _ = writeln!(
        out,
        "| 0 | {} | – | {} | – |",
        baseline(weft),
        baseline(upstream)
    );
    for &count in &inputs.idle_counts {
        let cells = |f: &TenancyFigures| {
            let point = f
                .idle
                .as_ref()
                .ok()
                .and_then(|i| i.points.iter().find(|p| p.channels == count));
            match point {
                Some(p) => (
                    mib(p.rss_bytes),
                    format!("{:.1} / {:.1}", ms(p.join_p50), ms(p.join_max)),
                ),
                None => ("–".into(), "–".into()),
            }
        };
        let (w_rss, w_join) = cells(weft);
        let (u_rss, u_join) = cells(upstream);
        let _ = writeln!(out, "| {count} | {w_rss} | {w_join} | {u_rss} | {u_join} |");
    }
    for (implementation, f) in sides {
        match &f.idle {
            Ok(idle) => {
                if let Some(last) = idle.points.last() {
                    let per_channel = last.rss_bytes.saturating_sub(idle.baseline_rss_bytes) as f64
                        / last.channels.max(1) as f64
                        / 1024.0;
                    let _ = writeln!(
                        out,
                        "\n{}: {per_channel:.0} KiB of resident memory per idle channel (up to {} channels).",
                        implementation.name(),
                        last.channels
                    );
                }
                if let Some(reason) = &idle.stopped {
                    let _ = writeln!(
                        out,
                        "\n> {} stopped early: {}",
                        implementation.name(),
                        quoted(reason)
                    );
                }
            }
            Err(reason) => {
                let _ = writeln!(
                    out,
                    "\n> **{} idle channels failed:** {}",
                    implementation.name(),
                    quoted(reason)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\nLoad over many channels: CRUD creates with {CONCURRENCY} requests in flight for {} s, on one \
         channel and spread over {} channels; fairness: one transaction every {} ms on a quiet channel, \
         alone and while another channel takes the closed-loop load.\n",
        inputs.step.as_secs(),
        inputs.spread_channels.max(2),
        QUIET_INTERVAL.as_millis()
    );
    let _ = writeln!(out, "| figure | Weft | Fabric 2.5.9 | Weft / Fabric |");
    let _ = writeln!(out, "|---|---|---|---|");
    type SpreadFigure = fn(&SpreadFigures) -> f64;
    let rows: [(&str, SpreadFigure); 7] = [
        ("committed tx/s, one channel", |s| s.one_channel_tps),
        ("committed tx/s, spread over the channels", |s| s.spread_tps),
        ("quiet channel latency p50, alone (ms)", |s| {
            s.quiet_alone_p50.as_secs_f64() * 1000.0
        }),
        ("quiet channel latency p99, alone (ms)", |s| {
            s.quiet_alone_p99.as_secs_f64() * 1000.0
        }),
        ("quiet channel latency p50, neighbour saturated (ms)", |s| {
            s.quiet_busy_p50.as_secs_f64() * 1000.0
        }),
        ("quiet channel latency p99, neighbour saturated (ms)", |s| {
            s.quiet_busy_p99.as_secs_f64() * 1000.0
        }),
        ("busy channel committed tx/s meanwhile", |s| s.busy_tps),
    ];
    for (label, figure) in rows {
        let w = weft.spread.as_ref().ok().map(figure);
        let u = upstream.spread.as_ref().ok().map(figure);
        let cell = |v: Option<f64>| v.map_or("failed".to_owned(), |v| format!("{v:.1}"));
        let ratio = match (w, u) {
            (Some(w), Some(u)) if u > 0.0 => format!("{:.2}", w / u),
            _ => "–".into(),
        };
        let _ = writeln!(out, "| {label} | {} | {} | {ratio} |", cell(w), cell(u));
    }
    for (implementation, f) in sides {
        if let Err(reason) = &f.spread {
            let _ = writeln!(
                out,
                "\n> **{} load over many channels failed:** {}",
                implementation.name(),
                quoted(reason)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::multitenancy::{IdleFigures, IdlePoint};

    fn inputs() -> Inputs {
        Inputs {
            weft_bin: PathBuf::new(),
            packages: PathBuf::new(),
            idle_counts: vec![1, 100, 1000],
            upstream_idle_max: 100,
            spread_channels: 10,
            step: Duration::from_secs(5),
            idle_budget: Duration::from_secs(600),
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

    #[test]
    fn markdown_puts_both_peers_side_by_side_and_says_what_is_missing() {
        let weft = TenancyFigures {
            idle: Ok(IdleFigures {
                baseline_rss_bytes: 20 << 20,
                points: vec![point(1, 21, 5), point(100, 50, 6), point(1000, 320, 8)],
                stopped: None,
            }),
            spread: Err("Endorse failed: Unimplemented".into()),
        };
        let upstream = TenancyFigures {
            idle: Ok(IdleFigures {
                baseline_rss_bytes: 60 << 20,
                points: vec![point(1, 62, 40), point(100, 160, 90)],
                stopped: None,
            }),
            spread: Ok(SpreadFigures {
                channels: 10,
                one_channel_tps: 100.0,
                spread_tps: 150.0,
                quiet_busy_p99: Duration::from_millis(900),
                ..Default::default()
            }),
        };
        let md = markdown(&weft, &upstream, &inputs());
        assert!(md.contains("| 0 | 20.0 | – | 60.0 | – |"), "{md}");
        assert!(
            md.contains("| 100 | 50.0 | 6.0 / 12.0 | 160.0 | 90.0 / 180.0 |"),
            "{md}"
        );
        // The Go peer was bounded at 100 channels: no figure, no ratio made up.
        assert!(md.contains("| 1000 | 320.0 | 8.0 / 16.0 | – | – |"), "{md}");
        assert!(
            md.contains("Weft: 307 KiB of resident memory per idle channel (up to 1000 channels)."),
            "{md}"
        );
        assert!(
            md.contains("| committed tx/s, spread over the channels | failed | 150.0 | – |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| quiet channel latency p99, neighbour saturated (ms) | failed | 900.0 | – |"
            ),
            "{md}"
        );
        assert!(
            md.contains("> **Weft load over many channels failed:** Endorse failed: Unimplemented"),
            "{md}"
        );
    }
}
