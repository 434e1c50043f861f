//! Alert rules: how a rule judges a value ([`eval`]) and the per-target state machine
//! that turns judgements into alerts and notifications ([`state`]). Pure and tested
//! with explicit times; the rule actors that drive them come with the alerting engine.

pub mod actor;
pub mod config;
pub mod eval;
pub mod state;
pub mod supervisor;
#[cfg(test)]
mod tests;

pub use actor::{RuleActor, RuleMsg};
pub use config::{
    host_metric, Observation, RuleConfig, RuleKind, TargetFilter, TargetKey, Verdict,
};
pub use eval::{Operator, SilenceWindow, HOST_METRICS};
pub use state::{Notice, RuleEffect, RulePolicy, TargetPhase, TargetState};
pub use supervisor::{RuleSupervisor, RuleSupervisorMsg};
