//! Notification policy, decided apart from any I/O: when a failed delivery is retried
//! and after how long ([`retry`]), and how fast one channel may send ([`rate_limit`]).
//! The dispatcher actor that applies them arrives with the notification issue.

pub mod rate_limit;
pub mod retry;
