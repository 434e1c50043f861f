//! Warden's own metrics in the Prometheus text exposition format 0.0.4
//! (`shared/PROTOCOLS.md` §10): request counts and latency histograms per route and
//! status, process start time and build information.
//!
//! Written by hand because the format is small and exact: the `prometheus-client`
//! crate emits OpenMetrics, whose counter TYPE lines omit `_total`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// LLM latency buckets: a model answers in seconds, not milliseconds.
const LLM_BUCKETS: [f64; 12] = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0];

impl Histogram {
    fn observe(&mut self, secs: f64) {
        self.observe_in(&BUCKETS, secs);
    }

    /// The cumulative buckets, sum and count of one labelled series.
    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64; 12]) {
        for (bound, n) in bounds.iter().zip(self.buckets.iter()) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }

    fn observe_in(&mut self, bounds: &[f64; 12], secs: f64) {
        for (i, bound) in bounds.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

#[derive(Debug, Default)]
struct Series {
    /// (method, route, status) → count
    requests: BTreeMap<(String, String, u16), u64>,
    /// (method, route) → latency
    latency: BTreeMap<(String, String), Histogram>,
}

/// Request counters and latency histograms.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    series: Mutex<Series>,
}

impl HttpMetrics {
    /// Records one answered request. `route` is the matched route template (bounded
    /// cardinality), never the raw path.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut s = self.series.lock().expect("metrics mutex is never poisoned");
        *s.requests.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        s.latency
            .entry((method.to_string(), route.to_string()))
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text.
    pub fn render(&self, version: &str, start_time_secs: f64) -> String {
        let s = self.series.lock().expect("metrics mutex is never poisoned");
        let mut out = String::with_capacity(4096);
        family(&mut out, "warden_build_info", "gauge", "Build information; the value is always 1.");
        let _ = writeln!(out, "warden_build_info{{version=\"{}\"}} 1", escape(version));
        family(
            &mut out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
        );
        let _ = writeln!(out, "process_start_time_seconds {start_time_secs}");

        family(
            &mut out,
            "warden_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route and status.",
        );
        for ((method, route, status), n) in &s.requests {
            let _ = writeln!(
                out,
                "warden_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }

        family(
            &mut out,
            "warden_http_request_duration_seconds",
            "histogram",
            "HTTP request latency, by method and route.",
        );
        for ((method, route), h) in &s.latency {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            h.render(&mut out, "warden_http_request_duration_seconds", &labels, &BUCKETS);
        }
        out
    }
}

/// Notification outcomes by channel type (`warden_notifications_sent_total`).
#[derive(Debug, Default)]
pub struct NotifyMetrics {
    /// (channel type, delivered) → count
    counts: Mutex<BTreeMap<(String, bool), u64>>,
}

impl NotifyMetrics {
    pub fn record(&self, channel: &str, delivered: bool) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *c.entry((channel.to_string(), delivered)).or_default() += 1;
    }

    /// Appends the family to an exposition.
    pub fn render(&self, out: &mut String) {
        let c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        family(
            out,
            "warden_notifications_sent_total",
            "counter",
            "Notifications finished, by channel type and result.",
        );
        for ((channel, delivered), n) in c.iter() {
            let result = if *delivered { "ok" } else { "failed" };
            let _ = writeln!(
                out,
                "warden_notifications_sent_total{{channel=\"{}\",result=\"{result}\"}} {n}",
                escape(channel)
            );
        }
    }
}

/// LLM requests, tokens and latency by provider.
#[derive(Debug, Default)]
pub struct LlmMetrics {
    series: Mutex<BTreeMap<String, LlmSeries>>,
}

#[derive(Debug, Default)]
struct LlmSeries {
    ok: u64,
    failed: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    latency: Histogram,
}

impl LlmMetrics {
    pub fn record(
        &self,
        provider: &str,
        ok: bool,
        elapsed: Duration,
        prompt: u64,
        completion: u64,
    ) {
        let mut s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let e = s.entry(provider.to_string()).or_default();
        if ok {
            e.ok += 1;
        } else {
            e.failed += 1;
        }
        e.prompt_tokens += prompt;
        e.completion_tokens += completion;
        e.latency.observe_in(&LLM_BUCKETS, elapsed.as_secs_f64());
    }

    /// Appends the families to an exposition.
    pub fn render(&self, out: &mut String) {
        let s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        family(
            out,
            "warden_llm_requests_total",
            "counter",
            "LLM requests, by provider and result.",
        );
        for (p, e) in s.iter() {
            let p = escape(p);
            let _ = writeln!(
                out,
                "warden_llm_requests_total{{provider=\"{p}\",result=\"ok\"}} {}",
                e.ok
            );
            let _ = writeln!(
                out,
                "warden_llm_requests_total{{provider=\"{p}\",result=\"failed\"}} {}",
                e.failed
            );
        }
        family(out, "warden_llm_tokens_total", "counter", "LLM tokens used, by provider and kind.");
        for (p, e) in s.iter() {
            let p = escape(p);
            let _ = writeln!(
                out,
                "warden_llm_tokens_total{{provider=\"{p}\",kind=\"prompt\"}} {}",
                e.prompt_tokens
            );
            let _ = writeln!(
                out,
                "warden_llm_tokens_total{{provider=\"{p}\",kind=\"completion\"}} {}",
                e.completion_tokens
            );
        }
        family(
            out,
            "warden_llm_request_duration_seconds",
            "histogram",
            "LLM request latency, by provider.",
        );
        for (p, e) in s.iter() {
            let labels = format!("provider=\"{}\"", escape(p));
            e.latency.render(out, "warden_llm_request_duration_seconds", &labels, &LLM_BUCKETS);
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_typed_families_and_cumulative_buckets() {
        let m = HttpMetrics::default();
        m.observe("GET", "/healthz", 200, Duration::from_micros(300));
        m.observe("GET", "/healthz", 200, Duration::from_millis(30));
        m.observe("GET", "/healthz", 404, Duration::from_secs(5));
        let text = m.render("1.2.3", 1700000000.5);
        assert!(text.contains("# TYPE warden_http_requests_total counter\n"));
        assert!(text.contains(
            "warden_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "warden_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"404\"} 1\n"
        ));
        assert!(text.contains("warden_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.0005\"} 1\n"));
        assert!(text.contains("warden_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.05\"} 2\n"));
        assert!(text.contains("warden_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"} 3\n"));
        assert!(text.contains(
            "warden_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 3\n"
        ));
        assert!(text.contains("warden_build_info{version=\"1.2.3\"} 1\n"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            escape("path C:\\tmp \"quoted\"\nline2"),
            "path C:\\\\tmp \\\"quoted\\\"\\nline2"
        );
    }
}
