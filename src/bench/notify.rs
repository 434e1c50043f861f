//! `notify`: the bench serves webhook receivers on loopback, creates 5 webhook channels
//! and a rule that fires at once and notifies all of them, then lets `--agents` hosts
//! breach it until `--alerts` alerts have fired. Each firing notification's latency is the
//! instant a receiver got it minus the instant the alert's `alert` event reached the live
//! stream; the rate is every message the receivers got over the time from the first alert
//! to the last message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context};
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{
    after_cleanup, alert_channels, breach_cycle, create_rules, delete_all, fire_rule_body,
    fmt_latency, micros, percentile, register_for_load, route_alert, AlertStream, Ctx, Cycle,
    MAX_ERROR_SAMPLES, RULES_PATH,
};

const CHANNELS: usize = 5;
const CHANNELS_PATH: &str = "/api/v1/notification-channels";
/// How long the bench waits for the last notifications once every alert has fired.
const DRAIN_WAIT: Duration = Duration::from_secs(30);

/// One message a receiver got.
#[derive(Debug, Clone)]
struct Received {
    channel: usize,
    alert_id: Option<i64>,
    status: Option<String>,
    at: Instant,
}

/// What the receivers and the stream saw, shared with their tasks.
#[derive(Debug, Default)]
struct Seen {
    received: Vec<Received>,
    /// Alert id → the instant its `alert` event arrived on the stream.
    fired: HashMap<i64, Instant>,
}

type Shared = Arc<Mutex<Seen>>;

fn lock(seen: &Shared) -> MutexGuard<'_, Seen> {
    // A panicked holder leaves plain data behind; the figures are still readable.
    seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn receive(
    State(seen): State<Shared>,
    Path(channel): Path<usize>,
    Json(body): Json<Value>,
) -> &'static str {
    let at = Instant::now();
    lock(&seen).received.push(Received {
        channel,
        alert_id: body.get("alert_id").and_then(Value::as_i64),
        status: body.get("status").and_then(Value::as_str).map(str::to_owned),
        at,
    });
    "ok"
}

/// Serves `POST /hook/{channel}` on an ephemeral loopback port; returns its base URL.
async fn start_receiver(seen: Shared) -> anyhow::Result<(String, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("bind the webhook receiver on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/hook/{channel}", post(receive)).with_state(seen);
    let task = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            eprintln!("warden bench: webhook receiver stopped: {err}");
        }
    });
    Ok((format!("http://{addr}"), task))
}

async fn create_channel(ctx: &Ctx, admin: &str, name: &str, url: String) -> anyhow::Result<i64> {
    let body = json!({"name": name, "channel_type": "webhook", "config": {"url": url}});
    let reply = ctx
        .api
        .call(Method::POST, CHANNELS_PATH, admin, Some(&body))
        .await
        .with_context(|| format!("POST {CHANNELS_PATH}"))?;
    ensure!(
        reply.status == StatusCode::CREATED,
        "create notification channel {name}: {}",
        reply.describe()
    );
    reply.json()?.get("id").and_then(Value::as_i64).ok_or_else(|| anyhow!("no channel id"))
}

