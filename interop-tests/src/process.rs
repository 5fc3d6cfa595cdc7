//! Child processes with bounded lifetimes: long-running nodes that are killed
//! when their handle drops (so a panicking test leaves no orphans), and
//! one-shot tools that are killed if they overrun their time limit.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};

/// How often a bounded wait re-checks its condition.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Most output kept from one tool invocation (per stream).
const CAPTURED_OUTPUT_BYTES_MAX: u64 = 16 << 20;
/// How long a node gets to exit after SIGTERM before it is killed.
pub const NODE_STOP_GRACE: Duration = Duration::from_secs(10);

/// Environment prefixes that configure Fabric processes. They are removed from
/// every child so that a developer's shell cannot leak settings into a test.
const FABRIC_ENV_PREFIXES: [&str; 4] = ["CORE_", "ORDERER_", "FABRIC_", "CHAINCODE_AS_A_SERVICE"];

/// A `Command` for `program` whose environment carries no Fabric settings.
pub fn clean_command(program: &Path) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let inherited = key.to_string_lossy();
        if FABRIC_ENV_PREFIXES
            .iter()
            .any(|prefix| inherited.starts_with(prefix))
        {
            command.env_remove(&key);
        }
    }
    command
}

/// What a finished tool printed.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to completion within `limit`, capturing its output. A
/// non-zero exit is an error that carries both streams.
pub fn run_bounded(mut command: Command, limit: Duration) -> Result<CommandOutput> {
    let shown = describe(&command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = PathBuf::from(command.get_program());
    let mut child = command
        .spawn()
        .map_err(|source| HarnessError::Spawn { program, source })?;
    let stdout = child.stdout.take().map(drain_in_background);
    let stderr = child.stderr.take().map(drain_in_background);
    let status = wait_bounded(&mut child, limit);
    let collect = |handle: Option<thread::JoinHandle<String>>| {
        handle.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    let (stdout, stderr) = (collect(stdout), collect(stderr));
    match status {
        Some(status) if status.success() => Ok(CommandOutput { stdout, stderr }),
        Some(status) => Err(HarnessError::CommandFailed {
            command: shown,
            status,
            stdout,
            stderr,
        }),
        None => Err(HarnessError::CommandTimedOut {
            command: shown,
            limit,
            stderr,
        }),
    }
}

/// Waits up to `limit` for `child`; kills and reaps it on overrun (returns None).
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

fn drain_in_background(stream: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut limited = stream.take(CAPTURED_OUTPUT_BYTES_MAX);
        let _ = limited.read_to_end(&mut bytes);
        // Keep reading past the cap so the child never blocks on a full pipe.
        let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The command line as a person would type it (environment left out).
pub fn describe(command: &Command) -> String {
    let mut shown = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        shown.push(' ');
        shown.push_str(&arg.to_string_lossy());
    }
    shown
}

/// A running node. Dropping it kills the process (SIGKILL) and reaps it.
#[derive(Debug)]
pub struct NodeProcess {
    name: String,
    log: PathBuf,
    child: Option<Child>,
}

impl NodeProcess {
    /// Starts `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Self> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(HarnessError::io("opening log", log))?;
        let err = out
            .try_clone()
            .map_err(HarnessError::io("opening log", log))?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let program = PathBuf::from(command.get_program());
        let child = command
            .spawn()
            .map_err(|source| HarnessError::Spawn { program, source })?;
        tracing::info!(node = name, pid = child.id(), log = %log.display(), "started");
        Ok(Self {
            name: name.to_owned(),
            log: log.to_path_buf(),
            child: Some(child),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The OS process id while the process is managed (None after [`NodeProcess::stop`]).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The exit status if the process has exited, None while it runs.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        child.try_wait().ok().flatten()
    }

    /// Asks the node to exit (SIGTERM), killing it after [`NODE_STOP_GRACE`].
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let terminated = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !terminated || wait_bounded(&mut child, NODE_STOP_GRACE).is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        tracing::info!(node = %self.name, "stopped");
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_run_reports_failure_output_and_timeouts() {
        let mut ok = Command::new("sh");
        ok.args(["-c", "echo out; echo err >&2"]);
        let output = run_bounded(ok, Duration::from_secs(10)).unwrap();
        assert_eq!(
            (output.stdout.as_str(), output.stderr.as_str()),
            ("out\n", "err\n")
        );

        let mut failing = Command::new("sh");
        failing.args(["-c", "echo why >&2; exit 3"]);
        match run_bounded(failing, Duration::from_secs(10)) {
            Err(HarnessError::CommandFailed { status, stderr, .. }) => {
                assert_eq!(status.code(), Some(3));
                assert_eq!(stderr, "why\n");
            }
            other => panic!("expected CommandFailed, got {other:?}"),
        }

        let mut slow = Command::new("sleep");
        slow.arg("30");
        let started = Instant::now();
        assert!(matches!(
            run_bounded(slow, Duration::from_millis(300)),
            Err(HarnessError::CommandTimedOut { .. })
        ));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn dropping_a_node_kills_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleeper.log");
        let mut command = Command::new("sh");
        command.args(["-c", "echo started; exec sleep 60"]);
        let node = NodeProcess::spawn("sleeper", command, &log).unwrap();
        let pid = node.child.as_ref().unwrap().id();
        let logged = || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("started")
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !logged() && Instant::now() < deadline {
            thread::sleep(POLL_INTERVAL);
        }
        assert!(logged(), "the node's output did not reach its log");
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        drop(node);
        // Reaped by drop, so the pid no longer names our child.
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        assert!(
            !status.contains("sleep"),
            "process {pid} survived: {status}"
        );
        assert!(std::fs::read_to_string(&log).unwrap().contains("started"));
    }
}
