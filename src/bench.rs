//! `warden bench`: a load generator that drives a running server through its public HTTP
//! and WebSocket API and prints throughput, latency percentiles and the server's memory.
//!
//! It logs in as an admin (registering one on a fresh server), creates an agent token,
//! registers simulated hosts and runs one of seven modes: `metrics` and `heartbeats` flood
//! one endpoint (`metrics` optionally with `--rules` alert rules judging every sample),
//! `mixed` replays a realistic agent schedule, `offline` measures how long the server takes
//! to report silent hosts as offline, `hosts` measures the memory cost of many registered
//! hosts, `alerts` times a breaching report's way to the live alert stream, and `notify`
//! times an alert's way from that stream to webhook receivers the bench runs. The figures
//! describe the pair, not the server alone: when both run on one machine the bench takes CPU
//! the server would otherwise have.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context};
use chrono::SecondsFormat;
use clap::ValueEnum;
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::header::ACCEPT;
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use warden_actors::clock::{Clock, SystemClock};

mod notify;

/// Requests finishing this early are not counted: connections and caches are still cold.
const WARM_UP: Duration = Duration::from_secs(2);
/// Latency samples kept per kind over all workers; beyond it each worker samples.
const MAX_SAMPLES: usize = 2_000_000;
const MIN_SAMPLES_PER_WORKER: usize = 1_000;
/// Distinct error messages shown; a failing server repeats the same few at high rate.
const MAX_ERROR_SAMPLES: usize = 5;
const REGISTER_RETRIES: u32 = 3;
/// A pause after a failed request, so a server answering errors instantly is not spun on.
const ERROR_PAUSE: Duration = Duration::from_millis(10);
const OFFLINE_MAX_HOSTS: usize = 20;
const FIRST_FRAME_WAIT: Duration = Duration::from_secs(10);
const SNIPPET_CHARS: usize = 200;
/// `--rules` upper bound: each rule is an actor on the server.
const MAX_RULES: i64 = 10_000;
const ALERTS_MAX_HOSTS: usize = 50;
/// How long a host waits for its alert on the stream before counting a miss.
const ALERT_WAIT: Duration = Duration::from_secs(5);
/// The pause after a resolving report, so the rule has seen it before the next breach.
const RESOLVE_PAUSE: Duration = Duration::from_millis(100);
/// `alerts`: the rule fires above 90 %; these reports breach it and resolve it.
const BREACH_CPU: f64 = 95.0;
const CALM_CPU: f64 = 10.0;
/// `--rules`: a threshold no cpu_percent reaches, so the rules judge but never fire.
const NEVER_CPU: f64 = 1000.0;
const RULES_PATH: &str = "/api/v1/alert-rules";
const ALERT_STREAM_PATH: &str = "/api/v1/demo/alerts/stream";

/// What the bench does once its hosts are registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Every worker sends metric reports back to back
    Metrics,
    /// Every worker sends heartbeats back to back
    Heartbeats,
    /// Each agent heartbeats, reports metrics and ships logs on its own schedule
    Mixed,
    /// Measures the delay between a host's heartbeat deadline and the dashboard saying so
    Offline,
    /// Registers --agents hosts as fast as possible, then reports the server's RSS
    Hosts,
    /// Time from a breaching report's 201 to its alert on the live stream
    Alerts,
    /// Time from an alert's `alert` event on the live stream to 5 webhook receivers
    /// getting its notification, and the dispatcher's message rate
    Notify,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Metrics => "metrics",
            Mode::Heartbeats => "heartbeats",
            Mode::Mixed => "mixed",
            Mode::Offline => "offline",
            Mode::Hosts => "hosts",
            Mode::Alerts => "alerts",
            Mode::Notify => "notify",
        })
    }
}

/// `warden bench`: load a running server and print figures.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Base URL of the server (plain HTTP)
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    pub url: String,
    /// Simulated hosts (at most 20 are used in offline mode, 50 in alerts mode); in notify
    /// mode as many alerts are in flight at once
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub agents: u32,
    /// Concurrent in-flight requests, one worker task each
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Seconds of the measured phase, after a 2 s warm-up
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub duration: u64,
    /// What to measure
    #[arg(long, value_enum, default_value_t = Mode::Metrics)]
    pub mode: Mode,
    /// mixed: seconds between two heartbeats of one agent
    #[arg(long, default_value_t = 1.0, value_parser = parse_interval)]
    pub heartbeat_every: f64,
    /// mixed: seconds between two metric reports of one agent
    #[arg(long, default_value_t = 1.0, value_parser = parse_interval)]
    pub metrics_every: f64,
    /// mixed: seconds between two log batches of one agent
    #[arg(long, default_value_t = 5.0, value_parser = parse_interval)]
    pub logs_every: f64,
    /// mixed: log lines per batch
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub log_batch: u32,
    /// offline: heartbeat_timeout (seconds) set for the measurement, restored afterwards
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub offline_timeout: u64,
    /// metrics: alert rules (cpu_percent > 1000, never firing) created before the warm-up
    /// and deleted afterwards, so every sample is judged by that many more rules
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=MAX_RULES))]
    pub rules: u32,
    /// notify: alerts to fire (each host breaches again once its alert is back)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub alerts: u32,
    /// Admin account used (and registered if the server has none)
    #[arg(long, default_value = "bench-admin@example.com")]
    pub admin_email: String,
    /// Password of that account
    #[arg(long, default_value = "bench-password-123")]
    pub admin_password: String,
    /// Server process for the RSS figure; looked up by name (`warden`) in /proc if absent
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// Runs the bench described by `args` and prints its report on stdout.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let schedule = Schedule::from_args(&args)?;
    ensure!(args.agents >= 1 && args.connections >= 1, "--agents and --connections must be >= 1");
    ensure!(args.duration >= 1, "--duration must be >= 1");
    ensure!(
        args.rules == 0 || args.mode == Mode::Metrics,
        "--rules applies to the metrics mode only"
    );
    println!(
        "warden bench: mode={} agents={} connections={} duration={}s url={}",
        args.mode, args.agents, args.connections, args.duration, args.url
    );
    let server = ServerProcess::locate(args.server_pid);
    let connections = to_usize(args.connections);
    let api = Api::new(&args.url, connections)?;
    let tokens = setup(&api, &args).await?;
    let ctx = Arc::new(Ctx {
        api,
        agent: tokens.agent,
        samples_per_worker: (MAX_SAMPLES / connections).max(MIN_SAMPLES_PER_WORKER),
        seed: uuid::Uuid::new_v4().as_u128() as u64,
    });
    let run_id: String = uuid::Uuid::new_v4().simple().to_string().chars().take(8).collect();
    let agents = to_usize(args.agents);
    match args.mode {
        Mode::Metrics | Mode::Heartbeats => {
            let kind = if args.mode == Mode::Metrics { Kind::Metrics } else { Kind::Heartbeat };
            let hosts = register_for_load(&ctx, &run_id, agents, connections).await?;
            if args.rules == 0 {
                run_flood(&ctx, kind, &hosts, connections, args.duration).await?;
            } else {
                let rules = to_usize(args.rules);
                run_flood_with_rules(
                    &ctx,
                    &tokens.admin,
                    rules,
                    &hosts,
                    connections,
                    args.duration,
                )
                .await?;
            }
        }
        Mode::Mixed => {
            let hosts = register_for_load(&ctx, &run_id, agents, connections).await?;
            run_mixed(&ctx, &hosts, agents, connections, args.duration, schedule).await?;
        }
        Mode::Offline => {
            let hosts = agents.min(OFFLINE_MAX_HOSTS);
            run_offline(&ctx, &tokens.admin, &run_id, hosts, args.offline_timeout).await?;
        }
        Mode::Hosts => return run_hosts(&ctx, &run_id, agents, connections, &server).await,
        Mode::Alerts => {
            let hosts = agents.min(ALERTS_MAX_HOSTS);
            run_alerts(&ctx, &tokens.admin, &run_id, hosts, connections, args.duration).await?;
        }
        Mode::Notify => {
            let alerts = to_usize(args.alerts);
            notify::run(&ctx, &tokens.admin, &run_id, agents, connections, alerts).await?;
        }
    }
    println!("{}", server.rss_line());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Arguments

/// Parses a positive number of seconds; `Duration` conversion panics on NaN or negatives.
fn parse_interval(text: &str) -> Result<f64, String> {
    let secs: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?;
    if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 {
        Ok(secs)
    } else {
        Err(format!("`{text}` must be between 0 (exclusive) and 86400 seconds"))
    }
}

fn interval(flag: &str, secs: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow!("--{flag}: {secs} is not a positive number of seconds"))
}

