//! The operations endpoint (Fabric's `core/operations`): `/healthz`, `/version`, `/logspec`
//! and, with the prometheus metrics provider, `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use super::http::{HttpRequest, HttpResponse, serve_connection, serve_listener};

/// Largest `/logspec` PUT body.
pub const MAX_LOGSPEC_BODY: usize = 4 * 1024;
/// Label sets kept per registry; a hostile client can name any channel in a broadcast, so
/// series beyond this bound are not recorded.
pub const MAX_SERIES: usize = 4096;
/// The version `/version` and `fabric_version` report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit the binary was built from, when the build provided `WEFT_COMMIT_SHA`; Fabric
/// reports "development build" when it was not stamped.
pub const COMMIT_SHA: &str = match option_env!("WEFT_COMMIT_SHA") {
    Some(sha) => sha,
    None => "development build",
};

/// Why a logging specification was refused (the wording follows Fabric's `flogging`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogSpecError {
    #[error("invalid logging specification '{spec}': bad segment '{segment}'")]
    BadSegment { spec: String, segment: String },
    #[error("invalid logging specification '{spec}': no logger specified in segment '{segment}'")]
    NoLogger { spec: String, segment: String },
    #[error("invalid logging specification '{spec}': bad logger name '{name}'")]
    BadLoggerName { spec: String, name: String },
    #[error("the logging filter cannot be changed: {0}")]
    Reload(String),
}

fn level_name(level: &str) -> Option<&'static str> {
    Some(match level {
        "PAYLOAD" | "payload" | "DEBUG" | "debug" => "debug",
        "INFO" | "info" => "info",
        "WARNING" | "WARN" | "warning" | "warn" => "warn",
        "ERROR" | "error" | "DPANIC" | "dpanic" | "PANIC" | "panic" | "FATAL" | "fatal" => "error",
        _ => return None,
    })
}

fn valid_logger_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// Translates a Fabric logging spec (`level` and `logger[,logger]=level` segments joined by
/// `:`) into a tracing filter. A logger name's `.` separators become Rust's `::`, so
/// `weft_orderer.node=debug` selects the `weft_orderer::node` module.
pub fn filter_from_spec(spec: &str) -> Result<EnvFilter, LogSpecError> {
    let mut default = "info";
    let mut directives = Vec::new();
    for segment in spec.split(':') {
        let bad_segment = || LogSpecError::BadSegment {
            spec: spec.into(),
            segment: segment.into(),
        };
        match segment.split('=').collect::<Vec<_>>()[..] {
            [""] => {}
            [level] => default = level_name(level).ok_or_else(bad_segment)?,
            ["", _] => {
                return Err(LogSpecError::NoLogger {
                    spec: spec.into(),
                    segment: segment.into(),
                });
            }
            [loggers, level] => {
                let level = level_name(level).ok_or_else(bad_segment)?;
                for logger in loggers.split(',') {
                    let name = logger.strip_suffix('.').unwrap_or(logger);
                    if !valid_logger_name(name) {
                        return Err(LogSpecError::BadLoggerName {
                            spec: spec.into(),
                            name: logger.into(),
                        });
                    }
                    directives.push(format!("{}={level}", name.replace('.', "::")));
                }
            }
            _ => return Err(bad_segment()),
        }
    }
    let mut filter = EnvFilter::new(default);
    for directive in directives {
        let parsed = directive.parse().map_err(|_| LogSpecError::BadSegment {
            spec: spec.into(),
            segment: directive.clone(),
        })?;
        filter = filter.add_directive(parsed);
    }
    Ok(filter)
}

/// Installs a new tracing filter; the binary backs this with a `tracing_subscriber` reload
/// handle.
pub type ApplyFilter = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;

/// The active logging specification and the means to replace it.
pub struct LogSpec {
    current: Mutex<String>,
    apply: ApplyFilter,
}

impl LogSpec {
    pub fn new(initial: String, apply: ApplyFilter) -> Self {
        Self {
            current: Mutex::new(initial),
            apply,
        }
    }

