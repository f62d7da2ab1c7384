//! Secrets (passwords, URLs that hold one) are registered as soon as the config is read,
//! and every text that leaves the process through an error path is masked with them:
//! engine errors, dataset errors in results, config diagnostics and their YAML snippets.
//!
//! Masking keeps the length of the text (one `*` per byte), so the byte spans of a
//! diagnostic's snippet stay valid after a password inside it is hidden.

use std::sync::{Mutex, OnceLock};

fn store() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Secrets shorter than this are not masked: hiding every "ab" in every message would
/// make the messages unreadable, and a secret that short protects nothing anyway.
pub const MIN_LEN: usize = 4;

/// Remember a secret so it is masked wherever it would be shown.
pub fn register(secret: &str) {
    if secret.len() < MIN_LEN {
        return;
    }
    let mut s = store().lock().unwrap_or_else(|e| e.into_inner());
    if !s.iter().any(|known| known == secret) {
        s.push(secret.to_string());
        // longest first, so a URL is masked whole before the password inside it
        s.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// The text with every registered secret replaced by `*`s of the same byte length.
pub fn mask(text: &str) -> String {
    let secrets = store().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), &"*".repeat(s.len()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked_keeping_length() {
        register("s3cr3t-pw");
        register("postgres://u:s3cr3t-pw@h/db");
        let text = "failed: postgres://u:s3cr3t-pw@h/db and s3cr3t-pw";
        let masked = mask(text);
        assert!(!masked.contains("s3cr3t-pw"), "{masked}");
        assert_eq!(masked.len(), text.len());
        assert!(masked.starts_with("failed: ****"));
    }
}
