//! Notification channels: the wire formats and signatures of DingTalk, Feishu, WeCom
//! and webhooks (`shared/PROTOCOLS.md` §1–§5). Delivery itself (dispatcher, outbox,
//! retries) arrives with the notification issue; this holds the pieces it builds on.

pub mod signing;