    pub fn spec(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn activate(&self, spec: &str) -> Result<(), LogSpecError> {
        let filter = filter_from_spec(spec)?;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        (self.apply)(filter).map_err(LogSpecError::Reload)?;
        *current = spec.to_string();
        Ok(())
    }
}

type Labels = Vec<(&'static str, String)>;

/// A small counter and gauge registry rendered in the Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
}

/// `broadcast_processed_count`: transactions processed, by channel, header type and status.
pub const BROADCAST_PROCESSED_COUNT: &str = "broadcast_processed_count";
/// `deliver_blocks_sent`: blocks sent by the deliver service.
pub const DELIVER_BLOCKS_SENT: &str = "deliver_blocks_sent";
/// `ledger_blockchain_height`: height of each channel's chain.
pub const LEDGER_BLOCKCHAIN_HEIGHT: &str = "ledger_blockchain_height";
/// `consensus_etcdraft_is_leader`: 1 where this node leads the channel's raft group, else 0.
pub const ETCDRAFT_IS_LEADER: &str = "consensus_etcdraft_is_leader";
/// `fabric_version`: 1, labelled with the running version.
pub const FABRIC_VERSION: &str = "fabric_version";

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn add(&self, name: &'static str, labels: Labels) {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let len = counters.len();
        let key = (name, labels);
        if let Some(value) = counters.get_mut(&key) {
            *value = value.saturating_add(1);
        } else if len < MAX_SERIES {
            counters.insert(key, 1);
        }
    }

    /// Counts one broadcast response (Fabric labels it `channel`, `type`, `status`; both are
    /// "unknown" when the envelope has no readable channel header).
    pub fn broadcast_processed(&self, channel: &str, tx_type: &str, status: &str) {
        self.add(
            BROADCAST_PROCESSED_COUNT,
            vec![
                ("channel", channel.into()),
                ("type", tx_type.into()),
                ("status", status.into()),
            ],
        );
    }

    /// Counts one block sent on a Deliver stream (the orderer sends full blocks:
    /// `filtered="false"`, `data_type="block"`).
    pub fn deliver_block_sent(&self, channel: &str) {
        self.add(
            DELIVER_BLOCKS_SENT,
            vec![
                ("channel", channel.into()),
                ("filtered", "false".into()),
                ("data_type", "block".into()),
            ],
        );
    }

    /// The registry in the Prometheus text exposition format, with `channels` as the
    /// `ledger_blockchain_height` and `consensus_etcdraft_is_leader` gauges.
    pub fn render(&self, channels: &[ChannelGauges]) -> String {
        let mut out = String::new();
        let counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, help) in [
            (
                BROADCAST_PROCESSED_COUNT,
                "The number of transactions processed.",
            ),
            (
                DELIVER_BLOCKS_SENT,
                "The number of blocks sent by the deliver service.",
            ),
        ] {
            let series: Vec<_> = counters.iter().filter(|((n, _), _)| *n == name).collect();
            if series.is_empty() {
                continue;
            }
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((_, labels), value) in series {
                let _ = writeln!(out, "{name}{} {value}", render_labels(labels));
            }
        }
        drop(counters);
        if !channels.is_empty() {
            let name = LEDGER_BLOCKCHAIN_HEIGHT;
            let _ = writeln!(
                out,
                "# HELP {name} Height of the chain in blocks.\n# TYPE {name} gauge"
            );
            for gauges in channels {
                let labels = vec![("channel", gauges.channel.clone())];
                let _ = writeln!(out, "{name}{} {}", render_labels(&labels), gauges.height);
            }
        }
        let leadership: Vec<_> = channels
            .iter()
            .filter_map(|g| Some((&g.channel, g.is_leader?)))
            .collect();
        if !leadership.is_empty() {
            let name = ETCDRAFT_IS_LEADER;
            let _ = writeln!(
                out,
                "# HELP {name} The leadership status of the current node: 1 if it is the leader else 0.\n# TYPE {name} gauge"
            );
            for (channel, leads) in leadership {
                let labels = vec![("channel", channel.clone())];
                let _ = writeln!(out, "{name}{} {}", render_labels(&labels), u8::from(leads));
            }
        }
        let name = FABRIC_VERSION;
        let _ = writeln!(
            out,
            "# HELP {name} The active version of Fabric.\n# TYPE {name} gauge\n{name}{} 1",
            render_labels(&vec![("version", VERSION.to_string())])
        );
        out
    }
}

fn render_labels(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let escaped = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{name}=\"{escaped}\"");
    }
    out.push('}');
    out
}

/// The per-channel gauges of one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelGauges {
    pub channel: String,
    pub height: u64,
    /// Whether this node leads the channel's raft group; `None` when it is no consenter.
    pub is_leader: Option<bool>,
}

/// Lists each channel with its gauges.
pub type Heights = Box<dyn Fn() -> Vec<ChannelGauges> + Send + Sync>;

/// What the operations endpoint serves.
pub struct Operations {
    pub log_spec: LogSpec,
    /// `Some` when `Metrics.Provider` is "prometheus".
    pub metrics: Option<Arc<Metrics>>,
    pub heights: Heights,
}

/// Serves the operations endpoint (plain HTTP) until the listener fails.
pub async fn serve_operations(listener: TcpListener, operations: Arc<Operations>) {
    serve_listener(listener, move |tcp| {
        let operations = operations.clone();
        async move {
            serve_connection(tcp, MAX_LOGSPEC_BODY, |request| async move {
                operations.handle(&request)
            })
            .await;
        }
    })
    .await;
}

