//! `${env.NAME}` and `${var.NAME}` placeholders.
//!
//! Resolution happens on single YAML scalars, so an unknown variable is reported at the
//! exact place it is used.

use std::collections::HashMap;

/// Where `${var.X}` values come from, in order: `--set`, then the contract's `variables`
/// defaults, then the built-in `NOW`.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub set: HashMap<String, String>,
    pub defaults: HashMap<String, String>,
    pub now: String,
}

impl Vars {
    pub fn var(&self, name: &str) -> Option<String> {
        if let Some(v) = self.set.get(name).or_else(|| self.defaults.get(name)) {
            return Some(v.clone());
        }
        (name == "NOW").then(|| self.now.clone())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum InterpError {
    /// `${var.X}` with no value anywhere
    MissingVar(String),
    /// `${env.X}` not set in the environment
    MissingEnv(String),
    /// `${something.X}` or an unclosed `${`
    Malformed(String),
}

impl InterpError {
    pub fn message(&self) -> String {
        match self {
            InterpError::MissingVar(n) => format!("variable '{n}' has no value"),
            InterpError::MissingEnv(n) => format!("environment variable '{n}' is not set"),
            InterpError::Malformed(t) => format!("malformed placeholder '{t}'"),
        }
    }

    pub fn help(&self) -> String {
        match self {
            InterpError::MissingVar(n) => format!(
                "pass it with `--set {n}=VALUE`, or give it a default under `variables: {{{n}: {{default: ...}}}}`"
            ),
            InterpError::MissingEnv(n) => format!("export {n} before running assay"),
            InterpError::Malformed(_) => {
                "placeholders are written `${env.NAME}` or `${var.NAME}`".to_string()
            }
        }
    }
}

/// Replace every placeholder in `text`. Text without `${` is returned unchanged.
pub fn interpolate(text: &str, vars: Option<&Vars>) -> Result<String, InterpError> {
    if !text.contains("${") {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(InterpError::Malformed(rest[start..].to_string()));
        };
        let inner = after[..end].trim();
        let value = match inner.split_once('.') {
            Some(("env", name)) if valid_name(name) => {
                std::env::var(name).map_err(|_| InterpError::MissingEnv(name.to_string()))?
            }
            Some(("var", name)) if valid_name(name) => vars
                .and_then(|v| v.var(name))
                .ok_or_else(|| InterpError::MissingVar(name.to_string()))?,
            _ => {
                return Err(InterpError::Malformed(format!("${{{}}}", &after[..end])));
            }
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_wins_over_defaults_and_now_is_built_in() {
        let mut vars = Vars {
            now: "2025-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        vars.defaults.insert("A".into(), "default".into());
        vars.set.insert("A".into(), "set".into());
        assert_eq!(interpolate("x ${var.A} y", Some(&vars)).unwrap(), "x set y");
        assert_eq!(
            interpolate("${var.NOW}", Some(&vars)).unwrap(),
            "2025-01-01T00:00:00Z"
        );
    }

    #[test]
    fn missing_and_malformed_placeholders_are_errors() {
        let vars = Vars::default();
        assert_eq!(
            interpolate("${var.NOPE}", Some(&vars)),
            Err(InterpError::MissingVar("NOPE".into()))
        );
        assert!(matches!(
            interpolate("${foo.X}", Some(&vars)),
            Err(InterpError::Malformed(_))
        ));
        assert!(matches!(
            interpolate("${var.X", Some(&vars)),
            Err(InterpError::Malformed(_))
        ));
        assert_eq!(
            interpolate("${env.ASSAY_SURELY_UNSET_VAR}", None),
            Err(InterpError::MissingEnv("ASSAY_SURELY_UNSET_VAR".into()))
        );
    }
}
