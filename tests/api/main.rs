//! One integration-test binary: every area is a module, every test runs against every
//! available backend (SQLite always; PostgreSQL and Redis when `TEST_DATABASE_URL` and
//! `TEST_REDIS_URL` are set).

mod support;

mod agent;
mod agent_tokens;
mod ai;
mod alerting;
mod audit;
mod auth;
mod cli;
mod errors;
mod feishu;
mod health;
mod incidents;
mod ingest_reads;
mod inventory;
mod live;
mod notifications;
mod remediation;
mod reports;
mod settings;
mod users;
mod webhooks;
