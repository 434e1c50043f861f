//! Retry policy: exponential backoff with jitter, and the verdict on a response —
//! including "HTTP 200 with a non-zero errcode", which DingTalk, Feishu and WeCom use
//! for failures (`shared/PROTOCOLS.md` §1, §2, §5).

use std::time::Duration;

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again (rate limited, server error, network failure).
    Retry,
    /// Trying again cannot help (bad credentials, signature, configuration).
    GiveUp,
}

/// Judges an HTTP outcome: `status` (None for a network error or timeout) and the
/// platform's `errcode`/`code` from the body, when it has one.
pub fn judge(status: Option<u16>, errcode: Option<i64>) -> Verdict {
    match (status, errcode) {
        (None, _) => Verdict::Retry,
        (Some(s), _) if s == 429 || s >= 500 => Verdict::Retry,
        (Some(s), _) if !(200..300).contains(&s) => Verdict::GiveUp,
        (Some(_), None | Some(0)) => Verdict::Delivered,
        // DingTalk 130101 and WeCom 45009: sent too fast; Feishu 9499: too many requests.
        (Some(_), Some(130_101 | 45_009 | 9499 | 11232)) => Verdict::Retry,
        (Some(_), Some(_)) => Verdict::GiveUp,
    }
}

/// Exponential backoff: `base · 2^attempt`, capped at `max`, scaled by a jitter factor
/// in `[0.5, 1.0]` so retries from many channels do not synchronise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (the `webhook_retry_count` setting).
    pub max_retries: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn new(max_retries: u32) -> Self {
        RetryPolicy { max_retries, base: Duration::from_millis(500), max: Duration::from_secs(60) }
    }

    /// The wait before retry number `attempt` (1-based), or `None` when retries are
    /// used up. `jitter` is a uniform random number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Option<Duration> {
        if attempt == 0 || attempt > self.max_retries {
            return None;
        }
        let exp = self.base.saturating_mul(2u32.saturating_pow(attempt - 1));
        let capped = exp.min(self.max);
        Some(capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcodes_in_a_200_are_failures() {
        assert_eq!(judge(Some(200), Some(0)), Verdict::Delivered);
        assert_eq!(judge(Some(200), None), Verdict::Delivered);
        assert_eq!(judge(Some(200), Some(310_000)), Verdict::GiveUp, "DingTalk: sign not match");
        assert_eq!(judge(Some(200), Some(300_005)), Verdict::GiveUp, "DingTalk: bad token");
        assert_eq!(judge(Some(200), Some(130_101)), Verdict::Retry, "DingTalk: too fast");
        assert_eq!(judge(Some(200), Some(19_021)), Verdict::GiveUp, "Feishu: bad signature");
        assert_eq!(judge(Some(200), Some(45_009)), Verdict::Retry, "WeCom: too fast");
    }

    #[test]
    fn http_and_network_failures() {
        assert_eq!(judge(None, None), Verdict::Retry);
        assert_eq!(judge(Some(503), None), Verdict::Retry);
        assert_eq!(judge(Some(429), None), Verdict::Retry);
        assert_eq!(judge(Some(404), None), Verdict::GiveUp);
        assert_eq!(judge(Some(401), Some(0)), Verdict::GiveUp);
    }

    #[test]
    fn backoff_doubles_is_capped_jittered_and_bounded() {
        let p = RetryPolicy::new(3);
        assert_eq!(p.delay(0, 0.0), None);
        assert_eq!(p.delay(1, 1.0), Some(Duration::from_millis(500)));
        assert_eq!(p.delay(2, 1.0), Some(Duration::from_secs(1)));
        assert_eq!(
            p.delay(3, 0.0),
            Some(Duration::from_secs(1)),
            "half of 2 s at the lowest jitter"
        );
        assert_eq!(p.delay(4, 0.5), None, "retries used up");
        let capped = RetryPolicy { max_retries: 20, ..RetryPolicy::new(20) };
        assert_eq!(capped.delay(20, 1.0), Some(Duration::from_secs(60)));
    }
}