impl Operations {
    pub fn handle(&self, request: &HttpRequest) -> HttpResponse {
        let method = request.method.as_str();
        match request.path.as_str() {
            "/healthz" if method == "GET" => HttpResponse::json(
                200,
                &serde_json::json!({ "status": "OK", "time": rfc3339_now() }),
            ),
            "/healthz" => HttpResponse::error(405, "invalid request method"),
            // Fabric answers a wrong method on /version and /logspec with 400, not 405.
            "/version" if method == "GET" => HttpResponse::json(
                200,
                &serde_json::json!({ "CommitSHA": COMMIT_SHA, "Version": VERSION }),
            ),
            "/version" => HttpResponse::json(
                400,
                &serde_json::json!({ "Error": format!("invalid request method: {method}") }),
            ),
            "/logspec" => match method {
                "GET" => {
                    HttpResponse::json(200, &serde_json::json!({ "spec": self.log_spec.spec() }))
                }
                "PUT" => self.put_log_spec(&request.body),
                _ => HttpResponse::error(400, format!("invalid request method: {method}")),
            },
            // Like Prometheus' handler, any method reads the metrics.
            "/metrics" => match &self.metrics {
                Some(metrics) => HttpResponse {
                    status: 200,
                    headers: vec![(
                        "Content-Type",
                        "text/plain; version=0.0.4; charset=utf-8".into(),
                    )],
                    body: metrics.render(&(self.heights)()).into_bytes(),
                },
                None => HttpResponse::error(404, "not found"),
            },
            _ => HttpResponse::error(404, "not found"),
        }
    }

    fn put_log_spec(&self, body: &[u8]) -> HttpResponse {
        let spec = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(fields)) => match fields.get("spec") {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(spec)) => spec.clone(),
                Some(other) => {
                    return HttpResponse::error(
                        400,
                        format!("json: cannot unmarshal {other} into field spec of type string"),
                    );
                }
            },
            Ok(other) => {
                return HttpResponse::error(
                    400,
                    format!("json: cannot unmarshal {other} into a log specification object"),
                );
            }
            Err(e) => return HttpResponse::error(400, e),
        };
        match self.log_spec.activate(&spec) {
            Ok(()) => {
                tracing::info!(%spec, "logging specification changed");
                HttpResponse::empty(204)
            }
            Err(e) => HttpResponse::error(400, e),
        }
    }
}

fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str, body: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn json(response: &HttpResponse) -> serde_json::Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    /// Operations whose filter changes are recorded in the returned list.
    fn operations(metrics: Option<Arc<Metrics>>) -> (Operations, Arc<Mutex<Vec<String>>>) {
        let applied = Arc::new(Mutex::new(Vec::new()));
        let sink = applied.clone();
        let log_spec = LogSpec::new(
            "info".into(),
            Box::new(move |filter| {
                sink.lock().unwrap().push(filter.to_string());
                Ok(())
            }),
        );
        let heights: Heights = Box::new(|| {
            vec![ChannelGauges {
                channel: "mychannel".into(),
                height: 3,
                is_leader: Some(true),
            }]
        });
        (
            Operations {
                log_spec,
                metrics,
                heights,
            },
            applied,
        )
    }

    #[test]
    fn healthz_answers_ok_and_unknown_paths_are_not_found() {
        let (ops, _) = operations(None);
        let ok = ops.handle(&request("GET", "/healthz", ""));
        assert_eq!(ok.status, 200);
        assert_eq!(json(&ok)["status"], "OK");
        assert_eq!(json(&ok)["time"].as_str().unwrap().len(), 20);
        assert_eq!(ops.handle(&request("POST", "/healthz", "")).status, 405);
        assert_eq!(ops.handle(&request("GET", "/nope", "")).status, 404);
    }

    // Fabric core/operations/version.go: GET answers {"CommitSHA","Version"}; another method
    // answers 400 with {"Error": "invalid request method: ..."}.
    #[test]
    fn version_reports_version_and_commit() {
        let (ops, _) = operations(None);
        let ok = ops.handle(&request("GET", "/version", ""));
        assert_eq!(ok.status, 200);
        assert_eq!(json(&ok)["Version"], VERSION);
        assert_eq!(json(&ok)["CommitSHA"], COMMIT_SHA);
        let wrong = ops.handle(&request("DELETE", "/version", ""));
        assert_eq!(wrong.status, 400);
        assert_eq!(json(&wrong)["Error"], "invalid request method: DELETE");
    }

    // Fabric common/flogging/httpadmin/spec.go: GET {"spec"}, PUT 204 on success, 400
    // {"error"} on a bad spec or body, 400 on another method.
    #[test]
    fn logspec_reads_and_changes_the_filter() {
        let (ops, applied) = operations(None);
        let get = ops.handle(&request("GET", "/logspec", ""));
        assert_eq!(
            (get.status, json(&get)["spec"].clone()),
            (200, "info".into())
        );

        let put = ops.handle(&request(
            "PUT",
            "/logspec",
            r#"{"spec":"warning:weft_orderer.node,gossip=debug"}"#,
        ));
        assert_eq!(put.status, 204);
        let filter = applied.lock().unwrap().last().cloned().unwrap();
        assert!(filter.contains("weft_orderer::node=debug"), "{filter}");
        assert!(filter.contains("gossip=debug"), "{filter}");
        assert!(filter.contains("warn"), "{filter}");
        let get = ops.handle(&request("GET", "/logspec", ""));
        assert_eq!(json(&get)["spec"], "warning:weft_orderer.node,gossip=debug");

        let bad = ops.handle(&request("PUT", "/logspec", r#"{"spec":"chatty"}"#));
        assert_eq!(bad.status, 400);
        assert_eq!(
            json(&bad)["error"],
            "invalid logging specification 'chatty': bad segment 'chatty'"
        );
        assert_eq!(
            ops.handle(&request("PUT", "/logspec", "{not json")).status,
            400
        );
        assert_eq!(
            ops.handle(&request("PUT", "/logspec", r#"{"spec":1}"#))
                .status,
            400
        );
        assert_eq!(
            applied.lock().unwrap().len(),
            1,
            "refused specs are not applied"
        );
        let get = ops.handle(&request("GET", "/logspec", ""));
        assert_eq!(json(&get)["spec"], "warning:weft_orderer.node,gossip=debug");

        let post = ops.handle(&request("POST", "/logspec", ""));
        assert_eq!(post.status, 400);
        assert_eq!(json(&post)["error"], "invalid request method: POST");
    }

    #[test]
    fn spec_errors_follow_fabric_wording() {
        let err = |spec| filter_from_spec(spec).unwrap_err().to_string();
        assert_eq!(
            err("=debug"),
            "invalid logging specification '=debug': no logger specified in segment '=debug'"
        );
        assert_eq!(
            err("a..b=info"),
            "invalid logging specification 'a..b=info': bad logger name 'a..b'"
        );
        assert_eq!(
            err("a=b=c"),
            "invalid logging specification 'a=b=c': bad segment 'a=b=c'"
        );
        assert!(filter_from_spec("").is_ok());
        assert!(filter_from_spec("DEBUG").is_ok());
        assert!(filter_from_spec("orderer.common.=fatal:info").is_ok());
    }

    #[test]
    fn metrics_are_served_only_with_the_prometheus_provider() {
        let (disabled, _) = operations(None);
        assert_eq!(disabled.handle(&request("GET", "/metrics", "")).status, 404);

        let metrics = Metrics::new();
        metrics.broadcast_processed("mychannel", "ENDORSER_TRANSACTION", "SUCCESS");
        metrics.broadcast_processed("mychannel", "ENDORSER_TRANSACTION", "SUCCESS");
        metrics.broadcast_processed("unknown", "unknown", "BAD_REQUEST");
        metrics.deliver_block_sent("my\"channel");
        let (ops, _) = operations(Some(metrics));
        let response = ops.handle(&request("GET", "/metrics", ""));
        assert_eq!(response.status, 200);
        let text = String::from_utf8(response.body).unwrap();
        for line in [
            "# TYPE broadcast_processed_count counter",
            r#"broadcast_processed_count{channel="mychannel",type="ENDORSER_TRANSACTION",status="SUCCESS"} 2"#,
            r#"broadcast_processed_count{channel="unknown",type="unknown",status="BAD_REQUEST"} 1"#,
            "# TYPE deliver_blocks_sent counter",
            r#"deliver_blocks_sent{channel="my\"channel",filtered="false",data_type="block"} 1"#,
            "# TYPE ledger_blockchain_height gauge",
            r#"ledger_blockchain_height{channel="mychannel"} 3"#,
            "# TYPE consensus_etcdraft_is_leader gauge",
            r#"consensus_etcdraft_is_leader{channel="mychannel"} 1"#,
            &format!(r#"fabric_version{{version="{VERSION}"}} 1"#),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn series_are_bounded() {
        let metrics = Metrics::new();
        for i in 0..MAX_SERIES + 10 {
            metrics.deliver_block_sent(&format!("c{i}"));
        }
        let text = metrics.render(&[]);
        let series = text
            .lines()
            .filter(|l| l.starts_with(DELIVER_BLOCKS_SENT))
            .count();
        assert_eq!(series, MAX_SERIES);
    }
}
