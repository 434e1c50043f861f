//! The restart policy shared by supervisors: a child may be restarted a bounded number
//! of times within a window, so a crash loop ends in a logged, visible failure.

use std::time::{Duration, Instant};

/// Restarts allowed per window.
pub const MAX_RESTARTS: usize = 5;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Restart times of one child.
#[derive(Debug, Default, Clone)]
pub struct RestartBudget {
    recent: Vec<Instant>,
}

impl RestartBudget {
    /// Whether another restart is allowed at `now`; records it if so.
    pub fn try_restart(&mut self, now: Instant) -> bool {
        self.recent.retain(|t| now.duration_since(*t) < WINDOW);
        if self.recent.len() >= MAX_RESTARTS {
            return false;
        }
        self.recent.push(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_allows_a_few_restarts_per_window() {
        let mut b = RestartBudget::default();
        let t0 = Instant::now();
        for i in 0..MAX_RESTARTS {
            assert!(b.try_restart(t0 + Duration::from_secs(i as u64)));
        }
        assert!(!b.try_restart(t0 + Duration::from_secs(10)));
        assert!(b.try_restart(t0 + WINDOW + Duration::from_secs(1)));
    }
}
