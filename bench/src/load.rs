//! The load generator: workloads over the Gateway, a closed-loop search for the saturation
//! throughput and an open-loop run at a fixed rate for latencies, with the generator's own CPU
//! share measured so that a saturated generator is visible in the figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::gateway::{Gateway, Outcome};
use crate::procstat::own_cpu_seconds;

/// Largest number of requests in flight in any run.
pub const IN_FLIGHT_MAX: usize = 256;
/// Concurrency levels the saturation search tries, in order.
pub const CONCURRENCY_STEPS: [usize; 7] = [2, 4, 8, 16, 32, 64, 128];
/// The search stops when a step improves throughput by less than this fraction.
pub const SATURATION_GAIN_MIN: f64 = 0.05;

/// What one request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// CRUD `Create` of a fresh key: write-only.
    CrudCreate,
    /// asset-transfer `TransferAsset` on a random asset of a pre-created range: read-modify-write.
    ReadModifyWrite,
    /// asset-transfer `ReadAsset` of a random asset, evaluated (no transaction).
    Evaluate,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::CrudCreate => "crud create (write-only)",
            Workload::ReadModifyWrite => "read-modify-write (TransferAsset)",
            Workload::Evaluate => "evaluate (ReadAsset)",
        }
    }
}

/// Where the load goes.
#[derive(Clone)]
pub struct Target {
    pub gateways: Vec<Gateway>,
    pub channel: String,
    /// Chaincode names for the CRUD and asset-transfer contracts.
    pub crud: String,
    pub basic: String,
    /// Number of assets `prepare_assets` created (the read-modify-write key range).
    pub assets: u64,
    /// Distinguishes keys of different runs against the same ledger.
    pub run_tag: String,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub committed: u64,
    pub invalid: u64,
    pub failed: u64,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub generator_cpu_seconds: f64,
    pub first_error: Option<String>,
}