/// Runs the mode and removes its rule and channels whatever happens (Ctrl-C included).
pub(super) async fn run(
    ctx: &Arc<Ctx>,
    admin: &str,
    run_id: &str,
    hosts: usize,
    connections: usize,
    alerts: usize,
) -> anyhow::Result<()> {
    let seen = Shared::default();
    let (base, receiver) = start_receiver(Arc::clone(&seen)).await?;
    let mut channels = Vec::with_capacity(CHANNELS);
    let mut rules = Vec::with_capacity(1);
    let outcome = tokio::select! {
        result = async {
            for n in 0..CHANNELS {
                let name = format!("bench-notify-{run_id}-{n}");
                channels.push(create_channel(ctx, admin, &name, format!("{base}/hook/{n}")).await?);
            }
            let mut rule = fire_rule_body(run_id);
            rule["notification_channel_ids"] = json!(channels);
            create_rules(&ctx.api, admin, std::iter::once(rule), &mut rules).await?;
            let rule = *rules.first().ok_or_else(|| anyhow!("no alert rule was created"))?;
            measure(ctx, &seen, rule, run_id, hosts, connections, alerts).await
        } => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    let rules_deleted = delete_all(&ctx.api, admin, RULES_PATH, "alert rule", &rules).await;
    let channels_deleted =
        delete_all(&ctx.api, admin, CHANNELS_PATH, "notification channel", &channels).await;
    receiver.abort();
    after_cleanup(after_cleanup(outcome, rules_deleted), channels_deleted)
}

async fn measure(
    ctx: &Arc<Ctx>,
    seen: &Shared,
    rule: i64,
    run_id: &str,
    count: usize,
    connections: usize,
    alerts: usize,
) -> anyhow::Result<()> {
    let hosts = register_for_load(ctx, run_id, count, connections).await?;
    let (senders, receivers) = alert_channels(&hosts);
    let stream_seen = Arc::clone(seen);
    let _stream = AlertStream::open(&ctx.api.base, move |event: &str, data: &str, at| {
        if let Some(alert) = fired_alert(event, data, rule) {
            lock(&stream_seen).fired.entry(alert).or_insert(at);
        }
        route_alert(&senders, event, data, rule, at);
    })
    .await?;
    let claimed = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = receivers
        .into_iter()
        .map(|(host, events)| {
            tokio::spawn(host_task(Arc::clone(ctx), host, events, Arc::clone(&claimed), alerts))
        })
        .collect();
    let mut tally = HostTally::default();
    for handle in handles {
        let host = handle.await.context("a notify host task panicked")?;
        tally.missed += host.missed;
        tally.errors.extend(host.errors);
    }
    let expected = lock(seen).fired.len() * CHANNELS;
    let deadline = Instant::now() + DRAIN_WAIT;
    while firing_received(&lock(seen)) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = std::mem::take(&mut *lock(seen));
    print!("{}", report(&seen, &tally));
    Ok(())
}

/// One host: breaches again each time its alert is back, while alerts remain to be fired.
async fn host_task(
    ctx: Arc<Ctx>,
    host: i64,
    mut events: mpsc::UnboundedReceiver<Instant>,
    claimed: Arc<AtomicUsize>,
    alerts: usize,
) -> HostTally {
    let mut tally = HostTally::default();
    while claimed.fetch_add(1, Ordering::Relaxed) < alerts {
        match breach_cycle(&ctx, host, &mut events).await {
            Cycle::Fired { .. } => {}
            Cycle::Missed { .. } => tally.missed += 1,
            Cycle::Failed(message) => tally.errors.push(message),
            Cycle::Closed => {
                tally.errors.push("the alert stream closed".to_owned());
                break;
            }
        }
    }
    tally
}

/// The alert id of an `alert` event fired by `rule`.
fn fired_alert(event: &str, data: &str, rule: i64) -> Option<i64> {
    if event != "alert" {
        return None;
    }
    let value: Value = serde_json::from_str(data).ok()?;
    if value.get("rule_id").and_then(Value::as_i64) != Some(rule) {
        return None;
    }
    value.get("alert_id")?.as_i64()
}

/// The firing notifications of alerts seen on the stream (resolutions are not timed).
fn timed<'a>(seen: &'a Seen) -> impl Iterator<Item = (&'a Received, Instant)> + 'a {
    seen.received.iter().filter(|m| m.status.as_deref() == Some("firing")).filter_map(|m| {
        let fired = seen.fired.get(&m.alert_id?)?;
        Some((m, *fired))
    })
}

fn firing_received(seen: &Seen) -> usize {
    timed(seen).count()
}

#[derive(Debug, Default)]
struct HostTally {
    missed: u64,
    errors: Vec<String>,
}

fn report(seen: &Seen, tally: &HostTally) -> String {
    let mut latencies = Vec::new();
    let mut per_channel = [0usize; CHANNELS];
    for (message, fired) in timed(seen) {
        // Saturating: the webhook may beat the stream client to the alert.
        latencies.push(micros(message.at.saturating_duration_since(fired)));
        if let Some(count) = per_channel.get_mut(message.channel) {
            *count += 1;
        }
    }
    latencies.sort_unstable();
    let first = seen.fired.values().min().copied();
    let last = seen.received.iter().map(|m| m.at).max();
    let rate = match (first, last) {
        (Some(first), Some(last)) if last > first => {
            seen.received.len() as f64 / last.duration_since(first).as_secs_f64()
        }
        _ => 0.0,
    };
    let mut out = format!(
        "alerts      {} fired on the stream, {} missed\n\
         notified    {} of {} firing messages  p50 {}  p99 {}  max {}\n\
         dispatcher  {} messages in all (resolutions included), {:.0} messages/s\n\
         per channel {}\n",
        seen.fired.len(),
        tally.missed,
        latencies.len(),
        seen.fired.len() * CHANNELS,
        fmt_latency(percentile(&latencies, 50.0)),
        fmt_latency(percentile(&latencies, 99.0)),
        fmt_latency(latencies.last().copied()),
        seen.received.len(),
        rate,
        per_channel.iter().map(usize::to_string).collect::<Vec<_>>().join(" "),
    );
    if !tally.errors.is_empty() {
        out.push_str(&format!("errors      {}\nfirst errors:\n", tally.errors.len()));
        for message in tally.errors.iter().take(MAX_ERROR_SAMPLES) {
            out.push_str(&format!("  {message}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(channel: usize, alert: i64, status: &str, at: Instant) -> Received {
        Received { channel, alert_id: Some(alert), status: Some(status.to_owned()), at }
    }

    #[test]
    fn fired_alerts_are_those_of_the_rule() {
        let data = r#"{"alert_id": 7, "rule_id": 3, "host_id": 1}"#;
        assert_eq!(fired_alert("alert", data, 3), Some(7));
        assert_eq!(fired_alert("alert", data, 4), None);
        assert_eq!(fired_alert("connected", data, 3), None);
        assert_eq!(fired_alert("alert", "not json", 3), None);
    }

    #[test]
    fn report_times_firing_messages_from_the_stream() {
        let t0 = Instant::now();
        let mut seen = Seen::default();
        seen.fired.insert(1, t0);
        seen.received.push(message(0, 1, "firing", t0 + Duration::from_millis(2)));
        seen.received.push(message(1, 1, "firing", t0 + Duration::from_millis(4)));
        seen.received.push(message(1, 1, "resolved", t0 + Duration::from_millis(9)));
        seen.received.push(message(2, 99, "firing", t0 + Duration::from_millis(9)));
        assert_eq!(firing_received(&seen), 2);
        let text = report(&seen, &HostTally::default());
        assert!(
            text.contains("notified    2 of 5 firing messages  p50 2.0 ms  p99 4.0 ms"),
            "{text}"
        );
        assert!(text.contains("4 messages in all"), "{text}");
        assert!(text.contains("per channel 1 1 0 0 0"), "{text}");
    }
}
