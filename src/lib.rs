//! `warden`: the process shell around `warden-actors` — configuration, the axum HTTP
//! facade, sqlx storage, the cache and bus, credentials, telemetry and the CLI.

pub mod app;
pub mod auth;
pub mod bench;
pub mod cache;
pub mod cli;
pub mod config;
pub mod diagnosis;
pub mod http;
pub mod incidents;
pub mod integrations;
pub mod llm;
pub mod notify;
pub mod plugins;
pub mod probe;
pub mod remediation;
pub mod reports;
pub mod storage;
pub mod telemetry;

pub use app::App;