impl RunResult {
    /// Successful requests per second (committed transactions, or answered evaluations).
    pub fn throughput(&self) -> f64 {
        self.committed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How long a fresh network may take before its first transaction goes through (Go peers learn
/// the other orgs' peers through gossip some seconds after joining the channel).
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(90);

/// Creates `target.assets` assets for the read-modify-write and evaluate workloads, after a first
/// transaction has gone through on every gateway.
pub async fn prepare_assets(target: &Target) -> Result<(), String> {
    for (g, gw) in target.gateways.iter().enumerate() {
        let deadline = Instant::now() + WARM_UP_TIMEOUT;
        let args = args(&["Create", &format!("{}-warm-up-{g}", target.run_tag), "{}"]);
        loop {
            match gw.submit(&target.channel, &target.crud, &args).await {
                Ok((Outcome::Committed, _)) => break,
                Ok((Outcome::Invalid(code), _)) => {
                    return Err(format!(
                        "the warm-up transaction committed invalid ({code})"
                    ));
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("the network never took a transaction: {e}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }
    let sem = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for i in 0..target.assets {
        let t = target.clone();
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let gw = &t.gateways[(i as usize) % t.gateways.len()];
            let args = args(&["CreateAsset", &asset_id(&t, i), "blue", "5", "bench", "100"]);
            gw.submit(&t.channel, &t.basic, &args)
                .await
                .map_err(|e| e.to_string())
        }));
    }
    for task in tasks {
        match task.await.map_err(|e| e.to_string())? {
            Ok((Outcome::Committed, _)) => {}
            Ok((Outcome::Invalid(code), _)) => {
                return Err(format!("creating an asset committed invalid ({code})"));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Closed loop: `concurrency` workers issue requests back to back for `duration`.
pub async fn closed_loop(
    target: &Target,
    workload: Workload,
    concurrency: usize,
    duration: Duration,
) -> RunResult {
    let counter = Arc::new(AtomicU64::new(0));
    let cpu_before = own_cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for w in 0..concurrency.min(IN_FLIGHT_MAX) {
        let t = target.clone();
        let counter = counter.clone();
        workers.push(tokio::spawn(async move {
            let mut result = RunResult::default();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                record(&mut result, one_request(&t, workload, w, n).await);
            }
            result
        }));
    }
    let mut total = RunResult::default();
    for worker in workers {
        if let Ok(r) = worker.await {
            merge(&mut total, r);
        }
    }
    total.elapsed = started.elapsed();
    total.generator_cpu_seconds = own_cpu_seconds().unwrap_or(cpu_before) - cpu_before;
    total.latencies.sort();
    total
}

/// Open loop: requests start at `rate` per second for `duration` whatever the answers do.
pub async fn open_loop(
    target: &Target,
    workload: Workload,
    rate: f64,
    duration: Duration,
) -> RunResult {
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let sem = Arc::new(Semaphore::new(IN_FLIGHT_MAX));
    let cpu_before = own_cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let mut n = 0u64;
    let mut total = RunResult::default();
    while started.elapsed() < duration {
        ticker.tick().await;
        let Ok(permit) = sem.clone().try_acquire_owned() else {
            // More than IN_FLIGHT_MAX outstanding: the target cannot keep up with this rate.
            total.failed += 1;
            continue;
        };
        let t = target.clone();
        let i = n;
        n += 1;
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            one_request(&t, workload, (i % 1024) as usize, i).await
        }));
    }
    for task in tasks {
        if let Ok(outcome) = task.await {
            record(&mut total, outcome);
        }
    }
    total.elapsed = started.elapsed();
    total.generator_cpu_seconds = own_cpu_seconds().unwrap_or(cpu_before) - cpu_before;
    total.latencies.sort();
    total
}

/// Steps through [`CONCURRENCY_STEPS`] until throughput stops growing; returns the best run.
pub async fn saturation(
    target: &Target,
    workload: Workload,
    step_duration: Duration,
) -> (usize, RunResult) {
    let mut best: Option<(usize, RunResult)> = None;
    for &concurrency in &CONCURRENCY_STEPS {
        let run = closed_loop(target, workload, concurrency, step_duration).await;
        let better = best
            .as_ref()
            .is_none_or(|(_, b)| run.throughput() > b.throughput() * (1.0 + SATURATION_GAIN_MIN));
        if !better {
            break;
        }
        best = Some((concurrency, run));
    }
    best.unwrap_or_default()
}

type RequestOutcome = Result<(Outcome, Duration), String>;

async fn one_request(t: &Target, workload: Workload, worker: usize, n: u64) -> RequestOutcome {
    let gw = &t.gateways[worker % t.gateways.len()];
    match workload {
        Workload::CrudCreate => {
            let key = format!("{}-{worker}-{n}", t.run_tag);
            let value = format!("{{\"owner\":\"bench\",\"n\":{n}}}");
            gw.submit(&t.channel, &t.crud, &args(&["Create", &key, &value]))
                .await
                .map_err(|e| e.to_string())
        }
        Workload::ReadModifyWrite => {
            let id = asset_id(t, pseudo_random(n) % t.assets.max(1));
            let owner = format!("owner{n}");
            gw.submit(&t.channel, &t.basic, &args(&["TransferAsset", &id, &owner]))
                .await
                .map_err(|e| e.to_string())
        }
        Workload::Evaluate => {
            let id = asset_id(t, pseudo_random(n) % t.assets.max(1));
            gw.evaluate(&t.channel, &t.basic, &args(&["ReadAsset", &id]))
                .await
                .map(|(_, latency)| (Outcome::Committed, latency))
                .map_err(|e| e.to_string())
        }
    }
}

fn record(result: &mut RunResult, outcome: RequestOutcome) {
    match outcome {
        Ok((Outcome::Committed, latency)) => {
            result.committed += 1;
            result.latencies.push(latency);
        }
        Ok((Outcome::Invalid(_), latency)) => {
            result.invalid += 1;
            result.latencies.push(latency);
        }
        Err(e) => {
            result.failed += 1;
            result.first_error.get_or_insert(e);
        }
    }
}

fn merge(total: &mut RunResult, r: RunResult) {
    total.committed += r.committed;
    total.invalid += r.invalid;
    total.failed += r.failed;
    total.latencies.extend(r.latencies);
    if total.first_error.is_none() {
        total.first_error = r.first_error;
    }
}

fn asset_id(t: &Target, i: u64) -> String {
    format!("bench-{}-asset{i}", t.run_tag)
}

fn args(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// A cheap deterministic spread of request numbers over the key range (splitmix64).
fn pseudo_random(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
