//! Loopback port allocation and bounded readiness probes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};

/// Connect and read timeout of one probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Most bytes read from a health endpoint's reply.
const HEALTH_REPLY_BYTES_MAX: u64 = 64 << 10;

/// Reserves `count` distinct free ports on 127.0.0.1. All are bound at once
/// and then released, so they are distinct from one another; another process
/// could still take one before the node binds it, which is rare on loopback.
pub fn free_ports(count: usize) -> Result<Vec<SocketAddr>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(HarnessError::Ports)?;
    listeners
        .iter()
        .map(|l| l.local_addr().map_err(HarnessError::Ports))
        .collect()
}

/// True if something accepts TCP connections on `addr`.
pub fn accepts_connections(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).is_ok()
}

/// True if `GET /healthz` on the plain-HTTP operations endpoint answers 200.
/// Fabric's operations server reports 200 once every registered checker passes.
pub fn healthz_ok(addr: SocketAddr) -> bool {
    let probe = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
        write!(stream, "GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
        let mut reply = String::new();
        stream
            .take(HEALTH_REPLY_BYTES_MAX)
            .read_to_string(&mut reply)?;
        let status_line = reply.lines().next().unwrap_or_default();
        Ok(status_line.split_whitespace().nth(1) == Some("200"))
    };
    probe().unwrap_or(false)
}

/// Polls `ready` until it holds or `limit` passes; `check_alive` is consulted
/// between polls so a crashed process fails fast instead of timing out.
pub fn wait_until(
    limit: Duration,
    mut ready: impl FnMut() -> bool,
    mut check_alive: impl FnMut() -> Result<()>,
) -> Result<bool> {
    let deadline = Instant::now() + limit;
    loop {
        if ready() {
            return Ok(true);
        }
        check_alive()?;
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(crate::process::POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_loopback_ports() {
        let ports = free_ports(8).unwrap();
        let mut numbers: Vec<u16> = ports.iter().map(SocketAddr::port).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), 8);
        assert!(ports.iter().all(|p| p.ip().is_loopback()));
    }

    #[test]
    fn healthz_probe_reads_the_status_line() {
        let serve = |reply: &'static str| {
            let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
            let addr = listener.local_addr().unwrap();
            std::thread::spawn(move || {
                let (mut conn, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap() == 1 {
                    request.push(byte[0]);
                }
                conn.write_all(reply.as_bytes()).unwrap();
            });
            addr
        };
        assert!(healthz_ok(serve(
            "HTTP/1.0 200 OK\r\n\r\n{\"status\":\"OK\"}"
        )));
        assert!(!healthz_ok(serve(
            "HTTP/1.0 503 Service Unavailable\r\n\r\n"
        )));
        let closed = free_ports(1).unwrap()[0];
        assert!(!healthz_ok(closed));
        assert!(!accepts_connections(closed));
    }

    #[test]
    fn waits_are_bounded_and_fail_fast_on_a_dead_process() {
        let started = Instant::now();
        assert!(!wait_until(Duration::from_millis(300), || false, || Ok(())).unwrap());
        assert!(started.elapsed() < Duration::from_secs(5));
        let dead = wait_until(
            Duration::from_secs(60),
            || false,
            || Err(HarnessError::Topology("dead".into())),
        );
        assert!(dead.is_err());
        let mut calls = 0;
        assert!(
            wait_until(
                Duration::from_secs(5),
                || {
                    calls += 1;
                    calls == 3
                },
                || Ok(())
            )
            .unwrap()
        );
    }
}