/// The `mixed` mode's per-agent schedule.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    heartbeat: Duration,
    metrics: Duration,
    logs: Duration,
    log_batch: u32,
}

impl Schedule {
    fn from_args(args: &BenchArgs) -> anyhow::Result<Self> {
        ensure!(args.log_batch >= 1, "--log-batch must be >= 1");
        Ok(Self {
            heartbeat: interval("heartbeat-every", args.heartbeat_every)?,
            metrics: interval("metrics-every", args.metrics_every)?,
            logs: interval("logs-every", args.logs_every)?,
            log_batch: args.log_batch,
        })
    }

    fn every(&self, kind: Kind) -> Duration {
        match kind {
            Kind::Heartbeat => self.heartbeat,
            Kind::Metrics => self.metrics,
            // Registration is not scheduled; a long period keeps it out of the way.
            Kind::Logs | Kind::Register => self.logs,
        }
    }
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

// ---------------------------------------------------------------------------------------
// HTTP

/// A server response, body read in full so the connection goes back to the pool.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    body: String,
}

impl Reply {
    fn describe(&self) -> String {
        format!("HTTP {}: {}", self.status, snippet(&self.body))
    }

    fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("response is not JSON: {}", snippet(&self.body)))
    }

    fn str_field(&self, key: &str) -> anyhow::Result<String> {
        self.json()?
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no string `{key}` in {}", snippet(&self.body)))
    }
}

#[derive(Debug, Clone)]
struct Api {
    client: Client,
    base: String,
}

impl Api {
    fn new(url: &str, connections: usize) -> anyhow::Result<Self> {
        let parsed = Url::parse(url).with_context(|| format!("--url {url}"))?;
        ensure!(parsed.scheme() == "http", "--url {url}: only plain http:// is supported");
        let client = Client::builder()
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .context("build the HTTP client")?;
        Ok(Self { client, base: url.trim_end_matches('/').to_owned() })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        body: Option<&Value>,
    ) -> Result<Reply, reqwest::Error> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if !bearer.is_empty() {
            request = request.bearer_auth(bearer);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        Ok(Reply { status, body })
    }

    /// A POST whose non-2xx answers and transport failures both become an error message.
    async fn post(&self, path: &str, bearer: &str, body: &Value) -> Result<Reply, String> {
        match self.call(Method::POST, path, bearer, Some(body)).await {
            Ok(reply) if reply.status.is_success() => Ok(reply),
            Ok(reply) => Err(reply.describe()),
            Err(err) => Err(error_chain(&err)),
        }
    }
}

/// reqwest's own message hides the cause ("error sending request"); the chain names it.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn snippet(text: &str) -> String {
    let flat: String =
        text.chars().take(SNIPPET_CHARS).map(|c| if c == '\n' { ' ' } else { c }).collect();
    if text.chars().count() > SNIPPET_CHARS {
        format!("{flat}…")
    } else {
        flat
    }
}

// ---------------------------------------------------------------------------------------
// Setup

struct Tokens {
    admin: String,
    agent: String,
}

async fn setup(api: &Api, args: &BenchArgs) -> anyhow::Result<Tokens> {
    let admin = admin_token(api, &args.admin_email, &args.admin_password).await?;
    let agent = agent_token(api, &admin).await?;
    Ok(Tokens { admin, agent })
}

/// Registers the bench admin, or logs in when it exists or registration is closed.
async fn admin_token(api: &Api, email: &str, password: &str) -> anyhow::Result<String> {
    let body = json!({"email": email, "name": "bench", "password": password});
    let reply = api
        .call(Method::POST, "/api/v1/auth/register", "", Some(&body))
        .await
        .with_context(|| format!("POST {}/api/v1/auth/register", api.base))?;
    match reply.status {
        StatusCode::CREATED => return reply.str_field("access_token"),
        StatusCode::CONFLICT | StatusCode::FORBIDDEN => {}
        _ => bail!("register the bench admin {email}: {}", reply.describe()),
    }
    let body = json!({"email": email, "password": password});
    let reply = api
        .call(Method::POST, "/api/v1/auth/login", "", Some(&body))
        .await
        .with_context(|| format!("POST {}/api/v1/auth/login", api.base))?;
    ensure!(reply.status == StatusCode::OK, "log in as {email}: {}", reply.describe());
    reply.str_field("access_token")
}

async fn agent_token(api: &Api, admin: &str) -> anyhow::Result<String> {
    let body = json!({"name": format!("bench-{}", uuid::Uuid::new_v4())});
    let reply = api
        .call(Method::POST, "/api/v1/agent-tokens", admin, Some(&body))
        .await
        .with_context(|| format!("POST {}/api/v1/agent-tokens", api.base))?;
    ensure!(
        reply.status == StatusCode::CREATED,
        "create an agent token (the bench user must be an admin): {}",
        reply.describe()
    );
    reply.str_field("token")
}

