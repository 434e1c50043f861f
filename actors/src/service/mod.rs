//! Service actors: one per monitored service, under the [`ServiceSupervisor`].

mod actor;
mod messages;
mod state;
mod supervisor;
#[cfg(test)]
mod tests;

pub use actor::{ServiceActor, ServiceArgs};
pub use messages::ServiceMsg;
pub use state::{ServiceEffect, ServiceState, MISSED_INTERVALS};
pub use supervisor::{ServiceSupervisor, ServiceSupervisorMsg};
