//! Request signatures of the chat platforms and of Warden's own webhooks.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// DingTalk's `sign` query value (before URL encoding): base64 of
/// HMAC-SHA256(key = secret, message = `"{timestamp_ms}\n{secret}"`).
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let message = format!("{timestamp_ms}\n{secret}");
    base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(secret.as_bytes(), message.as_bytes()))
}

/// The Feishu/Lark custom bot's `sign` body field: base64 of HMAC-SHA256 whose *key* is
/// `"{timestamp_s}\n{secret}"` and whose message is empty.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(key.as_bytes(), b""))
}

/// Warden's body signature for outbound webhooks (`X-Warden-Signature`) and the
/// Alertmanager intake (`X-Vigilops-Signature`): `sha256=<lowercase hex HMAC of body>`.
pub fn body_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(secret.as_bytes(), body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known-answer vectors from shared/PROTOCOLS.md §11.

    #[test]
    fn dingtalk_matches_v1() {
        let secret = "SECwarden0000test0000secret0000dingtalk";
        assert_eq!(
            dingtalk_sign(secret, 1_700_000_000_000),
            "JUfrebV90GwtX1afxUMxqwVlytxgySNlZmckcqhFNjU="
        );
        assert_eq!(
            dingtalk_sign(secret, 1_700_000_099_999),
            "DpKip5ESrh642oDO00V1m/RhNIEmh+v6MsOZfb1T+aQ="
        );
    }

    #[test]
    fn feishu_matches_v2_and_the_documented_sample() {
        assert_eq!(
            feishu_sign("warden-feishu-bot-secret", 1_700_000_000),
            "NmJs5P9yJam70zTiQdV/dnSGx7IgLJVq19aDIlStLFs="
        );
        assert_eq!(
            feishu_sign("demo", 1_599_360_473),
            "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
        );
    }

    #[test]
    fn body_signature_matches_v5() {
        let body = br#"{"receiver":"warden","status":"firing","alerts":[]}"#;
        assert_eq!(
            body_signature("warden-webhook-secret", body),
            "sha256=5c7a335b2ea58034cd007bba5fb15b1353803ea5cb2ce280b225e991c46a3619"
        );
    }
}
