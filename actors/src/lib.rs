//! `warden-actors`: the part of Warden that decides what should happen.
//!
//! Everything here is free of I/O crates (no sqlx, reqwest, axum or fred); the shell in
//! the `warden` crate implements the ports this crate defines. The supervision tree
//! (built by the actor-runtime issue) is:
//!
//! ```text
//! RootSupervisor
//! ├── HostSupervisor ──────── HostActor (one per host)
//! ├── ServiceSupervisor ───── ServiceActor (one per monitored service)
//! ├── RuleSupervisor ──────── AlertRuleActor (one per alert rule)
//! ├── RemediationSupervisor ─ RemediationRunActor (one per run)
//! ├── NotificationDispatcher
//! └── infrastructure actors: writer, retention, schedulers, broadcaster
//! ```
//!
//! What exists today: the closed error vocabulary ([`error`]), the clock port
//! ([`clock`]), the runtime settings catalog ([`settings`]), the role model
//! ([`role`]) and the login throttling policy ([`login_limit`]).

pub mod clock;
pub mod error;
pub mod login_limit;
pub mod ports;
pub mod role;
pub mod settings;

pub use error::{DomainError, ErrorKind};
