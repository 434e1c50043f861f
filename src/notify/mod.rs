//! Notifications: channel configurations ([`channel`]), templates ([`template`]), wire
//! formats and signatures ([`transport`], [`signing`]), and the dispatcher actor with
//! one worker actor per channel ([`dispatcher`], [`worker`]) over a durable outbox.

pub mod channel;
pub mod dispatcher;
pub mod message;
pub mod signing;
pub mod template;
pub mod transport;
pub mod worker;
