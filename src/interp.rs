//! `${env.NAME}`, `${var.NAME}` and `${soda.NOW}` placeholders.
//!
//! Resolution happens on single YAML scalars, so an unknown variable is reported at the
//! exact place it is used. A variable's default may refer to other variables; it is
//! contract text, resolved when used, by the same rules as the text around it.

use std::collections::HashMap;

use crate::sql::lexer::{self, Lexicon, Quote, TokenKind};

/// Where `${var.X}` values come from, in order: `--set`, then the contract's `variables`
/// defaults (as written, placeholders and all), then the built-in `NOW` (also
/// `${soda.NOW}`, as Soda writes it).
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub set: HashMap<String, String>,
    pub defaults: HashMap<String, String>,
    pub now: String,
    /// Text anyone who opens a pull request may write (contracts, channel files): it may
    /// read only environment variables declared public. A secret reachable from such text
    /// could be read back out (a metric's value, an error text, a record sent to a
    /// consumer) in any of endless transformed forms no masking can know.
    pub untrusted: bool,
}

/// Where a placeholder's value came from: it decides how the value may enter SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--set` on the command line
    Set,
    /// the environment
    Env,
    /// the contract's own `variables` defaults: contract text like the SQL around them
    Default,
    /// the run's now, made by assay
    Now,
}

impl Vars {
    /// A variable's value, a default's placeholders resolved; None when it has none (or
    /// its default cannot be resolved, which reading the contract reports).
    pub fn var(&self, name: &str) -> Option<String> {
        resolve(&format!("${{var.{name}}}"), Some(self))
            .ok()
            .map(|(v, _)| v)
    }

    fn lookup(&self, name: &str) -> Option<(String, Origin)> {
        if let Some(v) = self.set.get(name) {
            return Some((v.clone(), Origin::Set));
        }
        if let Some(v) = self.defaults.get(name) {
            return Some((v.clone(), Origin::Default));
        }
        (name == "NOW").then(|| (self.now.clone(), Origin::Now))
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
    /// a value that would not stay what it is where it goes in SQL (placeholder, why)
    Unsafe(String, String),
    /// SQL with placeholders that is not SQL even before they are filled in
    Sql(String),
    /// variable defaults that refer to each other, as the chain of names
    Cycle(Vec<String>),
    /// `${soda.X}` other than NOW
    UnknownSoda(String),
    /// `${env.X}` of a variable not declared public, in contract or channel text
    SecretEnv(String),
}

impl InterpError {
    pub fn message(&self) -> String {
        match self {
            InterpError::MissingVar(n) => format!("variable '{n}' has no value"),
            InterpError::MissingEnv(n) => format!("environment variable '{n}' is not set"),
            InterpError::Malformed(t) => format!("malformed placeholder '{t}'"),
            InterpError::Unsafe(p, why) => format!("the value of {p} {why}"),
            InterpError::Sql(why) => format!("the SQL {why}"),
            InterpError::Cycle(chain) => format!(
                "variable defaults refer to each other in a cycle: {}",
                chain.join(" -> ")
            ),
            InterpError::UnknownSoda(n) => format!("unknown variable 'soda.{n}'"),
            InterpError::SecretEnv(n) => format!(
                "environment variable '{n}' is a secret (not declared under `public_env:`), and \
                 contracts and channel files cannot read secrets"
            ),
        }
    }

