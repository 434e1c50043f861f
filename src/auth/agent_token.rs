//! Agent tokens: `vop_` followed by 48 hex digits (192 random bits). Only an
//! HMAC-SHA256 of the token under the server's token key is stored.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Characters of the token kept in clear as `token_prefix` (`vop_` plus four).
pub const PREFIX_LEN: usize = 8;

/// A new random token.
pub fn generate() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("vop_{}", hex::encode(bytes))
}

/// The prefix shown in token lists.
pub fn prefix(token: &str) -> String {
    token.chars().take(PREFIX_LEN).collect()
}

/// The keyed hash stored in the database.
pub fn hash(key: &[u8], token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac accepts keys of any length");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_documented_shape() {
        let t = generate();
        assert_eq!(t.len(), 52);
        assert!(t.starts_with("vop_"));
        assert!(t[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(prefix(&t), &t[..8]);
        assert_ne!(generate(), t);
    }

    #[test]
    fn hash_depends_on_key_and_token() {
        let h = hash(b"key-one", "vop_abc");
        assert_eq!(h.len(), 64);
        assert_eq!(h, hash(b"key-one", "vop_abc"));
        assert_ne!(h, hash(b"key-two", "vop_abc"));
        assert_ne!(h, hash(b"key-one", "vop_abd"));
        // RFC 4231 test case 2, to pin the construction.
        assert_eq!(
            hash(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
