//! Host actors: one per registered host, under the [`HostSupervisor`].

mod actor;
mod messages;
mod state;
mod supervisor;
#[cfg(test)]
mod tests;

pub use actor::{HostActor, HostArgs};
pub use messages::{HostMsg, HostView};
pub use state::{HostEffect, HostState, LAST_SEEN_EVERY};
pub use supervisor::{HostSupervisor, HostSupervisorMsg};