async fn get_setting(api: &Api, admin: &str, key: &str) -> anyhow::Result<String> {
    let reply = api
        .call(Method::GET, "/api/v1/settings", admin, None)
        .await
        .context("GET /api/v1/settings")?;
    ensure!(reply.status.is_success(), "read settings: {}", reply.describe());
    reply
        .json()?
        .get(key)
        .and_then(|s| s.get("value"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no `{key}.value` in the settings"))
}

async fn put_setting(api: &Api, admin: &str, key: &str, value: &str) -> anyhow::Result<()> {
    let body = json!({ key: value });
    let reply = api
        .call(Method::PUT, "/api/v1/settings", admin, Some(&body))
        .await
        .context("PUT /api/v1/settings")?;
    ensure!(reply.status.is_success(), "set {key}={value}: {}", reply.describe());
    Ok(())
}

/// `--rules`: rule `index` of the never-firing load rules.
fn load_rule_body(index: usize) -> Value {
    json!({
        "name": format!("bench-rule-{index}"),
        "rule_type": "metric",
        "metric": "cpu_percent",
        "operator": ">",
        "threshold": NEVER_CPU,
        "duration_seconds": 0,
    })
}

/// `alerts`: fires at once on every breach and again on the next one after a resolve.
fn fire_rule_body(run_id: &str) -> Value {
    json!({
        "name": format!("bench-fire-{run_id}"),
        "rule_type": "metric",
        "metric": "cpu_percent",
        "operator": ">",
        "threshold": 90,
        "duration_seconds": 0,
        "cooldown_seconds": 0,
    })
}

/// Creates an alert rule; returns its id.
async fn create_rule(api: &Api, admin: &str, body: &Value) -> anyhow::Result<i64> {
    let reply = api
        .call(Method::POST, RULES_PATH, admin, Some(body))
        .await
        .with_context(|| format!("POST {}{RULES_PATH}", api.base))?;
    ensure!(
        reply.status == StatusCode::CREATED,
        "create alert rule {}: {}",
        body["name"],
        reply.describe()
    );
    reply
        .json()?
        .get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| anyhow!("no integer `id` in {}", snippet(&reply.body)))
}

/// Creates the rules `bodies` describe, pushing each id as it comes so a caller that stops
/// this early still knows what to delete.
async fn create_rules(
    api: &Api,
    admin: &str,
    bodies: impl Iterator<Item = Value>,
    ids: &mut Vec<i64>,
) -> anyhow::Result<()> {
    for body in bodies {
        ids.push(create_rule(api, admin, &body).await?);
    }
    Ok(())
}

/// Deletes every rule of `ids` (one already gone counts as deleted); errors name them all.
async fn delete_rules(api: &Api, admin: &str, ids: &[i64]) -> anyhow::Result<()> {
    delete_all(api, admin, RULES_PATH, "alert rule", ids).await
}

/// Deletes `{collection}/{id}` for every id; errors name them all.
async fn delete_all(
    api: &Api,
    admin: &str,
    collection: &str,
    what: &str,
    ids: &[i64],
) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for &id in ids {
        let path = format!("{collection}/{id}");
        match api.call(Method::DELETE, &path, admin, None).await {
            Ok(reply) if matches!(reply.status, StatusCode::NO_CONTENT | StatusCode::NOT_FOUND) => {
            }
            Ok(reply) => failed.push(format!("{id} ({})", reply.describe())),
            Err(err) => failed.push(format!("{id} ({})", error_chain(&err))),
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    let total = failed.len();
    failed.truncate(MAX_ERROR_SAMPLES);
    bail!("could not delete {total} {what}(s): {}", failed.join(", "))
}

/// Deletes the run's rules whatever `outcome` is; a deletion failure after a failed run is
/// printed so it does not hide the run's own error.
async fn finish_with_rules(
    api: &Api,
    admin: &str,
    ids: &[i64],
    outcome: anyhow::Result<()>,
) -> anyhow::Result<()> {
    let deleted = delete_rules(api, admin, ids).await;
    after_cleanup(outcome, deleted)
}

/// The run's outcome after its cleanup: the run's own error wins, a cleanup error after it
/// is printed.
fn after_cleanup(outcome: anyhow::Result<()>, cleanup: anyhow::Result<()>) -> anyhow::Result<()> {
    match (outcome, cleanup) {
        (Ok(()), cleanup) => cleanup,
        (Err(err), cleanup) => {
            if let Err(cleanup_err) = cleanup {
                eprintln!("warden bench: {cleanup_err:#}");
            }
            Err(err)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Statistics

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Register,
    Heartbeat,
    Metrics,
    Logs,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Register, Kind::Heartbeat, Kind::Metrics, Kind::Logs];

    fn label(self) -> &'static str {
        match self {
            Kind::Register => "register",
            Kind::Heartbeat => "heartbeats",
            Kind::Metrics => "metrics",
            Kind::Logs => "logs",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Register => "/api/v1/agent/register",
            Kind::Heartbeat => "/api/v1/agent/heartbeat",
            Kind::Metrics => "/api/v1/agent/metrics",
            Kind::Logs => "/api/v1/agent/logs",
        }
    }
}

/// Latencies in microseconds, reservoir-sampled past `cap` so memory stays bounded.
#[derive(Debug)]
struct Samples {
    cap: usize,
    seen: u64,
    values: Vec<u32>,
}

impl Samples {
    fn new(cap: usize) -> Self {
        Self { cap, seen: 0, values: Vec::new() }
    }

    fn record(&mut self, micros: u32, rng: &mut StdRng) {
        self.seen += 1;
        if self.values.len() < self.cap {
            self.values.push(micros);
        } else if let Ok(slot) = usize::try_from(rng.gen_range(0..self.seen)) {
            if let Some(value) = self.values.get_mut(slot) {
                *value = micros;
            }
        }
    }
}

#[derive(Debug)]
struct KindStats {
    ok: u64,
    errors: u64,
    latencies: Samples,
}

/// Counters of one worker, merged into one at the end so workers never contend.
#[derive(Debug)]
struct Stats {
    kinds: [KindStats; 4],
    errors: Vec<String>,
    log_lines: u64,
    /// mixed mode: how late a scheduled request went out, the sign the client fell behind.
    max_lag: Duration,
    rng: StdRng,
}

impl Stats {
    fn new(cap: usize, seed: u64) -> Self {
        let kind = || KindStats { ok: 0, errors: 0, latencies: Samples::new(cap) };
        Self {
            kinds: [kind(), kind(), kind(), kind()],
            errors: Vec::new(),
            log_lines: 0,
            max_lag: Duration::ZERO,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn record<T>(&mut self, kind: Kind, outcome: &Result<T, String>, latency: Duration) {
        let slot = &mut self.kinds[kind as usize];
        match outcome {
            Ok(_) => {
                slot.ok += 1;
                slot.latencies.record(micros(latency), &mut self.rng);
            }
            Err(message) => {
                slot.errors += 1;
                self.note_error(format!("{}: {message}", kind.label()));
            }
        }
    }

    fn note_error(&mut self, message: String) {
        if self.errors.len() < MAX_ERROR_SAMPLES && !self.errors.contains(&message) {
            self.errors.push(message);
        }
    }

    fn merge(&mut self, other: Stats) {
        for (mine, theirs) in self.kinds.iter_mut().zip(other.kinds) {
            mine.ok += theirs.ok;
            mine.errors += theirs.errors;
            mine.latencies.seen += theirs.latencies.seen;
            mine.latencies.values.extend(theirs.latencies.values);
        }
        for message in other.errors {
            self.note_error(message);
        }
        self.log_lines += other.log_lines;
        self.max_lag = self.max_lag.max(other.max_lag);
    }

    /// One line per kind that saw traffic, rates over `elapsed`, then the first errors.
    fn report(&mut self, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let mut out = String::new();
        for kind in Kind::ALL {
            let slot = &mut self.kinds[kind as usize];
            if slot.ok + slot.errors == 0 {
                continue;
            }
            slot.latencies.values.sort_unstable();
            let sorted = &slot.latencies.values;
            let (ok, errors) = (slot.ok, slot.errors);
            let rate = ok as f64 / secs;
            let word = if kind == Kind::Metrics { "committed" } else { "ok" };
            let extra = if kind == Kind::Logs {
                format!(", {:.1} lines/s", self.log_lines as f64 / secs)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{:<11} {word} {ok} ({rate:.1}/s{extra})  p50 {}  p99 {}  errors {errors}\n",
                kind.label(),
                fmt_latency(percentile(sorted, 50.0)),
                fmt_latency(percentile(sorted, 99.0)),
            ));
        }
        if !self.errors.is_empty() {
            out.push_str("first errors:\n");
            for message in &self.errors {
                out.push_str(&format!("  {message}\n"));
            }
        }
        out
    }
}

fn micros(latency: Duration) -> u32 {
    u32::try_from(latency.as_micros()).unwrap_or(u32::MAX)
}

/// Nearest-rank percentile of ascending `sorted`; `None` when there is no sample.
fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p.clamp(0.0, 100.0) / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1).min(sorted.len() - 1)).copied()
}

fn fmt_latency(micros: Option<u32>) -> String {
    match micros {
        None => "-".to_owned(),
        Some(us) if us < 1_000 => format!("{:.2} ms", f64::from(us) / 1000.0),
        Some(us) => format!("{:.1} ms", f64::from(us) / 1000.0),
    }
}

