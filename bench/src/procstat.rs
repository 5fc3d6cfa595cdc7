//! CPU time and peak memory of a process and its descendants' threads, read from Linux's /proc:
//! `utime + stime` from `/proc/<pid>/stat` and `VmHWM` (peak resident set) from
//! `/proc/<pid>/status`.

use std::path::PathBuf;

use crate::error::{BenchError, Result};

/// Clock ticks per second of /proc CPU times (USER_HZ; 100 on every Linux this runs on).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    pub cpu_seconds: f64,
    pub peak_rss_bytes: u64,
    pub rss_bytes: u64,
}

/// Reads the current CPU time and memory of process `pid`.
pub fn sample(pid: u32) -> Result<ProcSample> {
    let stat_path = PathBuf::from(format!("/proc/{pid}/stat"));
    let stat = std::fs::read_to_string(&stat_path).map_err(|source| BenchError::Io {
        action: "reading",
        path: stat_path,
        source,
    })?;
    let status_path = PathBuf::from(format!("/proc/{pid}/status"));
    let status = std::fs::read_to_string(&status_path).map_err(|source| BenchError::Io {
        action: "reading",
        path: status_path,
        source,
    })?;
    let cpu_seconds = parse_cpu_ticks(&stat)
        .ok_or_else(|| BenchError::Protocol(format!("malformed /proc/{pid}/stat")))?
        as f64
        / TICKS_PER_SECOND;
    Ok(ProcSample {
        cpu_seconds,
        peak_rss_bytes: status_kib(&status, "VmHWM:").unwrap_or(0) * 1024,
        rss_bytes: status_kib(&status, "VmRSS:").unwrap_or(0) * 1024,
    })
}

/// CPU seconds this process has used so far (the load generator's own share).
pub fn own_cpu_seconds() -> Result<f64> {
    sample(std::process::id()).map(|s| s.cpu_seconds)
}

/// utime + stime: fields 14 and 15 of /proc/<pid>/stat, counted after the `(comm)` field,
/// which may itself contain spaces.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // after_comm starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_command_name() {
        let stat =
            "1234 (my peer) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 1000 200";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.peak_rss_bytes >= s.rss_bytes && s.rss_bytes > 0);
    }
}
