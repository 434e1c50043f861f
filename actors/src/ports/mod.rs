//! Traits the shell (`warden` crate) implements for the actors: each names one outside
//! thing an actor needs, and nothing here knows how it is done.

pub mod alerts;
pub mod bus;
pub mod cache;
pub mod probe;
pub mod remediation;
pub mod store;

pub use alerts::{AlertStore, NewAlert, OpenAlert};
pub use bus::{BusEvent, EventBus};
pub use cache::{Cache, CacheError};
pub use probe::{ProbeResult, Prober};
pub use remediation::{CommandOutcome, CommandRunner, RemediationStore};
pub use store::{ActorStore, SlaSnapshot, StoreError};