    pub fn help(&self) -> String {
        match self {
            InterpError::MissingVar(n) => format!(
                "pass it with `--set {n}=VALUE`, or give it a default under `variables: {{{n}: {{default: ...}}}}`"
            ),
            InterpError::MissingEnv(n) => format!("export {n} before running assay"),
            InterpError::Malformed(_) => {
                "placeholders are written `${env.NAME}`, `${var.NAME}` or `${soda.NOW}`".to_string()
            }
            InterpError::Sql(_) => "close every string, quoted name and comment".to_string(),
            InterpError::Cycle(_) => {
                "give one of them a default that does not refer back, or a value with --set"
                    .to_string()
            }
            InterpError::UnknownSoda(_) => "the soda namespace has ${soda.NOW}, the run's now".to_string(),
            InterpError::SecretEnv(n) => format!(
                "secrets belong in data source configuration (assay.yml), which contracts cannot \
                 read back; if '{n}' holds nothing secret, declare it in assay.yml: \
                 `public_env: [{n}]`"
            ),
            InterpError::Unsafe(..) => {
                "outside quotes a value from --set or the environment must be one number, one \
                 word or one quoted string; to pass text, quote the placeholder in the SQL: \
                 '${var.NAME}'"
                    .to_string()
            }
        }
    }
}

/// Replace every placeholder in `text`. Text without `${` is returned unchanged.
pub fn interpolate(text: &str, vars: Option<&Vars>) -> Result<String, InterpError> {
    substitute(text, |p| Ok(resolve(p, vars)?.0))
}

/// `${...}` at the start of `text`, and the text after it.
fn split_placeholder(text: &str) -> Result<(&str, &str), InterpError> {
    match text.find('}') {
        Some(end) => Ok((&text[..=end], &text[end + 1..])),
        None => Err(InterpError::Malformed(text.to_string())),
    }
}

/// The value of one `${...}` placeholder and where it came from.
fn resolve(placeholder: &str, vars: Option<&Vars>) -> Result<(String, Origin), InterpError> {
    resolve_in(placeholder, vars, &mut Vec::new())
}

/// The name in `${var.NAME}`.
fn var_name(placeholder: &str) -> Option<&str> {
    placeholder
        .strip_prefix("${")?
        .strip_suffix('}')?
        .trim()
        .strip_prefix("var.")
}

/// `resolve`, with the defaults being resolved (to find cycles).
fn resolve_in(
    placeholder: &str,
    vars: Option<&Vars>,
    resolving: &mut Vec<String>,
) -> Result<(String, Origin), InterpError> {
    let inner = placeholder
        .strip_prefix("${")
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(placeholder)
        .trim();
    match inner.split_once('.') {
        Some(("var", name)) if valid_name(name) => {
            let (value, origin) = vars
                .and_then(|v| v.lookup(name))
                .ok_or_else(|| InterpError::MissingVar(name.to_string()))?;
            if origin != Origin::Default || !value.contains("${") {
                return Ok((value, origin));
            }
            if let Some(first) = resolving.iter().position(|n| n == name) {
                let mut chain = resolving[first..].to_vec();
                chain.push(name.to_string());
                return Err(InterpError::Cycle(chain));
            }
            resolving.push(name.to_string());
            let value = substitute(&value, |p| Ok(resolve_in(p, vars, resolving)?.0));
            resolving.pop();
            Ok((value?, Origin::Default))
        }
        Some(("soda", "NOW")) => vars
            .map(|v| (v.now.clone(), Origin::Now))
            .ok_or_else(|| InterpError::MissingVar("NOW".to_string())),
        Some(("soda", name)) if valid_name(name) => Err(InterpError::UnknownSoda(name.to_string())),
        Some(("env", name)) if valid_name(name) => {
            let value =
                std::env::var(name).map_err(|_| InterpError::MissingEnv(name.to_string()))?;
            if vars.is_some_and(|v| v.untrusted) && !crate::secrets::is_public_env(name) {
                return Err(InterpError::SecretEnv(name.to_string()));
            }
            crate::secrets::env_value(name, &value);
            Ok((value, Origin::Env))
        }
        _ => Err(InterpError::Malformed(placeholder.to_string())),
    }
}

/// Interpolate SQL so that every value stays what it is, by where the engine's lexer finds
/// its placeholder:
/// - inside a quoted string or name, the value is escaped for that quote and cannot leave it;
/// - in a comment, the placeholder is dropped (the comment is removed before running anyway);
/// - in code, a value the contract wrote (a `variables` default, `NOW`) goes in as SQL, to be
///   validated with the rest; a value from `--set` or the environment must be one number,
///   one word or one complete quoted string, so it can never add syntax of its own.
pub fn interpolate_sql(
    text: &str,
    vars: Option<&Vars>,
    lex: &Lexicon,
) -> Result<String, InterpError> {
    if !text.contains("${") {
        return Ok(text.to_string());
    }
    // text that does not even lex gets no values: a value could complete it (close an
    // unterminated string) and so add syntax of its own
    let tokens = lexer::tokenize(lex, text, true).map_err(|e| InterpError::Sql(e.message))?;
    let mut out = String::with_capacity(text.len());
    for t in &tokens {
        let piece = &text[t.start..t.end];
        match &t.kind {
            TokenKind::Placeholder => {
                let (value, origin) = resolve(piece, vars)?;
                let template = var_name(piece)
                    .and_then(|n| vars?.lookup(n))
                    .filter(|(v, o)| *o == Origin::Default && v.contains("${"));
                if let Some((template, _)) = template {
                    // a default with placeholders of its own is contract text: its values go
                    // in by the same rules (resolving it above found no cycle)
                    out.push_str(&interpolate_sql(&template, vars, lex)?);
                    continue;
                }
                if matches!(origin, Origin::Set | Origin::Env) && !single_token(lex, &value) {
                    return Err(InterpError::Unsafe(
                        piece.to_string(),
                        "is used outside quotes in SQL, but is not one number, word or quoted string".into(),
                    ));
                }
                out.push_str(&value);
            }
            _ if !piece.contains("${") => out.push_str(piece),
            TokenKind::Comment { .. } => {
                out.push_str(&substitute(piece, |_| Ok(String::new()))?);
            }
            TokenKind::Str { quote, backslashes } => {
                if *backslashes && escaped_placeholder(piece) {
                    return Err(InterpError::Unsafe(
                        piece.to_string(),
                        "follows a backslash inside a string, which would escape the value's first character".into(),
                    ));
                }
                let escape = |p: &str| {
                    let value = resolve(p, vars)?.0;
                    match quote {
                        Quote::Dollar if value.contains('$') => Err(InterpError::Unsafe(
                            p.to_string(),
                            "contains '$' and is used in a dollar-quoted string".into(),
                        )),
                        Quote::Dollar => Ok(value),
                        Quote::Single | Quote::Double => {
                            let q = if *quote == Quote::Single { '\'' } else { '"' };
                            let value = if *backslashes {
                                value.replace('\\', "\\\\")
                            } else {
                                value
                            };
                            Ok(value.replace(q, &format!("{q}{q}")))
                        }
                    }
                };
                out.push_str(&substitute(piece, escape)?);
            }
            TokenKind::Word { quoted: true, .. } => {
                let q = piece.chars().next().unwrap_or('"');
                out.push_str(&substitute(piece, |p| {
                    Ok(resolve(p, vars)?.0.replace(q, &format!("{q}{q}")))
                })?);
            }
            // the lexer ends words and numbers before `${`: nothing else can hold one
            _ => {
                return Err(InterpError::Unsafe(
                    piece.to_string(),
                    "is in a place of the SQL where no value may go".into(),
                ))
            }
        }
    }
    Ok(out)
}

/// Is a `${` in this string literal preceded by an odd run of backslashes (so the engine
/// would read the value's first character as escaped)?
fn escaped_placeholder(literal: &str) -> bool {
    let bytes = literal.as_bytes();
    literal
        .match_indices("${")
        .any(|(i, _)| bytes[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1)
}

/// Replace each placeholder in `text` with what `value` makes of it. Text without `${` is
/// returned unchanged.
fn substitute(
    text: &str,
    mut value: impl FnMut(&str) -> Result<String, InterpError>,
) -> Result<String, InterpError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let (placeholder, after) = split_placeholder(&rest[start..])?;
        out.push_str(&value(placeholder)?);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// One number (optionally negative), one unquoted word, or one complete string literal.
fn single_token(lex: &Lexicon, value: &str) -> bool {
    let Ok(tokens) = lexer::tokenize(lex, value, false) else {
        return false;
    };
    let kinds: Vec<&TokenKind> = tokens.iter().map(|t| &t.kind).collect();
    match kinds.as_slice() {
        [TokenKind::Number] | [TokenKind::Word { quoted: false, .. }] => true,
        [TokenKind::Punct('-'), TokenKind::Number] => true,
        [TokenKind::Str { quote, .. }] => *quote != Quote::Dollar,
        _ => false,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_reads_only_public_environment_variables() {
        std::env::set_var("ASSAY_INTERP_T_SECRET", "hidden-value");
        std::env::set_var("ASSAY_INTERP_T_PUBLIC", "shown-value");
        crate::secrets::declare_public_env("ASSAY_INTERP_T_PUBLIC");
        let untrusted = Vars {
            untrusted: true,
            ..Default::default()
        };
        assert_eq!(
            interpolate("a ${env.ASSAY_INTERP_T_SECRET}", Some(&untrusted)),
            Err(InterpError::SecretEnv("ASSAY_INTERP_T_SECRET".into()))
        );
        assert_eq!(
            interpolate("a ${env.ASSAY_INTERP_T_PUBLIC}", Some(&untrusted)),
            Ok("a shown-value".into())
        );
        // through a default, and in SQL, alike
        let mut via = untrusted.clone();
        via.defaults
            .insert("V".into(), "${env.ASSAY_INTERP_T_SECRET}".into());
        assert!(matches!(
            interpolate("${var.V}", Some(&via)),
            Err(InterpError::SecretEnv(_))
        ));
        assert!(matches!(
            interpolate_sql(
                "x = '${env.ASSAY_INTERP_T_SECRET}'",
                Some(&untrusted),
                &Lexicon::POSTGRES
            ),
            Err(InterpError::SecretEnv(_))
        ));
        // configuration may read secrets
        let trusted = Vars::default();
        assert_eq!(
            interpolate("${env.ASSAY_INTERP_T_SECRET}", Some(&trusted)),
            Ok("hidden-value".into())
        );
        assert!(InterpError::SecretEnv("X".into())
            .help()
            .contains("public_env"));
    }

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

    #[test]
    fn defaults_refer_to_variables_and_cycles_are_named() {
        let mut vars = Vars {
            now: "2025-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        vars.defaults
            .insert("END".into(), "${var.START} + 1".into());
        vars.defaults.insert("START".into(), "${soda.NOW}".into());
        assert_eq!(vars.var("END").unwrap(), "2025-01-01T00:00:00Z + 1");
        vars.set.insert("START".into(), "7".into());
        assert_eq!(interpolate("${var.END}", Some(&vars)).unwrap(), "7 + 1");
        vars.defaults.insert("A".into(), "${var.B}".into());
        vars.defaults.insert("B".into(), "-${var.C}".into());
        vars.defaults.insert("C".into(), "${var.A}".into());
        assert_eq!(
            interpolate("${var.A}", Some(&vars)),
            Err(InterpError::Cycle(vec![
                "A".into(),
                "B".into(),
                "C".into(),
                "A".into()
            ]))
        );
        assert_eq!(vars.var("A"), None);
        assert_eq!(
            interpolate("${soda.TODAY}", Some(&vars)),
            Err(InterpError::UnknownSoda("TODAY".into()))
        );
        assert_eq!(
            interpolate("${soda.NOW}", Some(&vars)).unwrap(),
            "2025-01-01T00:00:00Z"
        );
    }

    #[test]
    fn a_set_value_inside_a_default_keeps_the_rules_of_set_values() {
        let mut vars = Vars::default();
        vars.defaults.insert("D".into(), "${var.S} + 1".into());
        vars.defaults.insert("Q".into(), "'${var.S}'".into());
        let pg = Lexicon::POSTGRES;
        vars.set.insert("S".into(), "5".into());
        assert_eq!(
            interpolate_sql("a > ${var.D}", Some(&vars), &pg).unwrap(),
            "a > 5 + 1"
        );
        // in code, a --set value reached through a default must still be one token
        vars.set.insert("S".into(), "1; DROP TABLE t".into());
        assert!(matches!(
            interpolate_sql("a > ${var.D}", Some(&vars), &pg),
            Err(InterpError::Unsafe(..))
        ));
        // quoted inside the default, it is escaped for that quote
        vars.set.insert("S".into(), "x' OR '1'='1".into());
        assert_eq!(
            interpolate_sql("a = ${var.Q}", Some(&vars), &pg).unwrap(),
            "a = 'x'' OR ''1''=''1'"
        );
        // inside the SQL's own string, the whole default is escaped as one value
        assert_eq!(
            interpolate_sql("a = '${var.D}'", Some(&vars), &pg).unwrap(),
            "a = 'x'' OR ''1''=''1 + 1'"
        );
    }

    #[test]
    fn sql_values_stay_what_they_are() {
        let mut vars = Vars::default();
        vars.set.insert("S".into(), r"x\' OR '1'='1".into());
        vars.set.insert("N".into(), "1; DROP TABLE t".into());
        vars.set.insert("OK".into(), "-5".into());
        vars.defaults.insert("D".into(), "1 + 1".into());
        let pg = Lexicon::POSTGRES;
        let my = Lexicon::MYSQL;
        assert_eq!(
            interpolate_sql("a = '${var.S}'", Some(&vars), &pg).unwrap(),
            r"a = 'x\'' OR ''1''=''1'"
        );
        assert_eq!(
            interpolate_sql("a = '${var.S}'", Some(&vars), &my).unwrap(),
            r"a = 'x\\'' OR ''1''=''1'"
        );
        assert_eq!(
            interpolate_sql("\"${var.S}\" IS NULL", Some(&vars), &pg).unwrap(),
            r#""x\' OR '1'='1" IS NULL"#
        );
        assert!(matches!(
            interpolate_sql("a > ${var.N}", Some(&vars), &pg),
            Err(InterpError::Unsafe(..))
        ));
        assert_eq!(
            interpolate_sql("a > ${var.OK}", Some(&vars), &pg).unwrap(),
            "a > -5"
        );
        // the contract's own default is contract text
        assert_eq!(
            interpolate_sql("a > ${var.D}", Some(&vars), &pg).unwrap(),
            "a > 1 + 1"
        );
        // in a comment, nothing is filled in
        assert_eq!(
            interpolate_sql("a > 1 /* ${var.N} */", Some(&vars), &pg).unwrap(),
            "a > 1 /*  */"
        );
        // unlexable templates and escaped placeholders get no value
        assert!(matches!(
            interpolate_sql("a = '${var.S}", Some(&vars), &pg),
            Err(InterpError::Sql(_))
        ));
        assert!(matches!(
            interpolate_sql(r"a = '\${var.S}'", Some(&vars), &my),
            Err(InterpError::Unsafe(..))
        ));
        assert!(matches!(
            interpolate_sql(
                "a = $$${var.X}$$",
                Some(&Vars {
                    set: [("X".to_string(), "$$; DROP".to_string())].into(),
                    ..Default::default()
                }),
                &pg
            ),
            Err(InterpError::Unsafe(..))
        ));
    }
}
