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
//! Host and service actors are built (see [`host`], [`service`], [`root`]); rules,
//! remediation and notification actors come with their issues. Alongside the actors:
//! the closed error vocabulary ([`error`]), the clock port ([`clock`]), the runtime
//! settings catalog ([`settings`]), roles ([`role`]) and login throttling
//! ([`login_limit`]).

pub mod ai;
pub mod broadcast;
pub mod classify;
pub mod clock;
pub mod deps;
pub mod error;
pub mod host;
pub mod ids;
pub mod incident;
pub mod live;
pub mod login_limit;
pub mod model;
pub mod notify;
pub mod plugins;
pub mod ports;
pub mod registry;
pub mod remediation;
pub mod report;
pub mod role;
pub mod root;
pub mod rule;
pub mod service;
pub mod settings;
pub mod sla;
pub mod supervision;
pub mod topology;

pub use error::{DomainError, ErrorKind};
