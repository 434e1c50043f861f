//! Feishu (Lark) callback verification (PROTOCOLS.md §3–§4): request signatures, the
//! AES-256-CBC body encryption, and reading message text.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use base64::Engine;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};

type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// `lowercase_hex(SHA256(timestamp + nonce + encrypt_key + body))` (events, new cards).
pub fn sha256_signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(timestamp.as_bytes());
    h.update(nonce.as_bytes());
    h.update(encrypt_key.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// `lowercase_hex(SHA1(timestamp + nonce + verification_token + body))` (legacy cards).
pub fn sha1_signature(timestamp: &str, nonce: &str, token: &str, body: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(timestamp.as_bytes());
    h.update(nonce.as_bytes());
    h.update(token.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// Decrypts an `{"encrypt": …}` body: AES-256-CBC with key SHA256(encrypt_key), the IV in
/// the first 16 bytes, PKCS#7 padding.
pub fn decrypt(encrypt_key: &str, encrypted: &str) -> Result<String, String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encrypted.trim())
        .map_err(|_| "encrypt is not base64".to_string())?;
    if raw.len() < 32 || raw.len() % 16 != 0 {
        return Err("encrypt has the wrong length".into());
    }
    let key = Sha256::digest(encrypt_key.as_bytes());
    let (iv, data) = raw.split_at(16);
    let plain = Aes256CbcDec::new_from_slices(&key, iv)
        .map_err(|_| "bad key or IV".to_string())?
        .decrypt_padded_vec_mut::<Pkcs7>(data)
        .map_err(|_| "could not decrypt (wrong encrypt key?)".to_string())?;
    String::from_utf8(plain).map_err(|_| "decrypted body is not UTF-8".into())
}

/// The text of an `im.message.receive_v1` message: `text` without `@_user_N`
/// placeholders, or a `post`'s title and text runs.
pub fn message_text(message_type: &str, content: &str) -> String {
    let Ok(content) = serde_json::from_str::<Value>(content) else { return content.to_string() };
    match message_type {
        "text" => {
            let text = content.get("text").and_then(Value::as_str).unwrap_or_default();
            text.split(' ')
                .filter(|w| !(w.starts_with("@_user_") || w.starts_with("@_all")))
                .collect::<Vec<_>>()
                .join(" ")
                .trim()
                .to_string()
        }
        "post" => {
            // Either {title, content} or {zh_cn: {title, content}}.
            let post = if content.get("content").is_some() {
                &content
            } else {
                content.as_object().and_then(|o| o.values().next()).unwrap_or(&content)
            };
            let mut lines = Vec::new();
            if let Some(title) = post.get("title").and_then(Value::as_str).filter(|t| !t.is_empty())
            {
                lines.push(title.to_string());
            }
            for paragraph in post.get("content").and_then(Value::as_array).into_iter().flatten() {
                let line: String = paragraph
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|run| run.get("text").and_then(Value::as_str))
                    .collect();
                if !line.trim().is_empty() {
                    lines.push(line.trim().to_string());
                }
            }
            lines.join("\n")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "warden-encrypt-key-0001";
    const V4: &str = "AAECAwQFBgcICQoLDA0OD6n1Cmj6fnhd+va/txPhZSYU+1p56GJ6nOlDHBrkXSRKUhGjdnZR3j0pZE6YTwI6gb7soLxSjBGH1BHrTLJznPOZwbyLMG9kL6WDwWv4OEPLKAl3zoQXo3SypVfaNjKIcQ==";

    #[test]
    fn signatures_match_the_v3_and_v4_vectors() {
        let body = br#"{"encrypt":"ZZZ"}"#;
        assert_eq!(
            sha256_signature("1700000000", "a1b2c3d4e5", KEY, body),
            "d5d342e1218bd05dac850575400568b88f64eacda66de75116fc08f02c812fdb"
        );
        assert_eq!(
            sha1_signature("1700000000", "a1b2c3d4e5", "warden-verification-token-0001", body),
            "ac8db3a8163c4619f019389e0462c051c70e74f7"
        );
        let full = format!(r#"{{"encrypt":"{V4}"}}"#);
        assert_eq!(
            sha256_signature("1700000000", "a1b2c3d4e5", KEY, full.as_bytes()),
            "493e684528abdd3a52eddf7d1975f6cc6d9a563eb4b51d0ae80252431e1885ed"
        );
    }

    #[test]
    fn decryption_matches_v4_and_feishus_sample() {
        assert_eq!(
            decrypt(KEY, V4).unwrap(),
            r#"{"challenge":"ch-7f3a","token":"warden-verification-token-0001","type":"url_verification"}"#
        );
        assert_eq!(
            decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=").unwrap(),
            "hello world"
        );
        assert!(decrypt("wrong key", V4).is_err());
        assert!(decrypt(KEY, "not base64!").is_err());
        assert!(decrypt(KEY, "AAAA").is_err());
    }

    #[test]
    fn message_text_strips_mentions_and_reads_posts() {
        assert_eq!(
            message_text("text", r#"{"text":"@_user_1 disk full on web-1"}"#),
            "disk full on web-1"
        );
        let post = r#"{"zh_cn":{"title":"[告警] 磁盘满","content":[[{"tag":"text","text":"服务: web"}],[{"tag":"at","user_id":"x"}]]}}"#;
        assert_eq!(message_text("post", post), "[告警] 磁盘满\n服务: web");
        assert_eq!(message_text("image", "{}"), "");
    }
}
