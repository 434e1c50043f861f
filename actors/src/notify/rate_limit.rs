//! Per-channel rate limit over a sliding window (DingTalk and WeCom robots accept 20
//! messages a minute; more blocks the robot for minutes). A message over the limit is
//! not dropped: the limiter says how long to wait.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// At most `limit` sends in any `window`.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limit: usize,
    window: Duration,
    sent: VecDeque<DateTime<Utc>>,
}

impl RateLimiter {
    pub fn new(limit: usize, window: Duration) -> Self {
        RateLimiter { limit: limit.max(1), window, sent: VecDeque::new() }
    }

    /// The robots' limit: 20 a minute.
    pub fn per_minute(limit: usize) -> Self {
        Self::new(limit, Duration::from_secs(60))
    }

    /// Records a send at `now` and returns `Ok`, or returns how long to wait before the
    /// next send is allowed (nothing recorded).
    pub fn try_send(&mut self, now: DateTime<Utc>) -> Result<(), Duration> {
        self.check(now)?;
        self.record(now);
        Ok(())
    }

    /// Whether a send at `now` is allowed, without recording one.
    pub fn check(&mut self, now: DateTime<Utc>) -> Result<(), Duration> {
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        while self.sent.front().is_some_and(|t| now - *t >= window) {
            self.sent.pop_front();
        }
        match self.sent.front() {
            Some(oldest) if self.sent.len() >= self.limit => {
                Err((*oldest + window - now).to_std().unwrap_or_default())
            }
            _ => Ok(()),
        }
    }

    /// Records a send at `now`.
    pub fn record(&mut self, now: DateTime<Utc>) {
        self.sent.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_800_000_000_000 + ms).single().expect("valid time")
    }

    #[test]
    fn twenty_a_minute_then_wait_for_the_oldest_to_age_out() {
        let mut r = RateLimiter::per_minute(20);
        for i in 0..20 {
            assert_eq!(r.try_send(t(i * 100)), Ok(()), "send {i}");
        }
        assert_eq!(r.try_send(t(5_000)), Err(Duration::from_secs(55)));
        assert_eq!(r.try_send(t(59_999)), Err(Duration::from_millis(1)));
        assert_eq!(r.try_send(t(60_000)), Ok(()), "the first send aged out");
        assert!(r.try_send(t(60_050)).is_err(), "the second has not");
    }
}
