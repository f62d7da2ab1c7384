//! Secrets (passwords, password files' contents, URLs that hold one, and every value read
//! from the environment unless its name is declared public) are registered as soon as
//! they are read, and every text that leaves the process is masked with them: reports and
//! results (and so push bodies and the outbox), `--plan`, logs, error messages and the
//! YAML snippets of diagnostics.
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

fn public_env() -> &'static Mutex<Vec<String>> {
    static PUBLIC: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    PUBLIC.get_or_init(|| Mutex::new(Vec::new()))
}

/// Environment variables whose values may be shown (`public_env:` in assay.yml).
pub fn declare_public_env(name: &str) {
    let mut p = public_env().lock().unwrap_or_else(|e| e.into_inner());
    if !p.iter().any(|n| n == name) {
        p.push(name.to_string());
    }
}

/// A value read from the environment: a secret unless its name was declared public.
pub fn env_value(name: &str, value: &str) {
    let public = public_env()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|n| n == name);
    if !public {
        register(value);
    }
}

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
    if secrets.is_empty() {
        return text.to_string();
    }
    let mut out = text.to_string();
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), &"*".repeat(s.len()));
        }
    }
    out
}

/// stderr for logs, each event masked before it is written. tracing's formatter writes an
/// event in one go into the writer it makes for it, so the buffer holds whole events.
pub struct MaskedStderr(Vec<u8>);

impl MaskedStderr {
    pub fn new() -> MaskedStderr {
        MaskedStderr(Vec::new())
    }
}

impl Default for MaskedStderr {
    fn default() -> Self {
        Self::new()
    }
}

impl std::io::Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.0.is_empty() {
            let text = mask(&String::from_utf8_lossy(&self.0));
            self.0.clear();
            std::io::stderr().write_all(text.as_bytes())?;
        }
        Ok(())
    }
}

impl Drop for MaskedStderr {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
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
