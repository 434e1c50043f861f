//! Typed ids, so a host id can never be passed where a service id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A monitored host (one agent).
    HostId
);
id_type!(
    /// A monitored service on a host.
    ServiceId
);
id_type!(
    /// An alert rule.
    RuleId
);
id_type!(
    /// An alert.
    AlertId
);
