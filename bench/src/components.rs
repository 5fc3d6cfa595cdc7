//! Component figures: what the workspace's own bench programs measure (validate-and-commit,
//! ordering, WASM host calls and invokes, block store appends) and this machine's ECDSA P-256
//! verify rate, the physical limit of validation.
//!
//! Every bench program prints, next to its human-readable lines, one machine-readable line per
//! figure: `figure<TAB>name<TAB>value<TAB>unit` ([`figure_line`]). `scripts/bench` runs each
//! program a few times and keeps each run's output in a file named `<program>.<run>.txt`;
//! [`markdown`] parses those files and reports every figure as median (min–max) over the runs.
//! Lines that are not figure lines are ignored, and a malformed figure line is reported rather
//! than guessed at.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};
use crate::stats::Spread;

/// First field of a machine-readable figure line.
pub const FIGURE_TAG: &str = "figure";
/// Largest output file of one bench run that is read.
pub const OUTPUT_BYTES_MAX: u64 = 16 << 20;

/// One figure printed by a bench program.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// The machine-readable line for a figure (what bench programs print).
pub fn figure_line(name: &str, value: f64, unit: &str) -> String {
    format!("{FIGURE_TAG}\t{name}\t{value}\t{unit}")
}

/// The figures in a bench program's output, and the figure lines that could not be read.
pub fn parse_output(output: &str) -> (Vec<Figure>, Vec<String>) {
    let mut figures = Vec::new();
    let mut malformed = Vec::new();
    for line in output.lines() {
        let mut fields = line.trim_end_matches('\r').split('\t');
        if fields.next() != Some(FIGURE_TAG) {
            continue;
        }
        let rest: Vec<&str> = fields.collect();
        match rest.as_slice() {
            [name, value, unit] if !name.trim().is_empty() => match value.trim().parse::<f64>() {
                Ok(value) if value.is_finite() => figures.push(Figure {
                    name: name.trim().to_owned(),
                    value,
                    unit: unit.trim().to_owned(),
                }),
                _ => malformed.push(line.to_owned()),
            },
            _ => malformed.push(line.to_owned()),
        }
    }
    (figures, malformed)
}

/// Figures of one program over its runs, in the order they were first printed.
#[derive(Debug, Default)]
pub struct ProgramFigures {
    pub runs: usize,
    /// Name, unit and the value of every run that printed it.
    pub figures: Vec<(String, String, Vec<f64>)>,
    pub malformed: Vec<String>,
}

impl ProgramFigures {
    fn add_run(&mut self, output: &str) {
        self.runs += 1;
        let (figures, malformed) = parse_output(output);
        self.malformed.extend(malformed);
        for f in figures {
            match self.figures.iter_mut().find(|(n, _, _)| *n == f.name) {
                Some((_, _, values)) => values.push(f.value),
                None => self.figures.push((f.name, f.unit, vec![f.value])),
            }
        }
    }
}

/// Reads every `<program>.<run>.txt` in `dir`, grouped by program name.
pub fn read_dir(dir: &Path) -> Result<BTreeMap<String, ProgramFigures>> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| BenchError::Io {
            action,
            path,
            source,
        }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io("listing", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut programs: BTreeMap<String, ProgramFigures> = BTreeMap::new();
    for path in entries {
        let Some(program) = program_of(&path) else {
            continue;
        };
        let size = std::fs::metadata(&path)
            .map_err(io("reading", &path))?
            .len();
        if size > OUTPUT_BYTES_MAX {
            return Err(BenchError::Protocol(format!(
                "{} is larger than {OUTPUT_BYTES_MAX} bytes; is it a bench output?",
                path.display()
            )));
        }
        let output = std::fs::read_to_string(&path).map_err(io("reading", &path))?;
        programs.entry(program).or_default().add_run(&output);
    }
    Ok(programs)
}

/// `commit.2.txt` → `commit`.
fn program_of(path: &Path) -> Option<String> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".txt")?;
    let (program, run) = stem.rsplit_once('.')?;
    run.parse::<u32>().ok()?;
    Some(program.to_owned())
}

/// The component table: one row per figure, median (min–max) over the runs.
pub fn markdown(programs: &BTreeMap<String, ProgramFigures>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| program | figure | median (min–max) | unit | runs |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (program, p) in programs {
        if p.figures.is_empty() {
            let _ = writeln!(
                out,
                "| {program} | no figures printed (see its output) | – | | {} |",
                p.runs
            );
        }
        for (name, unit, values) in &p.figures {
            let _ = writeln!(
                out,
                "| {program} | {name} | {} | {unit} | {} |",
                format_spread(&Spread::of(values)),
                values.len()
            );
        }
    }
    for (program, p) in programs {
        for line in &p.malformed {
            let _ = writeln!(out, "\n> {program}: unreadable figure line `{line}`");
        }
    }
    out
}

