//! Notification policy, decided apart from any I/O: when a failed delivery is retried
//! and after how long ([`retry`]), and how fast one channel may send ([`rate_limit`]).
//! [`queue`] combines them into one channel's delivery queue.

pub mod queue;
pub mod rate_limit;
pub mod retry;
