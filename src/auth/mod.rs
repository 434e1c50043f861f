//! Credentials: password hashing (Argon2id), JWT access/refresh tokens (HS256), agent
//! tokens (random, stored as a keyed hash), the secrets behind them, and the
//! in-process caches that keep a credential check off the database on the hot path.

pub mod agent_token;
pub mod cache;
pub mod jwt;
pub mod password;
pub mod secrets;

pub use cache::{AgentTokenCache, UserAuthCache};
pub use jwt::{Claims, TokenKind, TokenPair, TokenService};

/// Checks an email address's syntax (one `@`, a non-empty local part, a dotted domain
/// without spaces); returns the normalised (trimmed, lower-case) address.
pub fn normalize_email(email: &str) -> Result<String, &'static str> {
    let email = email.trim();
    let (local, domain) =
        email.split_once('@').ok_or("value is not a valid email address: missing @")?;
    let ok_local = !local.is_empty() && local.len() <= 64 && !local.contains(char::is_whitespace);
    let ok_domain = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@')
        && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if !ok_local || !ok_domain || email.len() > 254 {
        return Err("value is not a valid email address");
    }
    Ok(email.to_lowercase())
}

/// Minimum password length.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Checks a new password's length (in characters, at most 256 to bound hashing work).
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(format!("String should have at least {MIN_PASSWORD_LEN} characters"));
    }
    if n > 256 {
        return Err("String should have at most 256 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_normalised() {
        assert_eq!(normalize_email(" Ops@Example.COM ").as_deref(), Ok("ops@example.com"));
        for bad in [
            "",
            "ops",
            "@example.com",
            "ops@",
            "ops@example",
            "o ps@example.com",
            "a@b@c.com",
            "a@.com",
            "a@b..com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password("密码密码密码密码").is_ok());
        assert!(check_password(&"x".repeat(257)).is_err());
    }
}