/// Figures spanning many magnitudes (ns per call to verifies per second) keep three
/// significant digits or at least one decimal.
pub fn format_spread(s: &Spread) -> String {
    if s.min == s.max {
        return format_value(s.median);
    }
    format!(
        "{} ({}–{})",
        format_value(s.median),
        format_value(s.min),
        format_value(s.max)
    )
}

fn format_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// ECDSA P-256 verifies per second of `threads` threads verifying for `duration`.
pub fn ecdsa_verifies_per_second(threads: usize, duration: Duration) -> Result<f64> {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::ecdsa::EcdsaSig;
    use openssl::nid::Nid;
    let crypto = |e: openssl::error::ErrorStack| BenchError::Protocol(format!("openssl: {e}"));
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(crypto)?;
    let key = EcKey::generate(&group).map_err(crypto)?;
    let digest = openssl::sha::sha256(b"weft ecdsa verify rate");
    let signature = EcdsaSig::sign(&digest, &key).map_err(crypto)?;
    let public = EcKey::from_public_key(&group, key.public_key()).map_err(crypto)?;
    let started = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut count = 0u64;
                    while started.elapsed() < duration {
                        for _ in 0..50 {
                            if signature.verify(&digest, &public).unwrap_or(false) {
                                count += 1;
                            }
                        }
                    }
                    count
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    Ok(counts.iter().sum::<u64>() as f64 / elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_lines_round_trip_and_other_lines_are_ignored() {
        let output = format!(
            "building 40 blocks...\n{}\nvalidate and commit: 1234 tx/s\n{}\r\n",
            figure_line("validate and commit, 1 worker", 1234.5, "tx/s"),
            figure_line("host state read", 87.0, "ns/call"),
        );
        let (figures, malformed) = parse_output(&output);
        assert!(malformed.is_empty(), "{malformed:?}");
        assert_eq!(
            figures,
            vec![
                Figure {
                    name: "validate and commit, 1 worker".into(),
                    value: 1234.5,
                    unit: "tx/s".into()
                },
                Figure {
                    name: "host state read".into(),
                    value: 87.0,
                    unit: "ns/call".into()
                },
            ]
        );
    }

    #[test]
    fn malformed_figure_lines_are_reported_not_guessed() {
        let output = "figure\tno value\nfigure\trate\tfast\ttx/s\nfigure\trate\tNaN\ttx/s\nfigure\t\t3\tx\nfigures are nice\n";
        let (figures, malformed) = parse_output(output);
        assert!(figures.is_empty());
        assert_eq!(malformed.len(), 4, "{malformed:?}");
    }

    #[test]
    fn runs_are_grouped_by_program_with_median_min_max() {
        let dir = tempfile::tempdir().unwrap();
        for (run, rate) in [(1, 100.0), (2, 300.0), (3, 200.0)] {
            std::fs::write(
                dir.path().join(format!("commit.{run}.txt")),
                format!("noise\n{}\n", figure_line("commit", rate, "tx/s")),
            )
            .unwrap();
        }
        std::fs::write(
            dir.path().join("ecdsa.1.txt"),
            figure_line("verify, 1 thread", 25000.0, "verifies/s"),
        )
        .unwrap();
        std::fs::write(dir.path().join("silent.1.txt"), "crashed\n").unwrap();
        std::fs::write(dir.path().join("README"), "not an output").unwrap();
        let programs = read_dir(dir.path()).unwrap();
        assert_eq!(
            programs.keys().collect::<Vec<_>>(),
            vec!["commit", "ecdsa", "silent"]
        );
        assert_eq!(programs["commit"].runs, 3);
        let table = markdown(&programs);
        assert!(
            table.contains("| commit | commit | 200 (100–300) | tx/s | 3 |"),
            "{table}"
        );
        assert!(
            table.contains("| ecdsa | verify, 1 thread | 25000 | verifies/s | 1 |"),
            "{table}"
        );
        assert!(table.contains("| silent | no figures printed"), "{table}");
    }

    #[test]
    fn program_names_come_from_run_files_only() {
        assert_eq!(
            program_of(Path::new("/x/ordering.3.txt")).as_deref(),
            Some("ordering")
        );
        assert_eq!(
            program_of(Path::new("/x/weft.ledger.1.txt")).as_deref(),
            Some("weft.ledger")
        );
        assert_eq!(program_of(Path::new("/x/ordering.txt")), None);
        assert_eq!(program_of(Path::new("/x/ordering.a.txt")), None);
    }

    #[test]
    fn ecdsa_rate_is_positive() {
        let rate = ecdsa_verifies_per_second(1, Duration::from_millis(50)).unwrap();
        assert!(rate > 0.0);
    }
}