async fn join_stats(handles: Vec<JoinHandle<Stats>>) -> anyhow::Result<Stats> {
    let mut total = Stats::new(0, 0);
    for handle in handles {
        total.merge(handle.await.context("a bench worker panicked")?);
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------
// Agent requests

/// What every worker shares.
struct Ctx {
    api: Api,
    /// The agent token every simulated host authenticates with.
    agent: String,
    samples_per_worker: usize,
    seed: u64,
}

impl Ctx {
    fn worker_seed(&self, worker: usize) -> u64 {
        self.seed.wrapping_add((worker as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// A host registered by this run: its index (for naming and spreading) and server id.
#[derive(Debug, Clone, Copy)]
struct Host {
    index: usize,
    id: i64,
}

fn register_body(run_id: &str, index: usize) -> Value {
    let [_, a, b, c] = u32::try_from(index).unwrap_or(u32::MAX).to_be_bytes();
    json!({
        "hostname": format!("bench-{run_id}-{index}"),
        "ip_address": format!("10.{a}.{b}.{c}"),
        "os": "Linux",
        "os_version": "6.1",
        "arch": "x86_64",
        "cpu_cores": 4,
        "memory_total_mb": 8192,
        "agent_version": "bench",
        "tags": {"bench": true},
    })
}

fn metrics_body(host: i64, rng: &mut StdRng) -> Value {
    let mut pct = || (rng.gen_range(0.0..100.0_f64) * 100.0).round() / 100.0;
    json!({
        "host_id": host,
        "cpu_percent": pct(),
        "memory_percent": pct(),
        "disk_percent": pct(),
        "cpu_load_1": pct() / 25.0,
        "memory_used_mb": pct(),
        "net_send_rate_kb": pct(),
        "net_recv_rate_kb": pct(),
    })
}

fn logs_body(host: i64, lines: u32) -> Value {
    let timestamp = SystemClock.now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let logs: Vec<Value> = (0..lines)
        .map(|n| {
            // One line in ten is an error so level-filtered paths see traffic too.
            let level = if n % 10 == 9 { "ERROR" } else { "INFO" };
            json!({
                "host_id": host,
                "service": "bench",
                "level": level,
                "message": format!("bench line {n} from host {host}"),
                "timestamp": timestamp,
            })
        })
        .collect();
    json!({ "logs": logs })
}

fn host_id(reply: &Reply) -> Result<i64, String> {
    serde_json::from_str::<Value>(&reply.body)
        .ok()
        .and_then(|v| v.get("host_id").and_then(Value::as_i64))
        .ok_or_else(|| format!("no host_id in {}", snippet(&reply.body)))
}

/// Sends one heartbeat, metric report or log batch; counts it if it ends inside `window`.
/// Returns whether it succeeded.
async fn send_load(
    ctx: &Ctx,
    kind: Kind,
    host: i64,
    log_batch: u32,
    stats: &mut Stats,
    window: Window,
) -> bool {
    let body = match kind {
        Kind::Heartbeat => json!({ "host_id": host }),
        Kind::Metrics => metrics_body(host, &mut stats.rng),
        Kind::Logs => logs_body(host, log_batch),
        Kind::Register => return false,
    };
    let started = Instant::now();
    let outcome = ctx.api.post(kind.path(), &ctx.agent, &body).await;
    let done = Instant::now();
    if window.contains(done) {
        stats.record(kind, &outcome, done - started);
        if kind == Kind::Logs && outcome.is_ok() {
            stats.log_lines += u64::from(log_batch);
        }
    }
    outcome.is_ok()
}

/// The measured phase: requests completing in `start..end` count.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn after_warm_up(duration: Duration) -> Self {
        let start = Instant::now() + WARM_UP;
        Self { start, end: start + duration }
    }

    fn contains(&self, at: Instant) -> bool {
        at >= self.start && at < self.end
    }

    fn length(&self) -> Duration {
        self.end - self.start
    }
}

/// Indices of the hosts worker `worker` of `workers` drives; with more workers than hosts,
/// workers share hosts so every connection stays busy.
fn assign(worker: usize, workers: usize, hosts: usize) -> Vec<usize> {
    if hosts == 0 {
        return Vec::new();
    }
    let mine: Vec<usize> = (worker..hosts).step_by(workers.max(1)).collect();
    if mine.is_empty() {
        vec![worker % hosts]
    } else {
        mine
    }
}

// ---------------------------------------------------------------------------------------
// Registration

/// Registers hosts `0..count` with `concurrency` workers pulling the next index from a shared
/// counter, so one slow request never leaves the others idle.
async fn register_hosts(
    ctx: &Arc<Ctx>,
    run_id: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<(Vec<Host>, Stats, Duration)> {
    let next = Arc::new(AtomicUsize::new(0));
    let run_id: Arc<str> = Arc::from(run_id);
    let started = Instant::now();
    let handles: Vec<_> = (0..concurrency.min(count).max(1))
        .map(|worker| {
            let (ctx, next, run_id) = (Arc::clone(ctx), Arc::clone(&next), Arc::clone(&run_id));
            tokio::spawn(async move {
                let mut stats = Stats::new(ctx.samples_per_worker, ctx.worker_seed(worker));
                let mut hosts = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        break;
                    }
                    if let Some(id) = register_one(&ctx, &run_id, index, &mut stats).await {
                        hosts.push(Host { index, id });
                    }
                }
                (hosts, stats)
            })
        })
        .collect();
    let mut hosts = Vec::with_capacity(count);
    let mut stats = Stats::new(0, 0);
    for handle in handles {
        let (mine, theirs) = handle.await.context("a registration worker panicked")?;
        hosts.extend(mine);
        stats.merge(theirs);
    }
    hosts.sort_unstable_by_key(|h| h.index);
    Ok((hosts, stats, started.elapsed()))
}

async fn register_one(ctx: &Ctx, run_id: &str, index: usize, stats: &mut Stats) -> Option<i64> {
    let body = register_body(run_id, index);
    for attempt in 0..=REGISTER_RETRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        }
        let started = Instant::now();
        let outcome = ctx
            .api
            .post(Kind::Register.path(), &ctx.agent, &body)
            .await
            .and_then(|reply| host_id(&reply));
        stats.record(Kind::Register, &outcome, started.elapsed());
        if let Ok(id) = outcome {
            return Some(id);
        }
    }
    None
}

/// Registers the hosts a load mode drives and prints the registration line.
async fn register_for_load(
    ctx: &Arc<Ctx>,
    run_id: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Host>> {
    let (hosts, mut stats, elapsed) = register_hosts(ctx, run_id, count, concurrency).await?;
    print!("{}", stats.report(elapsed));
    ensure!(!hosts.is_empty(), "no host could be registered");
    if hosts.len() < count {
        println!("warning: only {} of {count} hosts registered", hosts.len());
    }
    Ok(hosts)
}

// ---------------------------------------------------------------------------------------
// Modes

/// `metrics` / `heartbeats`: every worker sends `kind` back to back.
async fn run_flood(
    ctx: &Arc<Ctx>,
    kind: Kind,
    hosts: &[Host],
    workers: usize,
    duration: u64,
) -> anyhow::Result<()> {
    let window = Window::after_warm_up(Duration::from_secs(duration));
    let handles = (0..workers)
        .map(|worker| {
            let mine: Vec<i64> = assign(worker, workers, hosts.len())
                .into_iter()
                .filter_map(|i| hosts.get(i).map(|h| h.id))
                .collect();
            tokio::spawn(flood_worker(Arc::clone(ctx), kind, mine, window, worker))
        })
        .collect();
    let mut stats = join_stats(handles).await?;
    print!("{}", stats.report(window.length()));
    Ok(())
}

/// `metrics --rules N`: the flood with N never-firing rules in place, deleted afterwards
/// whatever happens (Ctrl-C included) so they do not keep judging real hosts' samples.
async fn run_flood_with_rules(
    ctx: &Arc<Ctx>,
    admin: &str,
    rules: usize,
    hosts: &[Host],
    workers: usize,
    duration: u64,
) -> anyhow::Result<()> {
    let mut ids = Vec::with_capacity(rules);
    let outcome = tokio::select! {
        result = async {
            create_rules(&ctx.api, admin, (0..rules).map(load_rule_body), &mut ids).await?;
            println!("rules       {rules} metric rules judging every sample");
            run_flood(ctx, Kind::Metrics, hosts, workers, duration).await
        } => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    finish_with_rules(&ctx.api, admin, &ids, outcome).await
}

async fn flood_worker(
    ctx: Arc<Ctx>,
    kind: Kind,
    hosts: Vec<i64>,
    window: Window,
    worker: usize,
) -> Stats {
    let mut stats = Stats::new(ctx.samples_per_worker, ctx.worker_seed(worker));
    for &host in hosts.iter().cycle() {
        if Instant::now() >= window.end {
            break;
        }
        if !send_load(&ctx, kind, host, 1, &mut stats, window).await {
            tokio::time::sleep(ERROR_PAUSE).await;
        }
    }
    stats
}

/// `mixed`: each agent heartbeats, reports and ships logs on its schedule.
async fn run_mixed(
    ctx: &Arc<Ctx>,
    hosts: &[Host],
    agents: usize,
    workers: usize,
    duration: u64,
    schedule: Schedule,
) -> anyhow::Result<()> {
    let window = Window::after_warm_up(Duration::from_secs(duration));
    let workers = workers.min(hosts.len()).max(1);
    let handles = (0..workers)
        .map(|worker| {
            // Agents are never shared here: sharing would double their schedule.
            let mine: Vec<Host> = (worker..hosts.len())
                .step_by(workers)
                .filter_map(|i| hosts.get(i).copied())
                .collect();
            let task = mixed_worker(Arc::clone(ctx), mine, agents, schedule, window, worker);
            tokio::spawn(task)
        })
        .collect();
    let mut stats = join_stats(handles).await?;
    let n = hosts.len() as f64;
    let per_sec = |every: Duration| n / every.as_secs_f64();
    println!(
        "target      heartbeats {:.1}/s  metrics {:.1}/s  logs {:.1} batches/s ({} lines each)",
        per_sec(schedule.heartbeat),
        per_sec(schedule.metrics),
        per_sec(schedule.logs),
        schedule.log_batch,
    );
    print!("{}", stats.report(window.length()));
    println!(
        "schedule    max lag {:.1} ms (how late a request left; large means the load fell behind)",
        stats.max_lag.as_secs_f64() * 1000.0
    );
    Ok(())
}

async fn mixed_worker(
    ctx: Arc<Ctx>,
    hosts: Vec<Host>,
    agents: usize,
    schedule: Schedule,
    window: Window,
    worker: usize,
) -> Stats {
    let mut stats = Stats::new(ctx.samples_per_worker, ctx.worker_seed(worker));
    let begin = Instant::now();
    let mut queue = BinaryHeap::new();
    for host in &hosts {
        for kind in [Kind::Heartbeat, Kind::Metrics, Kind::Logs] {
            // Spread first sends over one period so agents do not fire in lock-step.
            let phase = host.index as f64 / agents.max(1) as f64;
            queue.push(Reverse((begin + schedule.every(kind).mul_f64(phase), kind, host.id)));
        }
    }
    while let Some(Reverse((due, kind, host))) = queue.pop() {
        if due >= window.end {
            break;
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        let now = Instant::now();
        if window.contains(now) {
            stats.max_lag = stats.max_lag.max(now - due);
        }
        send_load(&ctx, kind, host, schedule.log_batch, &mut stats, window).await;
        queue.push(Reverse((due + schedule.every(kind), kind, host)));
    }
    stats
}

/// `hosts`: registration throughput, then what the registered hosts cost in server memory.
async fn run_hosts(
    ctx: &Arc<Ctx>,
    run_id: &str,
    count: usize,
    concurrency: usize,
    server: &ServerProcess,
) -> anyhow::Result<()> {
    let before = server.rss_kib();
    let (hosts, mut stats, elapsed) = register_hosts(ctx, run_id, count, concurrency).await?;
    print!("{}", stats.report(elapsed));
    println!("registered  {} of {count} hosts in {:.1} s", hosts.len(), elapsed.as_secs_f64());
    // Let the server finish work queued behind the last responses before sampling memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib();
    println!("{}", server.rss_line());
    match (before, after, hosts.len()) {
        (Some(before), Some(after), n) if n > 0 => {
            let n_f = n as f64;
            println!(
                "RSS/host    {:.2} KiB (RSS / {n} hosts), {:.2} KiB growth per host (from {})",
                after as f64 / n_f,
                after.saturating_sub(before) as f64 / n_f,
                fmt_mib(before),
            );
        }
        _ => println!("RSS/host    unknown"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Offline detection

/// A dashboard frame's offline host count and when it arrived.
#[derive(Debug, Clone, Copy)]
struct Frame {
    at: Instant,
    offline: u64,
}

fn parse_offline(text: &str) -> Option<u64> {
    let value: Value = serde_json::from_str(text).ok()?;
    value.get("hosts")?.get("offline")?.as_u64()
}

/// The dashboard WebSocket, read by a task that stamps each frame on arrival, so frames
/// are timed correctly even while the bench is busy sending heartbeats.
struct Dashboard {
    frames: mpsc::UnboundedReceiver<Frame>,
    reader: JoinHandle<()>,
}

impl Dashboard {
    async fn open(base: &str, admin: &str) -> anyhow::Result<Self> {
        let mut url = Url::parse(&format!("{base}/api/v1/ws/dashboard"))
            .with_context(|| format!("dashboard URL from {base}"))?;
        url.set_scheme("ws").map_err(|()| anyhow!("cannot make a ws:// URL from {base}"))?;
        url.query_pairs_mut().append_pair("token", admin);
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .with_context(|| format!("connect to the dashboard WebSocket at {base}"))?;
        let (sender, frames) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            while let Some(message) = socket.next().await {
                let at = Instant::now();
                match message {
                    Ok(Message::Text(text)) => {
                        if let Some(offline) = parse_offline(text.as_str()) {
                            if sender.send(Frame { at, offline }).is_err() {
                                break;
                            }
                        }
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        });
        Ok(Self { frames, reader })
    }

    /// The next frame, or `None` when the socket closed or `deadline` passed.
    async fn next_before(&mut self, deadline: Instant) -> Option<Frame> {
        let deadline = tokio::time::Instant::from_std(deadline);
        tokio::time::timeout_at(deadline, self.frames.recv()).await.ok().flatten()
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// What the dashboard frames say about the bench hosts going offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OfflineAnalysis {
    baseline: u64,
    peak: u64,
    /// First frame after the heartbeats stopped with more offline hosts than the baseline.
    first_increase: Option<Instant>,
    /// First frame showing the peak count.
    peak_at: Option<Instant>,
}

impl OfflineAnalysis {
    fn detected(&self) -> u64 {
        self.peak.saturating_sub(self.baseline)
    }
}

/// The baseline is the count when the heartbeats stopped, lowered by later frames until the
/// first increase, because frames for hosts coming online may still be in flight then.
fn analyse_offline(frames: &[Frame], heartbeats_done: Instant) -> OfflineAnalysis {
    let mut baseline = 0;
    let mut analysis = OfflineAnalysis { baseline, peak: 0, first_increase: None, peak_at: None };
    for frame in frames {
        if frame.at < heartbeats_done {
            baseline = frame.offline;
        } else if analysis.first_increase.is_none() {
            if frame.offline > baseline {
                analysis.first_increase = Some(frame.at);
                analysis.peak = frame.offline;
                analysis.peak_at = Some(frame.at);
            } else {
                baseline = frame.offline;
            }
        } else if frame.offline > analysis.peak {
            analysis.peak = frame.offline;
            analysis.peak_at = Some(frame.at);
        }
    }
    analysis.baseline = baseline;
    if analysis.first_increase.is_none() {
        analysis.peak = baseline;
    }
    analysis
}

/// `at - reference` in milliseconds, negative when `at` came first.
fn signed_ms(at: Instant, reference: Instant) -> f64 {
    match at.checked_duration_since(reference) {
        Some(after) => after.as_secs_f64() * 1000.0,
        None => -(reference - at).as_secs_f64() * 1000.0,
    }
}

/// `offline`: shortens heartbeat_timeout, restores it whatever happens (Ctrl-C included),
/// since leaving it at a few seconds would mark every real host offline.
async fn run_offline(
    ctx: &Arc<Ctx>,
    admin: &str,
    run_id: &str,
    hosts: usize,
    timeout: u64,
) -> anyhow::Result<()> {
    const KEY: &str = "heartbeat_timeout";
    let api = &ctx.api;
    let old = get_setting(api, admin, KEY).await?;
    put_setting(api, admin, KEY, &timeout.to_string()).await?;
    let outcome = tokio::select! {
        result = measure_offline(ctx, admin, run_id, hosts, timeout) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    let restored = put_setting(api, admin, KEY, &old).await;
    match (outcome, restored) {
        (Ok(()), Ok(())) => {
            println!("restored    {KEY} = {old}");
            Ok(())
        }
        (Ok(()), Err(err)) => Err(err.context(format!("restore {KEY} to {old}"))),
        (Err(err), restored) => {
            if let Err(restore_err) = restored {
                eprintln!("warden bench: could not restore {KEY} to {old}: {restore_err:#}");
            }
            Err(err)
        }
    }
}

async fn measure_offline(
    ctx: &Arc<Ctx>,
    admin: &str,
    run_id: &str,
    count: usize,
    timeout: u64,
) -> anyhow::Result<()> {
    let (hosts, mut stats, elapsed) = register_hosts(ctx, run_id, count, count).await?;
    print!("{}", stats.report(elapsed));
    ensure!(hosts.len() == count, "only {} of {count} hosts registered", hosts.len());
    let mut dashboard = Dashboard::open(&ctx.api.base, admin).await?;
    let first = dashboard
        .next_before(Instant::now() + FIRST_FRAME_WAIT)
        .await
        .ok_or_else(|| anyhow!("no dashboard frame within {FIRST_FRAME_WAIT:?} of connecting"))?;
    let mut frames = vec![first];

    let last_beats = heartbeat_once(ctx, &hosts).await?;
    let heartbeats_done = Instant::now();
    let timeout = Duration::from_secs(timeout);
    let (Some(&earliest), Some(&latest)) = (last_beats.iter().min(), last_beats.iter().max())
    else {
        bail!("no heartbeat was sent");
    };
    let (earliest, latest) = (earliest + timeout, latest + timeout);

    let expected = hosts.len() as u64;
    let give_up = heartbeats_done + timeout * 3 + Duration::from_secs(10);
    while analyse_offline(&frames, heartbeats_done).detected() < expected {
        match dashboard.next_before(give_up).await {
            Some(frame) => frames.push(frame),
            None => break,
        }
    }
    let result = analyse_offline(&frames, heartbeats_done);
    println!(
        "offline     detected {}/{expected} hosts (offline {} -> {}), timeout {} s, {} frames",
        result.detected().min(expected),
        result.baseline,
        result.peak,
        timeout.as_secs(),
        frames.len(),
    );
    match (result.first_increase, result.peak_at) {
        (Some(first), Some(peak)) => println!(
            "offline     first {:.0} ms after the earliest deadline, last {:.0} ms after the \
             latest deadline (deadlines spread {:.0} ms)",
            signed_ms(first, earliest),
            signed_ms(peak, latest),
            signed_ms(latest, earliest),
        ),
        _ => println!("offline     no increase seen before giving up"),
    }
    if result.detected() > expected {
        println!("note        other hosts went offline too; the figures may be early");
    }
    Ok(())
}

/// One heartbeat per host, all at once; returns each 2xx response's arrival instant.
async fn heartbeat_once(ctx: &Arc<Ctx>, hosts: &[Host]) -> anyhow::Result<Vec<Instant>> {
    let handles: Vec<_> = hosts
        .iter()
        .map(|host| {
            let (ctx, id) = (Arc::clone(ctx), host.id);
            tokio::spawn(async move {
                let body = json!({ "host_id": id });
                ctx.api.post(Kind::Heartbeat.path(), &ctx.agent, &body).await?;
                Ok::<_, String>(Instant::now())
            })
        })
        .collect();
    let mut beats = Vec::with_capacity(handles.len());
    for handle in handles {
        let beat = handle.await.context("a heartbeat task panicked")?;
        beats.push(beat.map_err(|message| anyhow!("heartbeat failed: {message}"))?);
    }
    Ok(beats)
}

// ---------------------------------------------------------------------------------------
// Alert latency

/// Incremental `text/event-stream` parser: bytes in, complete `(event, data)` pairs out.
/// Lines end with LF or CRLF (what axum sends); comments (keep-alives) and blocks without
/// data are skipped, and an event without a name is a `message`, as the SSE spec says.
#[derive(Debug, Default)]
struct SseParser {
    /// Bytes after the last complete line: a chunk may end mid-line or mid-character.
    pending: Vec<u8>,
    event: String,
    data: String,
}

impl SseParser {
    fn feed(&mut self, chunk: &[u8]) -> Vec<(String, String)> {
        let mut pending = std::mem::take(&mut self.pending);
        pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(offset) = pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            let line = String::from_utf8_lossy(&pending[start..end]);
            self.line(line.strip_suffix('\r').unwrap_or(&line), &mut out);
            start = end + 1;
        }
        pending.drain(..start);
        self.pending = pending;
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<(String, String)>) {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let mut data = std::mem::take(&mut self.data);
            if !data.is_empty() {
                data.pop(); // the newline after the last data line
                let event = if event.is_empty() { "message".to_owned() } else { event };
                out.push((event, data));
            }
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            _ => {}
        }
    }
}

/// The host of an `alert` event fired by rule `rule`; other events, other rules' alerts
/// (the built-in ones) and alerts without a host are `None`.
fn alert_host(event: &str, data: &str, rule: i64) -> Option<i64> {
    if event != "alert" {
        return None;
    }
    let value: Value = serde_json::from_str(data).ok()?;
    match value.get("rule_id").and_then(Value::as_i64) {
        Some(other) if other != rule => None,
        _ => value.get("host_id")?.as_i64(),
    }
}

/// The public alert stream, read by a task that stamps each chunk on arrival and passes
/// that instant to the task of the host the alert is about.
struct AlertStream {
    reader: JoinHandle<()>,
}

impl AlertStream {
    /// Connects and waits for the `connected` event: alerts fired before it are not sent.
    /// `route` gets every event with the instant its chunk arrived.
    async fn open(
        base: &str,
        mut route: impl FnMut(&str, &str, Instant) + Send + 'static,
    ) -> anyhow::Result<Self> {
        let url = format!("{base}{ALERT_STREAM_PATH}");
        // Not the shared client: its 30 s timeout covers reading the whole (endless) body.
        let client = Client::builder()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .context("build the HTTP client for the alert stream")?;
        let mut response = client
            .get(&url)
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        ensure!(response.status() == StatusCode::OK, "GET {url}: HTTP {}", response.status());
        let mut parser = SseParser::default();
        let deadline = tokio::time::Instant::now() + FIRST_FRAME_WAIT;
        let mut connected = false;
        while !connected {
            let chunk = tokio::time::timeout_at(deadline, response.chunk())
                .await
                .map_err(|_| anyhow!("no `connected` event within {FIRST_FRAME_WAIT:?} on {url}"))?
                .with_context(|| format!("read {url}"))?
                .ok_or_else(|| anyhow!("{url} ended before its `connected` event"))?;
            let at = Instant::now();
            for (event, data) in parser.feed(&chunk) {
                connected |= event == "connected";
                route(&event, &data, at);
            }
        }
        let reader = tokio::spawn(async move {
            // Ends on error or end of stream; dropping `route` then tells every host task.
            while let Ok(Some(chunk)) = response.chunk().await {
                let at = Instant::now();
                for (event, data) in parser.feed(&chunk) {
                    route(&event, &data, at);
                }
            }
        });
        Ok(Self { reader })
    }
}

impl Drop for AlertStream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn route_alert(hosts: &AlertSenders, event: &str, data: &str, rule: i64, at: Instant) {
    if let Some(sender) = alert_host(event, data, rule).and_then(|host| hosts.get(&host)) {
        // A host task that has finished no longer listens; nothing to do then.
        sender.send(at).ok();
    }
}

/// What the host tasks of the `alerts` mode measured, merged into one at the end.
#[derive(Debug, Default)]
struct AlertTally {
    /// Microseconds from a breaching report's 201 to its alert arriving on the stream.
    latencies: Vec<u32>,
    /// Breaches whose alert did not arrive within `ALERT_WAIT`.
    missed: u64,
    /// Failed requests, and the stream closing.
    errors: u64,
    first_errors: Vec<String>,
}

impl AlertTally {
    fn note_error(&mut self, message: String) {
        self.errors += 1;
        if self.first_errors.len() < MAX_ERROR_SAMPLES && !self.first_errors.contains(&message) {
            self.first_errors.push(message);
        }
    }

    fn merge(&mut self, other: AlertTally) {
        self.latencies.extend(other.latencies);
        self.missed += other.missed;
        self.errors += other.errors;
        for message in other.first_errors {
            if self.first_errors.len() < MAX_ERROR_SAMPLES && !self.first_errors.contains(&message)
            {
                self.first_errors.push(message);
            }
        }
    }

    fn report(&mut self) -> String {
        self.latencies.sort_unstable();
        let sorted = &self.latencies;
        let mut out = format!(
            "fired       {} alerts  p50 {}  p99 {}  max {}  missed {}\n",
            sorted.len(),
            fmt_latency(percentile(sorted, 50.0)),
            fmt_latency(percentile(sorted, 99.0)),
            fmt_latency(sorted.last().copied()),
            self.missed,
        );
        if self.errors > 0 {
            out.push_str(&format!("errors      {}\nfirst errors:\n", self.errors));
            for message in &self.first_errors {
                out.push_str(&format!("  {message}\n"));
            }
        }
        out
    }
}

/// `alerts`: creates the firing rule, measures, and deletes the rule whatever happens
/// (Ctrl-C included); deleting it also resolves any alert it left open.
async fn run_alerts(
    ctx: &Arc<Ctx>,
    admin: &str,
    run_id: &str,
    hosts: usize,
    connections: usize,
    duration: u64,
) -> anyhow::Result<()> {
    let mut ids = Vec::with_capacity(1);
    let outcome = tokio::select! {
        result = async {
            create_rules(&ctx.api, admin, std::iter::once(fire_rule_body(run_id)), &mut ids)
                .await?;
            let rule = *ids.first().ok_or_else(|| anyhow!("no alert rule was created"))?;
            measure_alerts(ctx, rule, run_id, hosts, connections, duration).await
        } => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    finish_with_rules(&ctx.api, admin, &ids, outcome).await
}

async fn measure_alerts(
    ctx: &Arc<Ctx>,
    rule: i64,
    run_id: &str,
    count: usize,
    connections: usize,
    duration: u64,
) -> anyhow::Result<()> {
    let hosts = register_for_load(ctx, run_id, count, connections).await?;
    let (senders, receivers) = alert_channels(&hosts);
    let _stream = AlertStream::open(&ctx.api.base, move |event: &str, data: &str, at| {
        route_alert(&senders, event, data, rule, at)
    })
    .await?;
    let window = Window::after_warm_up(Duration::from_secs(duration));
    let handles: Vec<_> = receivers
        .into_iter()
        .map(|(host, alerts)| tokio::spawn(alert_worker(Arc::clone(ctx), host, alerts, window)))
        .collect();
    let mut tally = AlertTally::default();
    for handle in handles {
        tally.merge(handle.await.context("an alert host task panicked")?);
    }
    print!("{}", tally.report());
    Ok(())
}

/// Alert instants are routed to per-host channels.
type AlertSenders = HashMap<i64, mpsc::UnboundedSender<Instant>>;
type AlertReceivers = Vec<(i64, mpsc::UnboundedReceiver<Instant>)>;

/// One channel per host, for the stream reader to pass each host its alerts.
fn alert_channels(hosts: &[Host]) -> (AlertSenders, AlertReceivers) {
    hosts
        .iter()
        .map(|host| {
            let (sender, receiver) = mpsc::unbounded_channel();
            ((host.id, sender), (host.id, receiver))
        })
        .unzip()
}

/// One host: breach, wait for its alert, resolve, pause, until the window ends. Breaches
/// whose 201 arrives inside the window count.
async fn alert_worker(
    ctx: Arc<Ctx>,
    host: i64,
    mut alerts: mpsc::UnboundedReceiver<Instant>,
    window: Window,
) -> AlertTally {
    let mut tally = AlertTally::default();
    while Instant::now() < window.end {
        match breach_cycle(&ctx, host, &mut alerts).await {
            Cycle::Fired { committed, at } if window.contains(committed) => {
                // Saturating: the alert may be on the stream before the 201 is read.
                tally.latencies.push(micros(at.saturating_duration_since(committed)));
            }
            Cycle::Missed { committed } if window.contains(committed) => tally.missed += 1,
            Cycle::Fired { .. } | Cycle::Missed { .. } => {}
            Cycle::Failed(message) => tally.note_error(message),
            Cycle::Closed => {
                tally.note_error("the alert stream closed".to_owned());
                break;
            }
        }
    }
    tally
}

/// What one breach of a host led to.
enum Cycle {
    /// The breach committed at `committed` and its alert reached the stream at `at`.
    Fired { committed: Instant, at: Instant },
    /// No alert within `ALERT_WAIT`.
    Missed { committed: Instant },
    /// A report failed; the message says why.
    Failed(String),
    /// The alert stream ended.
    Closed,
}

/// Breaches `host`'s CPU rule, waits for the alert on the stream, resolves it and pauses so
/// the rule has seen the resolve before the next breach.
async fn breach_cycle(
    ctx: &Ctx,
    host: i64,
    alerts: &mut mpsc::UnboundedReceiver<Instant>,
) -> Cycle {
    let path = Kind::Metrics.path();
    // An alert that arrived after its wait gave up must not be taken for this one.
    while alerts.try_recv().is_ok() {}
    let breach = json!({"host_id": host, "cpu_percent": BREACH_CPU});
    if let Err(message) = ctx.api.post(path, &ctx.agent, &breach).await {
        tokio::time::sleep(ERROR_PAUSE).await;
        return Cycle::Failed(format!("breach: {message}"));
    }
    let committed = Instant::now();
    let cycle = match tokio::time::timeout(ALERT_WAIT, alerts.recv()).await {
        Ok(Some(at)) => Cycle::Fired { committed, at },
        Ok(None) => return Cycle::Closed,
        Err(_) => Cycle::Missed { committed },
    };
    let calm = json!({"host_id": host, "cpu_percent": CALM_CPU});
    let cycle = match ctx.api.post(path, &ctx.agent, &calm).await {
        Ok(_) => cycle,
        Err(message) => Cycle::Failed(format!("resolve: {message}")),
    };
    tokio::time::sleep(RESOLVE_PAUSE).await;
    cycle
}

// ---------------------------------------------------------------------------------------
// Server memory

/// The server process whose VmRSS is reported.
#[derive(Debug)]
struct ServerProcess {
    pid: Option<u32>,
    /// Why `pid` is absent, or a warning when the name matched several processes.
    note: Option<String>,
}

impl ServerProcess {
    fn locate(explicit: Option<u32>) -> Self {
        if let Some(pid) = explicit {
            return Self { pid: Some(pid), note: None };
        }
        let own = std::process::id();
        let mut candidates: Vec<u32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != own && is_warden(pid))
            .collect();
        candidates.sort_unstable();
        // The server is the warden process holding the most memory; a second bench holds little.
        let pid = candidates.iter().copied().max_by_key(|&pid| read_rss_kib(pid).unwrap_or(0));
        let note = match candidates.len() {
            0 => Some("no other process named warden; pass --server-pid".to_owned()),
            1 => None,
            n => Some(format!("{n} processes named warden, took the largest; see --server-pid")),
        };
        Self { pid, note }
    }

    fn rss_kib(&self) -> Option<u64> {
        self.pid.and_then(read_rss_kib)
    }

    fn rss_line(&self) -> String {
        let note = self.note.as_deref().map(|n| format!("; {n}")).unwrap_or_default();
        match (self.pid, self.rss_kib()) {
            (Some(pid), Some(kib)) => format!("server RSS  {} (pid {pid}{note})", fmt_mib(kib)),
            (Some(pid), None) => format!("server RSS  unknown (cannot read /proc/{pid}/status)"),
            (None, _) => format!("server RSS  unknown ({})", note.trim_start_matches("; ")),
        }
    }
}

fn is_warden(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "warden")
}

fn read_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss_kib(&status)
}

/// The `VmRSS:  123456 kB` line of /proc/<pid>/status, in KiB.
fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn fmt_mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(argv: &[&str]) -> Result<BenchArgs, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("bench").chain(argv.iter().copied()))
            .map(|w| w.args)
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let data: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&data, 50.0), Some(50));
        assert_eq!(percentile(&data, 99.0), Some(99));
        assert_eq!(percentile(&data, 100.0), Some(100));
        assert_eq!(percentile(&data, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn latency_formatting() {
        assert_eq!(fmt_latency(Some(2_100)), "2.1 ms");
        assert_eq!(fmt_latency(Some(250)), "0.25 ms");
        assert_eq!(fmt_latency(None), "-");
    }

    #[test]
    fn samples_stay_bounded() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut samples = Samples::new(100);
        for n in 0..10_000 {
            samples.record(n, &mut rng);
        }
        assert_eq!(samples.values.len(), 100);
        assert_eq!(samples.seen, 10_000);
        // A uniform sample of 0..10000 has later values in it, not only the first 100.
        assert!(samples.values.iter().any(|&v| v >= 100));
    }

    #[test]
    fn stats_count_and_report() {
        let mut stats = Stats::new(10, 1);
        stats.record(Kind::Metrics, &Ok::<_, String>(()), Duration::from_millis(2));
        stats.record(Kind::Metrics, &Err::<(), _>("HTTP 500: boom".to_owned()), Duration::ZERO);
        stats.record(Kind::Metrics, &Err::<(), _>("HTTP 500: boom".to_owned()), Duration::ZERO);
        let mut total = Stats::new(0, 0);
        total.merge(stats);
        assert_eq!(total.kinds[Kind::Metrics as usize].ok, 1);
        assert_eq!(total.kinds[Kind::Metrics as usize].errors, 2);
        assert_eq!(total.errors, ["metrics: HTTP 500: boom"]);
        let report = total.report(Duration::from_secs(1));
        assert!(report.contains("metrics     committed 1 (1.0/s)  p50 2.0 ms"), "{report}");
        assert!(!report.contains("heartbeats"), "{report}");
    }

    #[test]
    fn vm_rss_is_read_from_proc_status() {
        let status = "Name:\twarden\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t  300000 kB\n\
                      VmRSS:\t  126380 kB\nRssAnon:\t  100000 kB\nThreads:\t9\n";
        assert_eq!(parse_vm_rss_kib(status), Some(126_380));
        assert_eq!(parse_vm_rss_kib("Name:\tkthreadd\nThreads:\t1\n"), None);
        assert_eq!(fmt_mib(126_380), "123.4 MiB");
    }

    #[test]
    fn mode_parses_from_its_name() {
        assert_eq!(Mode::from_str("mixed", false), Ok(Mode::Mixed));
        assert_eq!(Mode::from_str("hosts", false), Ok(Mode::Hosts));
        assert!(Mode::from_str("bogus", false).is_err());
        for mode in Mode::value_variants() {
            assert_eq!(Mode::from_str(&mode.to_string(), false).as_ref(), Ok(mode));
        }
    }

    #[test]
    fn args_have_defaults_and_reject_nonsense() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.url, "http://127.0.0.1:8001");
        assert_eq!((args.agents, args.connections, args.duration), (64, 64, 20));
        assert_eq!(args.mode, Mode::Metrics);
        assert_eq!((args.heartbeat_every, args.metrics_every, args.logs_every), (1.0, 1.0, 5.0));
        assert_eq!((args.log_batch, args.offline_timeout, args.rules), (20, 3, 0));
        assert_eq!(args.server_pid, None);
        let args = parse(&["--rules", "250"]).unwrap();
        assert_eq!((args.mode, args.rules), (Mode::Metrics, 250));
        assert!(parse(&["--rules", "10001"]).is_err());
        assert!(parse(&["--rules", "-1"]).is_err());
        assert_eq!(parse(&["--mode", "alerts"]).unwrap().mode, Mode::Alerts);
        let args = parse(&["--mode", "offline", "--offline-timeout", "5"]).unwrap();
        assert_eq!((args.mode, args.offline_timeout), (Mode::Offline, 5));
        assert!(parse(&["--mode", "fast"]).is_err());
        assert!(parse(&["--connections", "0"]).is_err());
        assert!(parse(&["--offline-timeout", "0"]).is_err());
        assert!(parse(&["--heartbeat-every", "0"]).is_err());
        assert!(parse(&["--heartbeat-every", "NaN"]).is_err());
        assert_eq!(parse(&["--logs-every", "0.5"]).unwrap().logs_every, 0.5);
    }

    #[test]
    fn hosts_are_spread_over_workers() {
        assert_eq!(assign(0, 4, 10), [0, 4, 8]);
        assert_eq!(assign(3, 4, 10), [3, 7]);
        // More workers than hosts: workers share rather than idle.
        assert_eq!(assign(5, 8, 3), [2]);
        assert!(assign(0, 4, 0).is_empty());
    }

    #[test]
    fn register_body_names_and_addresses() {
        let body = register_body("abcd1234", 70_000);
        assert_eq!(body["hostname"], "bench-abcd1234-70000");
        assert_eq!(body["ip_address"], "10.1.17.112");
        assert_eq!(register_body("r", 5)["ip_address"], "10.0.0.5");
        assert_eq!(body["tags"]["bench"], true);
    }

    #[test]
    fn bodies_have_the_agent_shape() {
        let mut rng = StdRng::seed_from_u64(3);
        let metrics = metrics_body(7, &mut rng);
        assert_eq!(metrics["host_id"], 7);
        let cpu = metrics["cpu_percent"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&cpu));
        let logs = logs_body(7, 20);
        let lines = logs["logs"].as_array().unwrap();
        assert_eq!(lines.len(), 20);
        assert_eq!(lines.iter().filter(|l| l["level"] == "ERROR").count(), 2);
        assert!(
            chrono::DateTime::parse_from_rfc3339(lines[0]["timestamp"].as_str().unwrap()).is_ok()
        );
    }

    #[test]
    fn dashboard_frame_offline_count() {
        let frame =
            r#"{"timestamp":"t","hosts":{"total":5,"online":3,"offline":2},"health_score":9}"#;
        assert_eq!(parse_offline(frame), Some(2));
        assert_eq!(parse_offline(r#"{"hosts":{}}"#), None);
        assert_eq!(parse_offline("not json"), None);
    }

    #[test]
    fn offline_analysis_follows_the_count() {
        let t0 = Instant::now();
        let frame = |ms: u64, offline: u64| Frame { at: t0 + Duration::from_millis(ms), offline };
        let done = t0 + Duration::from_millis(100);
        // Hosts came online (5 -> 2) partly after the heartbeats stopped, then 3 timed out.
        let frames = [frame(0, 5), frame(50, 4), frame(120, 2), frame(3_100, 3), frame(3_300, 5)];
        let result = analyse_offline(&frames, done);
        assert_eq!((result.baseline, result.peak, result.detected()), (2, 5, 3));
        assert_eq!(result.first_increase, Some(t0 + Duration::from_millis(3_100)));
        assert_eq!(result.peak_at, Some(t0 + Duration::from_millis(3_300)));

        let quiet = analyse_offline(&[frame(0, 1), frame(200, 1)], done);
        assert_eq!((quiet.detected(), quiet.first_increase), (0, None));
    }

    #[test]
    fn signed_ms_is_negative_before_the_reference() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_millis(250);
        assert!((signed_ms(later, t0) - 250.0).abs() < 1e-6);
        assert!((signed_ms(t0, later) + 250.0).abs() < 1e-6);
    }

    #[test]
    fn snippets_are_short_and_flat() {
        assert_eq!(snippet("a\nb"), "a b");
        let long = "x".repeat(500);
        assert_eq!(snippet(&long).chars().count(), SNIPPET_CHARS + 1);
    }

    #[test]
    fn intervals_must_be_positive() {
        assert_eq!(parse_interval("2.5"), Ok(2.5));
        assert!(parse_interval("-1").is_err());
        assert!(parse_interval("inf").is_err());
        assert!(interval("x", 0.0).is_err());
        assert_eq!(interval("x", 0.25).unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn rule_bodies() {
        let load = load_rule_body(12);
        assert_eq!(load["name"], "bench-rule-12");
        assert_eq!(
            (&load["rule_type"], &load["metric"]),
            (&json!("metric"), &json!("cpu_percent"))
        );
        assert_eq!((&load["operator"], load["threshold"].as_f64()), (&json!(">"), Some(1000.0)));
        assert_eq!(load["duration_seconds"], 0);
        let fire = fire_rule_body("abcd1234");
        assert_eq!(fire["name"], "bench-fire-abcd1234");
        assert_eq!(fire["threshold"].as_f64(), Some(90.0));
        assert_eq!((&fire["duration_seconds"], &fire["cooldown_seconds"]), (&json!(0), &json!(0)));
        const { assert!(BREACH_CPU > 90.0 && CALM_CPU <= 90.0) };
    }

    fn feed_all(parser: &mut SseParser, chunks: &[&[u8]]) -> Vec<(String, String)> {
        chunks.iter().flat_map(|chunk| parser.feed(chunk)).collect()
    }

    #[test]
    fn sse_events_survive_any_chunking() {
        let alert = "event: alert\ndata: {\"alert_id\":4,\"rule_id\":7,\"title\":\"CPU 使用率\",\
                     \"host_id\":3}\n\n";
        let stream = format!(
            "event: connected\ndata: {{\"status\":\"connected\"}}\n\n:keepalive\n\n{alert}"
        );
        let expected = [
            ("connected".to_owned(), r#"{"status":"connected"}"#.to_owned()),
            (
                "alert".to_owned(),
                r#"{"alert_id":4,"rule_id":7,"title":"CPU 使用率","host_id":3}"#.to_owned(),
            ),
        ];
        let bytes = stream.as_bytes();
        // Every split point: mid-field, mid-line, between "\n" and "\n", inside a UTF-8 char.
        for split in 0..=bytes.len() {
            let mut parser = SseParser::default();
            let (a, b) = bytes.split_at(split);
            assert_eq!(feed_all(&mut parser, &[a, b]), expected, "split at {split}");
            assert!(parser.pending.is_empty() && parser.data.is_empty());
        }
        let mut parser = SseParser::default();
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(feed_all(&mut parser, &one_by_one), expected);
    }

    #[test]
    fn sse_block_split_across_chunks_and_keep_alives() {
        let mut parser = SseParser::default();
        assert!(parser.feed(b"event: alert\ndata: {\"host_id\"").is_empty());
        assert!(parser.feed(b":1}\n").is_empty(), "no blank line yet");
        let events = parser.feed(b"\n: keepalive\n\n:keepalive\n\n");
        assert_eq!(events, [("alert".to_owned(), r#"{"host_id":1}"#.to_owned())]);
        // CRLF lines, a nameless event, two data lines, no space after the colon, an
        // unknown field, and a name without data that is dropped.
        let events =
            parser.feed(b"data:a\r\ndata: b\r\nid: 9\r\n\r\nevent: x\n\nevent: y\ndata\n\n");
        assert_eq!(
            events,
            [("message".to_owned(), "a\nb".to_owned()), ("y".to_owned(), String::new())]
        );
    }

    #[test]
    fn alert_events_map_to_their_host() {
        let data = r#"{"alert_id":4,"rule_id":7,"title":"t","host_id":3,"metric_value":95.0}"#;
        assert_eq!(alert_host("alert", data, 7), Some(3));
        assert_eq!(alert_host("alert", data, 8), None, "another rule's alert");
        assert_eq!(alert_host("connected", data, 7), None);
        assert_eq!(alert_host("alert", r#"{"alert_id":4,"title":"t","host_id":5}"#, 7), Some(5));
        assert_eq!(alert_host("alert", r#"{"alert_id":4,"rule_id":7,"host_id":null}"#, 7), None);
        assert_eq!(alert_host("alert", "not json", 7), None);
    }

    #[test]
    fn alert_tally_reports_latencies_and_misses() {
        let mut first =
            AlertTally { latencies: vec![3_000, 1_000], missed: 1, ..Default::default() };
        let mut second = AlertTally { latencies: vec![2_000, 40_000], ..Default::default() };
        second.note_error("breach: HTTP 500: boom".to_owned());
        second.note_error("breach: HTTP 500: boom".to_owned());
        first.merge(second);
        let report = first.report();
        assert!(
            report.starts_with(
                "fired       4 alerts  p50 2.0 ms  p99 40.0 ms  max 40.0 ms  missed 1\n"
            ),
            "{report}"
        );
        assert!(report.contains("errors      2\nfirst errors:\n  breach: HTTP 500: boom\n"));
        let empty = AlertTally::default().report();
        assert_eq!(empty, "fired       0 alerts  p50 -  p99 -  max -  missed 0\n");
    }
}
