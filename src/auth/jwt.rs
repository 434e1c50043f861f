//! JWT access and refresh tokens, HS256.
//!
//! Claims follow the VigilOps shape (`sub` is the user id as a string, `type` is
//! `access` or `refresh`) plus `ver`, the user's token version: disabling a user or
//! resetting their password bumps it and every older token stops working. Refresh
//! tokens also carry a `jti` recorded in the database so each is usable once.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Which of the two tokens a JWT is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The claims Warden signs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(rename = "type")]
    pub kind: TokenKind,
    pub exp: i64,
    pub iat: i64,
    pub ver: i64,
    pub jti: String,
}

impl Claims {
    /// The user id in `sub`.
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

/// An access/refresh pair as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
}

/// What is needed to record the refresh token of a new pair.
#[derive(Debug, Clone)]
pub struct IssuedRefresh {
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs and checks tokens.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl TokenService {
    pub fn new(secret: &str, access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    fn sign(
        &self,
        user_id: i64,
        version: i64,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> (String, Claims) {
        let ttl = match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
        };
        let claims = Claims {
            sub: user_id.to_string(),
            kind,
            exp: (now + ttl).timestamp(),
            iat: now.timestamp(),
            ver: version,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail");
        (token, claims)
    }

    /// A new pair for the user, and the refresh token's id and expiry to record.
    pub fn issue(
        &self,
        user_id: i64,
        version: i64,
        now: DateTime<Utc>,
    ) -> (TokenPair, IssuedRefresh) {
        let (access_token, _) = self.sign(user_id, version, TokenKind::Access, now);
        let (refresh_token, claims) = self.sign(user_id, version, TokenKind::Refresh, now);
        let issued = IssuedRefresh {
            jti: claims.jti,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(now + self.refresh_ttl),
        };
        (TokenPair { access_token, refresh_token, token_type: "bearer".into() }, issued)
    }

    /// Checks signature, expiry and kind.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Option<Claims> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        (data.claims.kind == kind).then_some(data.claims)
    }

    /// Signs arbitrary claims; for tests that need expired or forged-looking tokens.
    pub fn sign_claims(&self, claims: &Claims) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use warden_actors::clock::{Clock, SystemClock};

    use super::*;

    fn service() -> TokenService {
        TokenService::new(&"s".repeat(32), Duration::minutes(30), Duration::days(7))
    }

    #[test]
    fn issued_tokens_verify_as_their_own_kind_only() {
        let svc = service();
        let (pair, refresh) = svc.issue(7, 3, SystemClock.now());
        let access = svc.verify(&pair.access_token, TokenKind::Access).expect("valid access token");
        assert_eq!(access.user_id(), Some(7));
        assert_eq!(access.ver, 3);
        assert!(svc.verify(&pair.access_token, TokenKind::Refresh).is_none());
        let r = svc.verify(&pair.refresh_token, TokenKind::Refresh).expect("valid refresh token");
        assert_eq!(r.jti, refresh.jti);
    }

    #[test]
    fn expired_and_foreign_tokens_are_rejected() {
        let svc = service();
        let (pair, _) = svc.issue(1, 0, SystemClock.now() - Duration::hours(1));
        assert!(svc.verify(&pair.access_token, TokenKind::Access).is_none());

        let other = TokenService::new(&"t".repeat(32), Duration::minutes(30), Duration::days(7));
        let (pair, _) = other.issue(1, 0, SystemClock.now());
        assert!(svc.verify(&pair.access_token, TokenKind::Access).is_none());
        assert!(svc.verify("not.a.jwt", TokenKind::Access).is_none());
    }
}
