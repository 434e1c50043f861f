//! Short-lived, in-process caches of credential checks. Writers invalidate entries
//! directly (so a change is seen by the very next request on this node) and through
//! the bus (so other nodes drop theirs); the TTL bounds staleness if a bus message is
//! lost.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use warden_actors::role::Role;

/// How long a cached check may be reused.
pub const TTL: Duration = Duration::from_secs(30);

/// What an access check needs to know about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAuth {
    pub id: i64,
    pub role: Role,
    pub is_active: bool,
    pub token_version: i64,
}

/// user id → auth facts.
#[derive(Debug, Default)]
pub struct UserAuthCache {
    entries: RwLock<HashMap<i64, (UserAuth, Instant)>>,
}

impl UserAuthCache {
    pub fn get(&self, id: i64) -> Option<UserAuth> {
        let map = self.entries.read().expect("auth cache lock is never poisoned");
        map.get(&id).filter(|(_, at)| at.elapsed() < TTL).map(|(u, _)| u.clone())
    }

    pub fn put(&self, user: UserAuth) {
        let mut map = self.entries.write().expect("auth cache lock is never poisoned");
        map.insert(user.id, (user, Instant::now()));
    }

    pub fn invalidate(&self, id: i64) {
        self.entries.write().expect("auth cache lock is never poisoned").remove(&id);
    }
}

/// A known, active agent token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentTokenAuth {
    pub token_id: i64,
}

#[derive(Debug)]
struct TokenEntry {
    auth: AgentTokenAuth,
    fetched: Instant,
    /// Milliseconds after `fetched` of the last `last_used_at` write; -1 for never.
    /// Atomic so the per-request check needs only the read lock.
    touched_ms: std::sync::atomic::AtomicI64,
}

/// token hash → token id, for active tokens only.
#[derive(Debug, Default)]
pub struct AgentTokenCache {
    entries: RwLock<HashMap<String, TokenEntry>>,
}

/// `last_used_at` is written at most this often per token.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl AgentTokenCache {
    pub fn get(&self, hash: &str) -> Option<AgentTokenAuth> {
        let map = self.entries.read().expect("token cache lock is never poisoned");
        map.get(hash).filter(|e| e.fetched.elapsed() < TTL).map(|e| e.auth)
    }

    pub fn put(&self, hash: String, auth: AgentTokenAuth) {
        let mut map = self.entries.write().expect("token cache lock is never poisoned");
        let entry = TokenEntry { auth, fetched: Instant::now(), touched_ms: (-1).into() };
        map.insert(hash, entry);
    }

    /// Whether `last_used_at` is due to be written for this token; marks it written.
    /// Of concurrent callers exactly one gets `true`.
    pub fn touch_due(&self, hash: &str) -> bool {
        use std::sync::atomic::Ordering;
        let map = self.entries.read().expect("token cache lock is never poisoned");
        let Some(e) = map.get(hash) else { return true };
        let now = e.fetched.elapsed().as_millis() as i64;
        let last = e.touched_ms.load(Ordering::Relaxed);
        if last >= 0 && now - last < TOUCH_EVERY.as_millis() as i64 {
            return false;
        }
        e.touched_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    pub fn invalidate_token(&self, token_id: i64) {
        let mut map = self.entries.write().expect("token cache lock is never poisoned");
        map.retain(|_, e| e.auth.token_id != token_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidated_entries_are_gone() {
        let users = UserAuthCache::default();
        let u = UserAuth { id: 1, role: Role::Admin, is_active: true, token_version: 0 };
        users.put(u.clone());
        assert_eq!(users.get(1), Some(u));
        users.invalidate(1);
        assert_eq!(users.get(1), None);

        let tokens = AgentTokenCache::default();
        tokens.put("h".into(), AgentTokenAuth { token_id: 9 });
        assert!(tokens.touch_due("h"));
        assert!(!tokens.touch_due("h"));
        tokens.invalidate_token(9);
        assert_eq!(tokens.get("h"), None);
    }
}
