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

/// Whether an environment variable was declared public.
pub fn is_public_env(name: &str) -> bool {
    public_env()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|n| n == name)
}

/// A value read from the environment: a secret unless its name was declared public.
pub fn env_value(name: &str, value: &str) {
    if !is_public_env(name) {
        register(value);
    }
}

/// Remember a secret so it is masked wherever it would be shown, in every form it can
/// take on its way there: quoted for SQL (doubled quotes, backslash escapes), escaped in
/// JSON (results, push bodies, the outbox) and encoded in a URL.
pub fn register(secret: &str) {
    if secret.len() < MIN_LEN {
        return;
    }
    let mut s = store().lock().unwrap_or_else(|e| e.into_inner());
    for form in forms(secret) {
        if !s.contains(&form) {
            s.push(form);
        }
    }
    // longest first, so a URL is masked whole before the password inside it
    s.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// The forms a secret takes when text around it is escaped, itself first.
fn forms(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).unwrap_or_default();
    let candidates = [
        secret.to_string(),
        secret.replace('\'', "''"),
        secret.replace('"', "\"\""),
        secret.replace('`', "``"),
        secret.replace('\\', "\\\\").replace('\'', "\\'"),
        json[1..json.len() - 1].to_string(),
        // a JSON text that holds another JSON text escapes it twice
        serde_json::to_string(&json[1..json.len() - 1])
            .map(|j| j[1..j.len() - 1].to_string())
            .unwrap_or_default(),
        percent_encoded(secret, false, false),
        percent_encoded(secret, true, false),
        percent_encoded(secret, false, true),
    ];
    let mut out: Vec<String> = Vec::new();
    for c in candidates {
        if c.len() >= MIN_LEN && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// The secret as a URL carries it: every byte but the unreserved ones as %XX (or %xx),
/// and in a form body a space as `+`.
fn percent_encoded(secret: &str, form: bool, lower_hex: bool) -> String {
    let mut out = String::with_capacity(secret.len() * 3);
    for b in secret.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if form => out.push('+'),
            _ if lower_hex => out.push_str(&format!("%{b:02x}")),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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

/// Text for a terminal: control characters other than line breaks and tabs, and escape
/// sequences other than colours (`ESC [ digits ; m`), are shown as `\u{..}` instead of
/// acted on. Names from databases, contracts and registries then cannot move the cursor,
/// clear the screen, retitle the window or ring the bell; assay's own colours stay.
pub fn for_terminal(text: &str) -> String {
    let harmful = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(harmful) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\u{1b}' {
            // a colour: ESC [ then digits and semicolons, then m
            let sgr = rest[1..].strip_prefix('[').and_then(|after| {
                let params = after
                    .find(|ch: char| !(ch.is_ascii_digit() || ch == ';'))
                    .unwrap_or(after.len());
                after[params..].starts_with('m').then_some(2 + params + 1)
            });
            if let Some(len) = sgr {
                out.push_str(&rest[..len]);
                rest = &rest[len..];
                continue;
            }
        }
        if harmful(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
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
            let text = for_terminal(&mask(&String::from_utf8_lossy(&self.0)));
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

    #[test]
    fn a_terminal_sees_colours_but_no_other_escape() {
        let text =
            "\u{1b}[1;31mFAIL\u{1b}[0m col\u{1b}]0;owned\u{7}\u{1b}[2J x\u{9b}31m\nnext\ttab";
        let shown = for_terminal(text);
        assert!(
            shown.starts_with("\u{1b}[1;31mFAIL\u{1b}[0m col"),
            "{shown}"
        );
        assert!(shown.contains("\\u{1b}]0;owned\\u{7}\\u{1b}[2J"), "{shown}");
        assert!(shown.contains("\\u{9b}31m"), "{shown}");
        assert!(shown.ends_with("\nnext\ttab"), "{shown}");
        assert_eq!(
            shown.chars().filter(|c| *c == '\u{1b}').count(),
            2,
            "{shown}"
        );
        assert_eq!(for_terminal("plain"), "plain");
    }

    #[test]
    fn escaped_and_encoded_forms_of_a_secret_are_masked() {
        let secret = "O'Br\\ien \"x\" p@ss/w";
        register(secret);
        for shown in [
            "'O''Br\\ien \"x\" p@ss/w'".to_string(),
            "'O\\'Br\\\\ien \"x\" p@ss/w'".to_string(),
            serde_json::to_string(secret).unwrap(),
            serde_json::to_string(&serde_json::to_string(secret).unwrap()).unwrap(),
            "postgres://u:O%27Br%5Cien%20%22x%22%20p%40ss%2Fw@h/db".to_string(),
            "body=O%27Br%5Cien+%22x%22+p%40ss%2Fw".to_string(),
        ] {
            let masked = mask(&shown);
            assert!(!masked.contains("Br"), "{shown} -> {masked}");
            assert_eq!(masked.len(), shown.len());
        }
    }
}
