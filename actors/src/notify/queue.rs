//! One channel's delivery queue, apart from any I/O: which message goes next, when the
//! channel must wait (rate limit, retry backoff), and how an attempt's verdict ends a
//! message. The channel worker drives it with real time and real sends.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::rate_limit::RateLimiter;
use super::retry::{RetryPolicy, Verdict};

/// A message waiting in the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued<T> {
    /// The outbox row id.
    pub id: i64,
    /// Attempts made so far beyond the first.
    pub retries: u32,
    /// Not sent before this time (a retry's backoff).
    pub not_before: DateTime<Utc>,
    pub item: T,
}

/// What the worker should do now.
#[derive(Debug, PartialEq)]
pub enum Next<T> {
    /// Send this message (the rate limiter has counted it).
    Send(Queued<T>),
    /// Nothing can go before this much time passes.
    Wait(Duration),
    /// An attempt is in flight; its result comes first.
    Busy,
    /// The queue is empty.
    Idle,
}

/// How an attempt ended a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Sent {
        retries: u32,
    },
    Failed {
        retries: u32,
    },
    /// Back in the queue until the given time.
    Retrying {
        at: DateTime<Utc>,
    },
}

#[derive(Debug)]
pub struct ChannelQueue<T> {
    entries: VecDeque<Queued<T>>,
    limiters: Vec<RateLimiter>,
    policy: RetryPolicy,
    in_flight: bool,
}

impl<T> ChannelQueue<T> {
    /// `limits`: (messages, per seconds) pairs that all apply.
    pub fn new(limits: &[(usize, u64)], policy: RetryPolicy) -> Self {
        let limiters = limits
            .iter()
            .map(|(n, secs)| RateLimiter::new(*n, Duration::from_secs(*secs)))
            .collect();
        ChannelQueue { entries: VecDeque::new(), limiters, policy, in_flight: false }
    }

    pub fn set_policy(&mut self, policy: RetryPolicy) {
        self.policy = policy;
    }

    pub fn push(&mut self, id: i64, item: T, now: DateTime<Utc>) {
        self.entries.push_back(Queued { id, retries: 0, not_before: now, item });
    }

    pub fn len(&self) -> usize {
        self.entries.len() + usize::from(self.in_flight)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the next message that may go at `now`, oldest first; a message in backoff
    /// does not hold up the ones behind it.
    pub fn next(&mut self, now: DateTime<Utc>) -> Next<T> {
        if self.in_flight {
            return Next::Busy;
        }
        let Some(pos) = self.entries.iter().position(|e| e.not_before <= now) else {
            return match self.entries.iter().map(|e| e.not_before).min() {
                Some(at) => Next::Wait((at - now).to_std().unwrap_or_default()),
                None => Next::Idle,
            };
        };
        let mut wait = Duration::ZERO;
        for limiter in &mut self.limiters {
            if let Err(d) = limiter.check(now) {
                wait = wait.max(d);
            }
        }
        if !wait.is_zero() {
            return Next::Wait(wait);
        }
        for limiter in &mut self.limiters {
            limiter.record(now);
        }
        self.in_flight = true;
        match self.entries.remove(pos) {
            Some(entry) => Next::Send(entry),
            None => Next::Idle,
        }
    }

    /// Ends the attempt on `entry` with `verdict`; `jitter` is uniform in `[0, 1)`.
    pub fn finish(
        &mut self,
        mut entry: Queued<T>,
        verdict: Verdict,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Finish {
        self.in_flight = false;
        match verdict {
            Verdict::Delivered => Finish::Sent { retries: entry.retries },
            Verdict::GiveUp => Finish::Failed { retries: entry.retries },
            Verdict::Retry => match self.policy.delay(entry.retries + 1, jitter) {
                None => Finish::Failed { retries: entry.retries },
                Some(delay) => {
                    entry.retries += 1;
                    let at =
                        now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                    entry.not_before = at;
                    self.entries.push_front(entry);
                    Finish::Retrying { at }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_800_000_000_000 + ms).single().expect("valid time")
    }

    fn take(q: &mut ChannelQueue<&'static str>, now: DateTime<Utc>) -> Queued<&'static str> {
        match q.next(now) {
            Next::Send(e) => e,
            other => panic!("expected a send, got {other:?}"),
        }
    }

    #[test]
    fn one_at_a_time_in_order() {
        let mut q = ChannelQueue::new(&[], RetryPolicy::new(3));
        q.push(1, "a", t(0));
        q.push(2, "b", t(0));
        let a = take(&mut q, t(0));
        assert_eq!(a.id, 1);
        assert_eq!(q.next(t(0)), Next::Busy);
        assert_eq!(q.finish(a, Verdict::Delivered, t(5), 0.0), Finish::Sent { retries: 0 });
        assert_eq!(take(&mut q, t(5)).id, 2);
    }

    #[test]
    fn a_retry_waits_its_backoff_without_holding_up_the_rest() {
        let mut q = ChannelQueue::new(&[], RetryPolicy::new(2));
        q.push(1, "a", t(0));
        q.push(2, "b", t(0));
        let a = take(&mut q, t(0));
        assert_eq!(q.finish(a, Verdict::Retry, t(10), 1.0), Finish::Retrying { at: t(510) });
        let b = take(&mut q, t(20));
        assert_eq!(b.id, 2, "b goes while a backs off");
        q.finish(b, Verdict::Delivered, t(30), 0.0);
        assert_eq!(q.next(t(30)), Next::Wait(Duration::from_millis(480)));
        let a = take(&mut q, t(510));
        assert_eq!(a.retries, 1);
        assert_eq!(q.finish(a, Verdict::Retry, t(520), 1.0), Finish::Retrying { at: t(1520) });
        let a = take(&mut q, t(1520));
        assert_eq!(
            q.finish(a, Verdict::Retry, t(1530), 1.0),
            Finish::Failed { retries: 2 },
            "retries used up"
        );
        assert_eq!(q.next(t(2000)), Next::Idle);
    }

    #[test]
    fn a_permanent_failure_is_not_retried() {
        let mut q = ChannelQueue::new(&[], RetryPolicy::new(5));
        q.push(1, "a", t(0));
        let a = take(&mut q, t(0));
        assert_eq!(q.finish(a, Verdict::GiveUp, t(1), 0.5), Finish::Failed { retries: 0 });
        assert!(q.is_empty());
    }

    #[test]
    fn the_rate_limit_queues_instead_of_dropping() {
        let mut q = ChannelQueue::new(&[(20, 60)], RetryPolicy::new(0));
        for id in 0..25 {
            q.push(id, "m", t(0));
        }
        for i in 0..20 {
            let e = take(&mut q, t(i));
            q.finish(e, Verdict::Delivered, t(i), 0.0);
        }
        assert_eq!(q.next(t(100)), Next::Wait(Duration::from_millis(59_900)));
        assert_eq!(q.len(), 5, "nothing dropped");
        let e = take(&mut q, t(60_000));
        assert_eq!(e.id, 20, "the 21st goes once the window moves on");
    }
}
