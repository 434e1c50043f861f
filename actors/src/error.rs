//! The closed set of error kinds every layer maps onto.
//!
//! The HTTP facade turns an [`ErrorKind`] into a status code; nothing else about an
//! error's origin leaks to clients.

use std::fmt;

/// What went wrong, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input is wrong; retrying the same request will fail again.
    Invalid,
    /// The named thing does not exist.
    NotFound,
    /// The request conflicts with current state (duplicate, last admin, ...).
    Conflict,
    /// No valid credentials were presented.
    Unauthenticated,
    /// Credentials are valid but do not allow this.
    Forbidden,
    /// Too many attempts; retry after the given number of seconds.
    RateLimited,
    /// A dependency (database, cache, actor) cannot serve the request now.
    Unavailable,
    /// A dependency did not answer in time.
    Timeout,
    /// A bug or an unexpected failure; details are logged, never shown.
    Internal,
}

/// An error with a kind and a message that names the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DomainError {
    kind: ErrorKind,
    message: String,
    retry_after_secs: Option<u64>,
}

impl DomainError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), retry_after_secs: None }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            kind: ErrorKind::RateLimited,
            message: message.into(),
            retry_after_secs: Some(retry_after_secs),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Seconds the caller should wait before retrying, for [`ErrorKind::RateLimited`].
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
