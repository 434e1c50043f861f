//! Formats and checks of outside systems that send to Warden.

pub mod alertmanager;
pub mod feishu;
pub mod live;
