//! Comparison operators, the metric names a rule may watch, and daily silence windows.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveTime, Timelike};

/// Host metrics a `metric` rule may watch (the fields of an agent's metrics report).
pub const HOST_METRICS: &[&str] = &[
    "cpu_percent",
    "cpu_load_1",
    "cpu_load_5",
    "cpu_load_15",
    "memory_used_mb",
    "memory_percent",
    "disk_used_mb",
    "disk_total_mb",
    "disk_percent",
    "net_bytes_sent",
    "net_bytes_recv",
    "net_send_rate_kb",
    "net_recv_rate_kb",
    "net_packet_loss_rate",
];

/// How a value is compared with a rule's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Gt,
    Lt,
    Ge,
    Le,
    Eq,
    Ne,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Gt => ">",
            Operator::Lt => "<",
            Operator::Ge => ">=",
            Operator::Le => "<=",
            Operator::Eq => "==",
            Operator::Ne => "!=",
        }
    }

    /// Whether `value` breaches `threshold`. Equality allows for float rounding.
    pub fn breached(self, value: f64, threshold: f64) -> bool {
        let eq =
            (value - threshold).abs() <= f64::EPSILON * value.abs().max(threshold.abs()).max(1.0);
        match self {
            Operator::Gt => value > threshold,
            Operator::Lt => value < threshold,
            Operator::Ge => value >= threshold || eq,
            Operator::Le => value <= threshold || eq,
            Operator::Eq => eq,
            Operator::Ne => !eq,
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operator {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            ">" | "gt" => Ok(Operator::Gt),
            "<" | "lt" => Ok(Operator::Lt),
            ">=" | "gte" => Ok(Operator::Ge),
            "<=" | "lte" => Ok(Operator::Le),
            "==" | "=" | "eq" => Ok(Operator::Eq),
            "!=" | "ne" => Ok(Operator::Ne),
            other => Err(format!("operator must be one of >, <, >=, <=, ==, != (got '{other}')")),
        }
    }
}

/// A daily window (`HH:MM`–`HH:MM`, UTC) in which notifications are suppressed; alerts
/// are still recorded. A window whose end is before its start spans midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SilenceWindow {
    start: NaiveTime,
    end: NaiveTime,
}

impl SilenceWindow {
    /// Parses the two ends; equal ends are refused (an empty or a whole-day window is
    /// better expressed by disabling the rule's notifications).
    pub fn parse(start: &str, end: &str) -> Result<Self, String> {
        let p = |s: &str, name: &str| {
            NaiveTime::parse_from_str(s.trim(), "%H:%M")
                .map_err(|_| format!("{name} must be a time like 22:00 (got '{s}')"))
        };
        let (start, end) = (p(start, "silence_start")?, p(end, "silence_end")?);
        if start == end {
            return Err("silence_start and silence_end must differ".into());
        }
        Ok(SilenceWindow { start, end })
    }

    /// Whether `t` (time of day) falls inside the window, start inclusive.
    pub fn contains(&self, t: NaiveTime) -> bool {
        let t = NaiveTime::from_hms_opt(t.hour(), t.minute(), t.second()).unwrap_or(t);
        if self.start < self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}
