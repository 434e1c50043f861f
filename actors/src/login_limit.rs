//! Login throttling policy: how many failed logins per (email, client address) are
//! tolerated within a window before further attempts are refused.
//!
//! The counting itself happens in the cache (Redis when configured, so every node sees
//! the same count); this module only decides.

/// The throttling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimitPolicy {
    /// Failures tolerated inside one window; the next attempt is refused.
    pub max_failures: u64,
    /// Length of the window, counted from the first failure.
    pub window_secs: u64,
}

impl Default for LoginLimitPolicy {
    fn default() -> Self {
        Self { max_failures: 10, window_secs: 300 }
    }
}

/// What to do with a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginDecision {
    /// Check the credentials.
    Attempt,
    /// Refuse without checking; the client may retry after this many seconds.
    Refuse { retry_after_secs: u64 },
}

impl LoginLimitPolicy {
    /// Decides from the failures recorded so far in the current window and the seconds
    /// left before that window ends.
    pub fn decide(&self, failures: u64, window_left_secs: u64) -> LoginDecision {
        if failures >= self.max_failures {
            LoginDecision::Refuse { retry_after_secs: window_left_secs.max(1) }
        } else {
            LoginDecision::Attempt
        }
    }

    /// The key under which failures are counted.
    pub fn key(email: &str, client: &str) -> String {
        format!("login_failures:{}:{client}", email.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenth_failure_still_allows_the_check_but_not_the_eleventh_attempt() {
        let p = LoginLimitPolicy::default();
        assert_eq!(p.decide(0, 300), LoginDecision::Attempt);
        assert_eq!(p.decide(9, 120), LoginDecision::Attempt);
        assert_eq!(p.decide(10, 120), LoginDecision::Refuse { retry_after_secs: 120 });
    }

    #[test]
    fn retry_after_is_never_zero() {
        let p = LoginLimitPolicy::default();
        assert_eq!(p.decide(50, 0), LoginDecision::Refuse { retry_after_secs: 1 });
    }

    #[test]
    fn key_ignores_email_case() {
        assert_eq!(
            LoginLimitPolicy::key("Ops@Example.com", "10.0.0.1"),
            LoginLimitPolicy::key("ops@example.com", "10.0.0.1")
        );
    }
}
