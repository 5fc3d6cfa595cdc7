//! Runs a test of this binary in a child process. Child tests are `#[ignore]`d so a normal run
//! skips them; they act only when started through [`spawn`], which sets [`CHILD_DIR_ENV`].

use std::process::{Child, Command, Stdio};

pub const CHILD_DIR_ENV: &str = "WEFT_LEDGER_CHILD_DIR";

/// Starts the ignored test `name` of this test binary with `dir` in the environment and its
/// stdout piped.
pub fn spawn(name: &str, dir: &std::path::Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The directory a child test works in, or `None` when the test was not started as a child.
pub fn child_dir() -> Option<std::path::PathBuf> {
    std::env::var_os(CHILD_DIR_ENV).map(Into::into)
}

/// A small deterministic generator (xorshift), seeded per run and printed so a failure can be
/// replayed.
pub struct Rng(u64);

impl Rng {
    pub fn from_time() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        Rng::new(seed)
    }

    pub fn new(seed: u64) -> Self {
        println!("rng seed {seed}");
        Rng(seed | 1)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}
