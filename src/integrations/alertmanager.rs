//! Prometheus Alertmanager webhook payloads (version 4, `shared/PROTOCOLS.md` §6) and
//! Warden's optional body signature (`X-Vigilops-Signature: sha256=<hex HMAC>`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A webhook delivery.
#[derive(Debug, Clone, Deserialize)]
pub struct Payload {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub receiver: Option<String>,
    pub alerts: Vec<AmAlert>,
}

/// One alert of a delivery.
#[derive(Debug, Clone, Deserialize)]
pub struct AmAlert {
    /// `firing` or `resolved`.
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "startsAt")]
    pub starts_at: DateTime<Utc>,
    #[serde(rename = "endsAt", default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub fingerprint: Option<String>,
}

impl AmAlert {
    /// The fingerprint Alertmanager computed, or one derived from the label set.
    pub fn fingerprint(&self) -> String {
        match &self.fingerprint {
            Some(f) if !f.is_empty() => f.clone(),
            _ => {
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(b"labels").expect("any key length works");
                for (k, v) in &self.labels {
                    mac.update(k.as_bytes());
                    mac.update(b"=");
                    mac.update(v.as_bytes());
                    mac.update(b"\n");
                }
                hex::encode(&mac.finalize().into_bytes()[..8])
            }
        }
    }

    pub fn is_firing(&self) -> bool {
        self.status == "firing"
    }

    /// critical, warning or info from the `severity` label (warning when absent or
    /// unknown; `error`/`page` count as critical).
    pub fn severity(&self) -> &'static str {
        match self.labels.get("severity").map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("critical" | "error" | "page" | "high") => "critical",
            Some("info" | "informational" | "none" | "low") => "info",
            _ => "warning",
        }
    }

    pub fn title(&self) -> String {
        let name = self.labels.get("alertname").map_or("Alertmanager alert", String::as_str);
        match self.annotations.get("summary") {
            Some(s) if !s.is_empty() => format!("{name}: {s}"),
            _ => name.to_string(),
        }
    }

    pub fn message(&self) -> Option<String> {
        self.annotations.get("description").or_else(|| self.annotations.get("summary")).cloned()
    }

    /// The host name or address in the `instance` label, without its port.
    pub fn instance_host(&self) -> Option<&str> {
        let inst = self.labels.get("instance").or_else(|| self.labels.get("host"))?;
        let inst = inst.trim();
        // [v6]:port, host:port, or a bare name.
        let host = if let Some(rest) = inst.strip_prefix('[') {
            rest.split(']').next().unwrap_or(rest)
        } else if inst.matches(':').count() == 1 {
            inst.split(':').next().unwrap_or(inst)
        } else {
            inst
        };
        (!host.is_empty()).then_some(host)
    }
}

/// Constant-time comparison of the presented bearer token with the configured one.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    presented.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Checks `sha256=<hex>` against the HMAC-SHA256 of `body` under `secret`, in constant
/// time.
pub fn signature_matches(header: &str, secret: &str, body: &[u8]) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else { return false };
    let Ok(sig) = hex::decode(hex_sig) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length works");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_known_answer_vector() {
        // PROTOCOLS.md §11, V5.
        let body = br#"{"receiver":"warden","status":"firing","alerts":[]}"#;
        let header = "sha256=5c7a335b2ea58034cd007bba5fb15b1353803ea5cb2ce280b225e991c46a3619";
        assert!(signature_matches(header, "warden-webhook-secret", body));
        assert!(!signature_matches(header, "other-secret", body));
        assert!(!signature_matches("sha1=5c7a", "warden-webhook-secret", body));
        assert!(!signature_matches("sha256=zz", "warden-webhook-secret", body));
    }

    #[test]
    fn payload_parses_and_maps_fields() {
        let json = r#"{"receiver":"warden","status":"firing","alerts":[{"status":"firing",
            "labels":{"alertname":"DiskFull","instance":"web-1:9100","severity":"critical"},
            "annotations":{"summary":"Disk almost full"},"startsAt":"2024-05-01T10:00:00Z",
            "endsAt":"0001-01-01T00:00:00Z","fingerprint":"bf29cd0c3cac59df"}],"version":"4"}"#;
        let p: Payload = serde_json::from_str(json).unwrap();
        let a = &p.alerts[0];
        assert!(a.is_firing());
        assert_eq!(a.fingerprint(), "bf29cd0c3cac59df");
        assert_eq!(a.severity(), "critical");
        assert_eq!(a.title(), "DiskFull: Disk almost full");
        assert_eq!(a.instance_host(), Some("web-1"));
    }

    #[test]
    fn derived_fingerprints_depend_on_labels_only() {
        let mk = |inst: &str| AmAlert {
            status: "firing".into(),
            labels: [
                ("alertname".to_string(), "X".to_string()),
                ("instance".to_string(), inst.to_string()),
            ]
            .into(),
            annotations: BTreeMap::new(),
            starts_at: DateTime::UNIX_EPOCH,
            ends_at: None,
            fingerprint: None,
        };
        assert_eq!(mk("a").fingerprint(), mk("a").fingerprint());
        assert_ne!(mk("a").fingerprint(), mk("b").fingerprint());
        assert_eq!(mk("[::1]:9100").instance_host(), Some("::1"));
        assert_eq!(mk("10.0.0.1").instance_host(), Some("10.0.0.1"));
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
    }
}
