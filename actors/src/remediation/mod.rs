//! Remediation: the command guard, runbooks, the run state machine and its actors.

pub mod actor;
pub mod guard;
pub mod policy;
pub mod run;
pub mod runbook;
pub mod supervisor;

#[cfg(test)]
mod tests;
